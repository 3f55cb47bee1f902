// What went wrong below HTTP on a client connection, in words (httplib's own names are single
// words such as "Connection"). For the command line's server client and the OTLP exporter.
#pragma once

#include <string>

#include <httplib.h>

namespace rf::server {

std::string transport_failure(httplib::Error e);

}  // namespace rf::server
