#include "hub/hub_client.h"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

#include <unistd.h>

#include <curl/curl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hub/sha256.h"

namespace rf::hub {
namespace {

namespace fs = std::filesystem;

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool is_sha256_hex(const std::string& s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

std::string trim_end(std::string s) {
    if (s.size() > 200) s = s.substr(0, 200) + "...";
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
}

// One request's state: the easy handle, its headers, and what the callbacks saw.
struct Transfer {
    std::unique_ptr<CURL, void (*)(CURL*)> curl{curl_easy_init(), &curl_easy_cleanup};
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers{nullptr, &curl_slist_free_all};
    char error[CURL_ERROR_SIZE] = {};
    std::string linked_etag;  // X-Linked-Etag of the hub's answer (before the redirect)
    std::string error_body;   // the body of an HTTP error, for the message

    void add_header(const std::string& h) { headers.reset(curl_slist_append(headers.release(), h.c_str())); }
    long status() const {
        long code = 0;
        curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
        return code;
    }
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string line(data, size * count);
    const size_t colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == "x-linked-etag") {
        std::string value = line.substr(colon + 1);
        std::string hex;
        for (char c : value)
            if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        t->linked_etag = hex;
    }
    return size * count;
}

void setup(Transfer& t, const HubOptions& options, const std::string& url) {
    CURL* c = t.curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t.error);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a connection silent for a minute counts as dropped
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "rocmforge/0.1");
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    // libcurl does not pass this header on to another host after a redirect (the hub's CDN).
    if (!options.token.empty()) t.add_header("Authorization: Bearer " + options.token);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, t.headers.get());
}

std::string http_error(const HubOptions& options, const std::string& what, long status, const std::string& body) {
    std::string why;
    if (status == 401 || status == 403)
        why = options.token.empty() ? "the repository is gated or private (or does not exist): set HF_TOKEN or pass --token"
                                    : "the token was refused or has no access to this repository";
    else if (status == 404)
        why = fmt::format("not found (check the repository, file and revision '{}')", options.revision);
    else if (status == 416)
        why = "the server refused to resume the partial download";
    else
        why = body.empty() ? "unexpected answer" : trim_end(body);
    return fmt::format("{}: HTTP {}: {}", what, status, why);
}

std::string curl_failure(CURLcode code, const Transfer& t) {
    return t.error[0] ? std::string(t.error) : std::string(curl_easy_strerror(code));
}

// A path inside the repo, each segment percent-encoded ("sub dir/a+b.gguf" -> "sub%20dir/a%2Bb.gguf").
std::string url_path(CURL* curl, const std::string& path) {
    std::string out;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        char* escaped = curl_easy_escape(curl, path.data() + start, static_cast<int>(end - start));
        if (escaped) out += escaped;
        curl_free(escaped);
        if (end < path.size()) out += '/';
        start = end + 1;
    }
    return out;
}

size_t collect(char* data, size_t size, size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

// Where the downloaded bytes go: appended to the .part file, or into the error text when the
// answer is an HTTP error. A server that ignores the Range request (200) starts the file over.
struct Sink {
    Transfer* transfer = nullptr;
    FILE* file = nullptr;
    int64_t offset = 0;       // bytes in the .part file before this attempt
    int64_t written = 0;      // bytes this attempt added
    bool decided = false;
    std::string write_error;  // errno text of a failed write (disk full)
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* s = static_cast<Sink*>(user);
    const size_t n = size * count;
    const long status = s->transfer->status();
    if (status >= 400) {
        if (s->transfer->error_body.size() < 4096) s->transfer->error_body.append(data, n);
        return n;
    }
    if (!s->decided) {
        s->decided = true;
        if (status == 200 && s->offset > 0) {  // not resumed: start again from byte 0
            if (std::fflush(s->file) != 0 || ftruncate(fileno(s->file), 0) != 0 || std::fseek(s->file, 0, SEEK_SET) != 0) {
                s->write_error = std::strerror(errno);
                return 0;
            }
            s->offset = 0;
        }
    }
    if (std::fwrite(data, 1, n, s->file) != n) {
        s->write_error = std::strerror(errno);
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    s->written += static_cast<int64_t>(n);
    return n;
}

struct Progress {
    std::string name;
    int64_t offset = 0, total = -1;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last{};
};

std::string bytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) b /= 1024, ++u;
    return fmt::format("{:.1f} {}", b, units[u]);
}

void draw_progress(const Progress& p, int64_t done, int64_t total, int64_t this_run) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.start).count();
    const std::string speed = secs > 0 ? bytes(static_cast<double>(this_run) / secs) + "/s" : "";
    if (total > 0) {
        const int width = 30;
        const int filled = static_cast<int>(width * std::min<double>(1.0, static_cast<double>(done) / static_cast<double>(total)));
        fmt::print(stderr, "\r{} [{}{}] {:3d}% {} / {} {}   ", p.name, std::string(filled, '#'), std::string(width - filled, ' '),
                   static_cast<int>(100 * done / total), bytes(static_cast<double>(done)), bytes(static_cast<double>(total)), speed);
    } else {
        fmt::print(stderr, "\r{} {} {}   ", p.name, bytes(static_cast<double>(done)), speed);
    }
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
    auto* p = static_cast<Progress*>(user);
    const auto now = std::chrono::steady_clock::now();
    if (now - p->last < std::chrono::milliseconds(200)) return 0;  // redraw five times a second at most
    p->last = now;
    const int64_t total = p->total > 0 ? p->total : (dltotal > 0 ? p->offset + dltotal : -1);
    draw_progress(*p, p->offset + dlnow, total, dlnow);
    return 0;
}

bool retryable(CURLcode code) {
    return code == CURLE_PARTIAL_FILE || code == CURLE_RECV_ERROR || code == CURLE_OPERATION_TIMEDOUT ||
           code == CURLE_GOT_NOTHING || code == CURLE_SEND_ERROR || code == CURLE_HTTP2_STREAM;
}

int64_t file_size_or_zero(const std::string& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    return ec ? 0 : static_cast<int64_t>(size);
}

// One attempt: appends what the server sends from the .part file's current end.
Status attempt(const HubOptions& options, const std::string& url, const std::string& part, const HubFile& file,
               std::string& linked_etag, bool& dropped) {
    dropped = false;
    std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(part.c_str(), "ab"), &std::fclose);
    if (!out) return make_error("{}: {}", part, std::strerror(errno));
    Transfer t;
    if (!t.curl) return make_error("libcurl could not start a transfer");
    setup(t, options, url);
    Sink sink;
    sink.transfer = &t;
    sink.file = out.get();
    sink.offset = file_size_or_zero(part);
    CURL* c = t.curl.get();
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    // A plain Range header rather than CURLOPT_RESUME_FROM, which fails on a server that answers
    // with the whole file: on_body starts the .part over then.
    const std::string range = fmt::format("{}-", sink.offset);
    if (sink.offset > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
    Progress progress{fs::path(file.path).filename().string(), sink.offset, file.size};
    if (options.progress) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &progress);
    }
    const CURLcode code = curl_easy_perform(c);
    if (options.progress) {  // the last state, however fast the transfer was
        const int64_t done = sink.offset + sink.written;
        draw_progress(progress, done, file.size > 0 ? file.size : done, sink.written);
        fmt::print(stderr, "\n");
    }
    if (!t.linked_etag.empty()) linked_etag = t.linked_etag;
    const int closed = std::fclose(out.release());
    if (!sink.write_error.empty()) return make_error("writing {}: {}", part, sink.write_error);
    if (closed != 0) return make_error("writing {}: {}", part, std::strerror(errno));
    const long status = t.status();
    if (code == CURLE_OK && status == 416 && sink.offset > 0) return ok_status();  // the .part was already complete
    if (code == CURLE_OK && status >= 400) return make_error("{}", http_error(options, url, status, t.error_body));
    if (code != CURLE_OK) {
        dropped = retryable(code);
        return make_error("downloading {}: {} ({} bytes of {} so far, kept in {})", url, curl_failure(code, t),
                          file_size_or_zero(part), file.size >= 0 ? std::to_string(file.size) : std::string("?"), part);
    }
    return ok_status();
}

}  // namespace

HubOptions hub_options_from_env(HubOptions given, bool endpoint_given, bool token_given) {
    if (!endpoint_given)
        if (const char* e = std::getenv("HF_ENDPOINT"); e && *e) given.endpoint = e;
    if (!token_given)
        if (const char* t = std::getenv("HF_TOKEN"); t && *t) given.token = t;
    while (!given.endpoint.empty() && given.endpoint.back() == '/') given.endpoint.pop_back();
    return given;
}

Result<std::vector<HubFile>> list_repo_files(const HubOptions& options, const std::string& repo) {
    init_curl_once();
    Transfer t;
    if (!t.curl) return make_error("libcurl could not start a transfer");
    const std::string url = fmt::format("{}/api/models/{}/tree/{}?recursive=true", options.endpoint, repo,
                                        url_path(t.curl.get(), options.revision));
    setup(t, options, url);
    std::string body;
    curl_easy_setopt(t.curl.get(), CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(t.curl.get(), CURLOPT_WRITEDATA, &body);
    const CURLcode code = curl_easy_perform(t.curl.get());
    if (code != CURLE_OK) return make_error("listing {}: {} ({})", repo, curl_failure(code, t), url);
    if (const long status = t.status(); status >= 400)
        return make_error("listing {}: {}", repo, http_error(options, url, status, body));
    const nlohmann::json list = nlohmann::json::parse(body, nullptr, false);
    if (!list.is_array()) return make_error("listing {}: {} did not answer with a JSON file list", repo, url);
    std::vector<HubFile> files;
    for (const auto& entry : list) {
        if (!entry.is_object() || entry.value("type", "") != "file" || !entry.contains("path") || !entry["path"].is_string()) continue;
        HubFile f;
        f.path = entry["path"].get<std::string>();
        if (entry.contains("size") && entry["size"].is_number_integer()) f.size = entry["size"].get<int64_t>();
        if (entry.contains("lfs") && entry["lfs"].is_object()) {
            const auto& lfs = entry["lfs"];
            for (const char* key : {"oid", "sha256"})
                if (lfs.contains(key) && lfs[key].is_string() && is_sha256_hex(lfs[key].get<std::string>()))
                    f.sha256 = lower(lfs[key].get<std::string>());
            if (lfs.contains("size") && lfs["size"].is_number_integer()) f.size = lfs["size"].get<int64_t>();
        }
        files.push_back(std::move(f));
    }
    return files;
}

Status download_file(const HubOptions& options, const std::string& repo, const HubFile& file, const std::string& dest,
                     HubNotice notice) {
    init_curl_once();
    std::string url;
    {
        Transfer t;
        if (!t.curl) return make_error("libcurl could not start a transfer");
        url = fmt::format("{}/{}/resolve/{}/{}", options.endpoint, repo, url_path(t.curl.get(), options.revision),
                          url_path(t.curl.get(), file.path));
    }
    const std::string part = dest + ".part";
    std::error_code ec;
    fs::create_directories(fs::path(dest).parent_path(), ec);
    if (ec) return make_error("creating {}: {}", fs::path(dest).parent_path().string(), ec.message());
    if (file.size >= 0 && file_size_or_zero(part) > file.size) fs::remove(part, ec);  // not this file: start over
    std::string linked_etag;
    for (int tries = 0;; ++tries) {
        const int64_t have = file_size_or_zero(part);
        if (file.size >= 0 && have == file.size) break;  // a complete .part from an earlier run: only check it
        if (have > 0) notice(fmt::format("resuming {} at byte {}", file.path, have));
        bool dropped = false;
        Status done = attempt(options, url, part, file, linked_etag, dropped);
        if (done.ok()) break;
        if (!dropped || tries >= options.retries)
            return make_error("{}{}", done.error().message,
                              dropped ? "; run the same command again to resume" : "");
        notice(fmt::format("connection lost ({}); retrying", done.error().message));
    }
    const int64_t got = file_size_or_zero(part);
    if (file.size >= 0 && got != file.size)
        return make_error("{}: got {} bytes, the hub lists {}; the partial file {} is kept, run again to resume", file.path,
                          got, file.size, part);
    const std::string expected = !file.sha256.empty() ? file.sha256 : (is_sha256_hex(linked_etag) ? linked_etag : "");
    if (expected.empty()) {
        notice(fmt::format("the hub publishes no SHA-256 for {}: not verified", file.path));
    } else {
        RF_ASSIGN_OR_RETURN(std::string actual, sha256_file(part));
        if (actual != expected) {
            fs::remove(part, ec);
            return make_error("{}: SHA-256 mismatch (expected {}, got {}): the download is corrupt and was deleted", file.path,
                              expected, actual);
        }
        notice(fmt::format("SHA-256 verified: {}", expected));
    }
    fs::rename(part, dest, ec);
    if (ec) return make_error("moving {} to {}: {}", part, dest, ec.message());
    return ok_status();
}

}  // namespace rf::hub
