// Reads the reference outputs stored next to each shared model (MODEL.golden.json).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace rf::test {

using TopList = std::vector<std::pair<int32_t, float>>;  // [token, logit], best first

struct GoldenCase {
    std::string prompt;
    std::vector<int32_t> tokens;
    std::vector<TopList> prompt_top5;
    std::vector<float> last_logits;
    std::vector<int32_t> greedy;
    std::vector<TopList> greedy_top5;
};

inline std::vector<TopList> read_tops(const nlohmann::json& j) {
    std::vector<TopList> out;
    for (const auto& position : j) {
        TopList list;
        for (const auto& pair : position) list.emplace_back(pair[0].get<int32_t>(), pair[1].get<float>());
        out.push_back(std::move(list));
    }
    return out;
}

inline std::vector<GoldenCase> read_golden(const std::filesystem::path& path) {
    std::ifstream in(path);
    const nlohmann::json j = nlohmann::json::parse(in);
    std::vector<GoldenCase> cases;
    for (const auto& c : j.at("cases")) {
        GoldenCase g;
        g.prompt = c.at("prompt").get<std::string>();
        g.tokens = c.at("tokens").get<std::vector<int32_t>>();
        g.prompt_top5 = read_tops(c.at("prompt_top5"));
        g.last_logits = c.at("last_logits").get<std::vector<float>>();
        g.greedy = c.at("greedy").get<std::vector<int32_t>>();
        g.greedy_top5 = read_tops(c.at("greedy_top5"));
        cases.push_back(std::move(g));
    }
    return cases;
}

inline float margin(const TopList& top) { return top.size() < 2 ? 1e9f : top[0].second - top[1].second; }

}  // namespace rf::test
