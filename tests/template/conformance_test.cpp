// Renders every real chat template in ../shared/chat-templates against the reference renderings
// (made by Hugging Face transformers) and requires byte-identical output, or an error where the
// reference failed.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/shared_data.h"
#include "template/chat.h"

namespace {

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// The references fixed the clock at 2026-11-25 12:00:00.
std::chrono::system_clock::time_point reference_now() {
    using namespace std::chrono;
    return sys_days{year{2026} / November / 25} + hours{12};
}

rf::tmpl::ChatInputs inputs_from(const nlohmann::ordered_json& context) {
    rf::tmpl::ChatInputs inputs;
    for (const auto& [key, value] : context.items()) {
        if (key == "messages") inputs.messages = value;
        else if (key == "tools") inputs.tools = value;
        else if (key == "add_generation_prompt") inputs.add_generation_prompt = value.get<bool>();
        else if (key == "bos_token") inputs.bos_token = value.get<std::string>();
        else if (key == "eos_token") inputs.eos_token = value.get<std::string>();
        else inputs.extra[key] = value;
    }
    inputs.clock = reference_now;
    return inputs;
}

TEST(ChatTemplateConformance, EveryTemplateMatchesTheReference) {
    RF_REQUIRE_SHARED();
    const auto dir = rf::test::shared_path("chat-templates");
    std::vector<std::filesystem::path> goldens;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 12 && name.ends_with(".golden.json")) goldens.push_back(entry.path());
    }
    std::sort(goldens.begin(), goldens.end());
    ASSERT_FALSE(goldens.empty()) << "no chat-template goldens in " << dir;

    int total = 0, passed = 0;
    for (const auto& golden_path : goldens) {
        auto golden = nlohmann::ordered_json::parse(read_file(golden_path));
        const std::string template_name = golden.at("template").get<std::string>();
        const std::string source = read_file(dir / template_name);
        int template_total = 0, template_passed = 0;
        for (const auto& test_case : golden.at("cases")) {
            ++template_total;
            const std::string case_name = test_case.at("case").get<std::string>();
            auto rendered = rf::tmpl::render_chat(source, inputs_from(test_case.at("context")));
            bool ok;
            if (test_case.contains("error")) {
                // The reference's message (e.g. a raise_exception text) must come through.
                const std::string reference_error = test_case["error"].get<std::string>();
                ok = !rendered.ok() && rendered.error().message.find(reference_error) != std::string::npos;
                if (rendered.ok()) {
                    ADD_FAILURE() << template_name << " / " << case_name << ": the reference failed with \""
                                  << reference_error << "\" but this rendered:\n" << *rendered;
                } else {
                    EXPECT_TRUE(ok) << template_name << " / " << case_name << ": expected an error containing \""
                                    << reference_error << "\", got: " << rendered.error().message;
                    if (ok) std::printf("  %s / %s fails as the reference did: %s\n", template_name.c_str(),
                                        case_name.c_str(), rendered.error().message.c_str());
                }
            } else {
                const std::string expected = test_case.at("expected").get<std::string>();
                ok = rendered.ok() && *rendered == expected;
                if (!rendered.ok()) {
                    ADD_FAILURE() << template_name << " / " << case_name << ": " << rendered.error().message;
                } else {
                    EXPECT_EQ(*rendered, expected) << template_name << " / " << case_name;
                }
            }
            template_passed += ok;
        }
        std::printf("%-60s %d/%d\n", template_name.c_str(), template_passed, template_total);
        total += template_total;
        passed += template_passed;
    }
    std::printf("chat templates: %d/%d cases pass\n", passed, total);
}

}  // namespace
