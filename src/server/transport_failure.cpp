#include "server/transport_failure.h"

#include <fmt/format.h>

namespace rf::server {

std::string transport_failure(httplib::Error e) {
    switch (e) {
        case httplib::Error::Connection: return "could not connect (is the server running at that address?)";
        case httplib::Error::ConnectionTimeout: return "the connection attempt timed out";
        case httplib::Error::Read: return "the connection broke while reading the answer";
        case httplib::Error::Write: return "the connection broke while sending the request";
        case httplib::Error::BindIPAddress: return "could not bind the local address";
        case httplib::Error::ExceedRedirectCount: return "too many redirects";
        case httplib::Error::Canceled: return "the request was cancelled";
        case httplib::Error::SSLConnection: case httplib::Error::SSLLoadingCerts:
        case httplib::Error::SSLServerVerification:
            return "the TLS connection failed";
        case httplib::Error::Compression: return "the answer could not be decompressed";
        default: return fmt::format("transport error {}", static_cast<int>(e));
    }
}

}  // namespace rf::server
