// A Hugging Face-style hub over HTTP(S) with libcurl: a repository's file list
// (GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true) and one file's download
// (GET {endpoint}/{repo}/resolve/{revision}/{file}, redirects followed), resumed from a .part file
// with a Range request and checked against the SHA-256 the hub publishes for LFS files.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "hub/model_ref.h"

namespace rf::hub {

struct HubOptions {
    std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT / --endpoint (mirrors)
    std::string token;                                 // HF_TOKEN / --token: sent as Authorization: Bearer
    std::string revision = "main";                     // branch, tag or commit
    bool progress = false;                             // a progress bar on stderr (a terminal only)
    int retries = 3;                                   // resumed attempts after a dropped connection
};

// The options with endpoint and token taken from HF_ENDPOINT and HF_TOKEN (the values given win).
HubOptions hub_options_from_env(HubOptions given = {}, bool endpoint_given = false, bool token_given = false);

Result<std::vector<HubFile>> list_repo_files(const HubOptions& options, const std::string& repo);

// Downloads `file` of `repo` to `dest` through `dest`.part: a partial .part left by an interrupted
// run is resumed. The file appears at `dest` only once complete and, when the hub published a
// SHA-256 (the list's lfs.oid, else the X-Linked-Etag header), matching it; on a mismatch the
// download is deleted and the error says so. `notice` gets one-line messages (retries, checks).
using HubNotice = std::function<void(const std::string& text)>;
Status download_file(const HubOptions& options, const std::string& repo, const HubFile& file, const std::string& dest,
                     HubNotice notice);

}  // namespace rf::hub
