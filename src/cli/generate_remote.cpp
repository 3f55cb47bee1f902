// generate --host: the prompt goes to a running server as a streamed completion, and the text is
// printed as its server-sent events arrive.
#include "cli/generate_remote.h"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace rf::cli {

namespace {

// The completion request for the server: the prompt and every sampling option.
nlohmann::json remote_request(const std::string& prompt, int64_t n_predict, const SamplingOptions& o,
                              const engine::SamplerParams& p) {
    nlohmann::json bias = nlohmann::json::object();
    for (const auto& [id, value] : p.logit_bias) bias[std::to_string(id)] = std::isinf(value) ? -100.0f : value;
    nlohmann::json body{{"prompt", prompt},          {"max_tokens", n_predict},
                        {"stream", true},            {"temperature", p.temperature},
                        {"top_k", p.top_k},          {"top_p", p.top_p},
                        {"min_p", p.min_p},          {"typical_p", p.typical_p},
                        {"repetition_penalty", p.repeat_penalty},
                        {"frequency_penalty", p.frequency_penalty},
                        {"presence_penalty", p.presence_penalty},
                        {"seed", p.seed},            {"logit_bias", bias},
                        {"ignore_eos", o.ignore_eos},
                        {"stream_options", {{"include_usage", true}}}};
    if (!o.stop.empty()) body["stop"] = o.stop;
    return body;
}

}  // namespace

int generate_remote(const ServerAddress& address, const std::string& prompt, int64_t n_predict,
                    const SamplingOptions& sampling, const engine::SamplerParams& params) {
    auto client = connect(address);
    if (!client) {
        fmt::print(stderr, "error: {}\n", client.error().message);
        return kExitUsage;
    }
    int status = 0;
    std::string pending, error_body, finish, request_id;
    nlohmann::json usage;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = remote_request(prompt, n_predict, sampling, params).dump();
    req.set_header("Content-Type", "application/json");
    req.response_handler = [&](const httplib::Response& res) {
        status = res.status;
        request_id = res.get_header_value("X-Request-Id");
        return true;
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        if (status != 200) {
            error_body.append(data, n);
            return true;
        }
        pending.append(data, n);
        for (size_t end; (end = pending.find("\n\n")) != std::string::npos; pending.erase(0, end + 2)) {
            const std::string event = pending.substr(0, end);
            if (!event.starts_with("data: ") || event == "data: [DONE]") continue;
            auto j = nlohmann::json::parse(event.substr(6), nullptr, false);
            if (!j.is_object()) continue;
            if (j.contains("error")) error_body = j.dump();
            if (j.contains("usage") && j["usage"].is_object()) usage = j["usage"];
            if (!j.contains("choices") || j["choices"].empty()) continue;
            const auto& choice = j["choices"][0];
            const std::string text = choice.value("text", "");
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fflush(stdout);
            if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) finish = choice["finish_reason"];
        }
        return true;
    };
    fmt::print("{}", prompt);
    std::fflush(stdout);
    auto res = (*client)->send(req);
    if (!res || status != 200 || !error_body.empty()) {
        if (res) res->body = error_body;  // an error body went to the receiver, not the response
        fmt::print(stderr, "\nerror: {}\n", res && status == 200 ? error_body : describe_failure(res));
        return kExitError;
    }
    fmt::print(stderr, "\n\n{} prompt tokens, {} generated, finished by {} (request {})\n", usage.value("prompt_tokens", 0),
               usage.value("completion_tokens", 0), finish, request_id);
    return kExitOk;
}

}  // namespace rf::cli
