// End-to-end: the rocmforge binary's inspect, models, bench, devices and template commands.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/writer.h"
#include "run_command.h"
#include "support/shared_data.h"

namespace rf::test {
namespace {

namespace fs = std::filesystem;

fs::path scratch_dir(const std::string& name) {
    fs::path dir = fs::temp_directory_path() / ("rf_cli_test_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

void write_small_model(const fs::path& path) {
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::string("llama"));
    w.set("llama.block_count", gguf::Value::u32(1));
    ASSERT_TRUE(w.add_tensor("token_embd.weight", TensorType::F32, {4, 2}, std::vector<uint8_t>(32)).ok());
    ASSERT_TRUE(w.write_file(path.string()).ok());
}

TEST(CliInspect, ReadsEverySharedFile) {
    RF_REQUIRE_SHARED();
    int files = 0;
    for (const char* dir : {"models", "tokenizer", "quant"}) {
        for (const auto& entry : fs::directory_iterator(shared_path(dir))) {
            if (entry.path().extension() != ".gguf") continue;
            auto r = run_command(rocmforge("inspect --json " + entry.path().string()));
            ASSERT_EQ(r.exit_code, 0) << entry.path() << "\n" << r.output;
            auto j = nlohmann::json::parse(r.output);
            EXPECT_TRUE(j["valid"].get<bool>());
            EXPECT_EQ(j["tensors"].size(), j["types"].is_null() ? 0u : [&] {
                size_t n = 0;
                for (auto& [type, totals] : j["types"].items()) n += totals["tensors"].get<size_t>();
                return n;
            }());
            if (std::string(dir) != "quant") {
                EXPECT_FALSE(j["tokenizer"].is_null()) << entry.path();
            }
            ++files;
        }
    }
    EXPECT_GE(files, 18);
    auto text = run_command(rocmforge("inspect " + shared_path("models/llama-gqa-q4_k_m.gguf").string()));
    ASSERT_EQ(text.exit_code, 0);
    EXPECT_NE(text.output.find("architecture: llama"), std::string::npos) << text.output;
    EXPECT_NE(text.output.find("head_count_kv"), std::string::npos);
    EXPECT_NE(text.output.find("verdict:      valid GGUF"), std::string::npos);
}

TEST(CliInspect, TruncatedFileIsInvalidWithOffset) {
    fs::path dir = scratch_dir("truncated");
    write_small_model(dir / "good.gguf");
    auto size = fs::file_size(dir / "good.gguf");
    fs::copy_file(dir / "good.gguf", dir / "cut.gguf");
    fs::resize_file(dir / "cut.gguf", size - 20);
    auto good = run_command(rocmforge("inspect " + (dir / "good.gguf").string()));
    EXPECT_EQ(good.exit_code, 0) << good.output;
    auto cut = run_command(rocmforge("inspect " + (dir / "cut.gguf").string() + " 2>&1"));
    EXPECT_EQ(cut.exit_code, 1);
    EXPECT_NE(cut.output.find("cut.gguf"), std::string::npos) << cut.output;
    EXPECT_NE(cut.output.find("invalid GGUF"), std::string::npos) << cut.output;
    auto json = run_command(rocmforge("inspect --json " + (dir / "cut.gguf").string()));
    EXPECT_EQ(json.exit_code, 1);
    EXPECT_FALSE(nlohmann::json::parse(json.output)["valid"].get<bool>());
    auto missing = run_command(rocmforge("inspect " + (dir / "absent.gguf").string() + " 2>&1"));
    EXPECT_EQ(missing.exit_code, 1);
    auto usage = run_command(rocmforge("inspect 2>&1"));
    EXPECT_EQ(usage.exit_code, 2);
    fs::remove_all(dir);
}

TEST(CliModels, ListsGoodAndUnreadableFiles) {
    fs::path dir = scratch_dir("models");
    write_small_model(dir / "a.gguf");
    fs::create_directories(dir / "sub");
    std::ofstream(dir / "sub" / "broken.gguf") << "not a gguf file";
    auto r = run_command(rocmforge("models --dir " + dir.string()));
    EXPECT_EQ(r.exit_code, 1);  // an unreadable file makes the listing fail, but it is listed
    EXPECT_NE(r.output.find("a.gguf  llama  F32"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("broken.gguf  UNREADABLE: "), std::string::npos) << r.output;
    fs::remove(dir / "sub" / "broken.gguf");
    auto j = run_command(rocmforge("models --json --dir " + dir.string()));
    EXPECT_EQ(j.exit_code, 0) << j.output;
    auto list = nlohmann::json::parse(j.output);
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["architecture"], "llama");
    auto env = run_command("ROCMFORGE_MODELS_DIR=" + dir.string() + " " + rocmforge("models"));
    EXPECT_NE(env.output.find("a.gguf"), std::string::npos) << env.output;
    fs::remove_all(dir);
}

}  // namespace
}  // namespace rf::test

namespace rf::test {
namespace {

TEST(Synth, WritesEveryArchitectureInEveryQuantizableType) {
    fs::path dir = scratch_dir("synth");
    const char* archs[] = {"llama", "qwen2", "qwen3", "phi3", "gemma2"};
    const char* types[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K",
                           "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "MXFP4"};
    for (size_t i = 0; i < std::size(types); ++i) {
        const char* arch = archs[i % std::size(archs)];
        fs::path out = dir / (std::string(arch) + "-" + types[i] + ".gguf");
        auto made = run_command(fmt::format("{} --arch {} --layers 1 --embd 256 --ff 512 --vocab 300 --type {} --out {} 2>&1",
                                            ROCMFORGE_SYNTH_BIN, arch, types[i], out.string()));
        ASSERT_EQ(made.exit_code, 0) << made.output;
        auto j = run_command(rocmforge("inspect --json " + out.string()));
        ASSERT_EQ(j.exit_code, 0) << j.output;
        auto info = nlohmann::json::parse(j.output);
        EXPECT_EQ(info["architecture"], arch);
        EXPECT_TRUE(info["types"].contains(types[i])) << out;
        EXPECT_EQ(info["tokenizer"]["vocab_size"], 300);
    }
    auto moe = run_command(fmt::format("{} --arch llama --layers 1 --experts 4 --experts-used 2 --vocab 300 --type Q8_0 --out {}",
                                       ROCMFORGE_SYNTH_BIN, (dir / "moe.gguf").string()));
    ASSERT_EQ(moe.exit_code, 0) << moe.output;
    auto moe_info = nlohmann::json::parse(run_command(rocmforge("inspect --json " + (dir / "moe.gguf").string())).output);
    EXPECT_EQ(moe_info["hyperparameters"]["expert_count"], "4");
    auto bad = run_command(fmt::format("{} --arch nosuch --out {} 2>&1", ROCMFORGE_SYNTH_BIN, (dir / "x.gguf").string()));
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.output.find("unsupported architecture"), std::string::npos);
    fs::remove_all(dir);
}

}  // namespace
}  // namespace rf::test

namespace rf::test {
namespace {

// bench times each test at each depth (tokens already in the context), as llama-bench does.
// --parallel (llama-batched-bench's -npl): per sequence count, the prompts' and the generated
// tokens' aggregate rates; it needs a batch that holds one token of each sequence.
TEST(CliBench, ParallelSequencesAreTimedTogether) {
    fs::path dir = scratch_dir("bench-parallel");
    const fs::path model = dir / "m.gguf";
    auto made = run_command(fmt::format("{} --arch llama --layers 2 --embd 128 --ff 256 --heads 4 --kv-heads 2 --vocab 300 "
                                        "--type Q4_0 --out {} 2>&1", ROCMFORGE_SYNTH_BIN, model.string()));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    auto r = run_command(rocmforge("bench -m " + model.string() +
                                   " -p 12 -n 5 --parallel 1,3 -b 16 -r 2 -t 2 --device cpu -o json"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto results = nlohmann::json::parse(r.output);
    ASSERT_EQ(results.size(), 4u) << r.output;
    const char* tests[] = {"pp12 x1", "tg5 x1", "pp12 x3", "tg5 x3"};
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(results[i]["test"], tests[i]);
        EXPECT_EQ(results[i]["sequences"], i < 2 ? 1 : 3);
        EXPECT_EQ(results[i]["samples_ts"].size(), 2u);
        EXPECT_GT(results[i]["avg_ts"].get<double>(), 0.0);
    }
    auto with_depth = run_command(rocmforge("bench -m " + model.string() + " --parallel 2 -d 8 --device cpu 2>&1"));
    EXPECT_EQ(with_depth.exit_code, 2) << with_depth.output;
    auto small_batch = run_command(rocmforge("bench -m " + model.string() + " --parallel 8 -b 4 --device cpu 2>&1"));
    EXPECT_EQ(small_batch.exit_code, 2) << small_batch.output;
    EXPECT_NE(small_batch.output.find("-b"), std::string::npos) << small_batch.output;
}

TEST(CliBench, TimesEveryTestAtEveryDepth) {
    fs::path dir = scratch_dir("bench");
    const fs::path model = dir / "m.gguf";
    auto made = run_command(fmt::format("{} --arch llama --layers 2 --embd 128 --ff 256 --heads 4 --kv-heads 2 --vocab 300 "
                                        "--type Q4_0 --out {} 2>&1", ROCMFORGE_SYNTH_BIN, model.string()));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    auto r = run_command(
        rocmforge("bench -m " + model.string() + " -p 8 -n 4 -d 0,40 -r 2 -t 2 --device cpu -o json"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto results = nlohmann::json::parse(r.output);
    ASSERT_EQ(results.size(), 4u) << r.output;
    const char* tests[] = {"pp8", "tg4", "pp8 @ d40", "tg4 @ d40"};
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(results[i]["test"], tests[i]);
        EXPECT_EQ(results[i]["depth"], i < 2 ? 0 : 40);
        EXPECT_EQ(results[i]["samples_ts"].size(), 2u);
        EXPECT_GT(results[i]["avg_ts"].get<double>(), 0.0);
    }
    EXPECT_EQ(results[0]["backend"], "cpu");
    EXPECT_FALSE(results[0]["device"].get<std::string>().empty());
    auto md = run_command(rocmforge("bench -m " + model.string() + " -p 8 -n 0 -r 1 -t 2 --device cpu"));
    ASSERT_EQ(md.exit_code, 0) << md.output;
    EXPECT_EQ(md.output.rfind("backend cpu: ", 0), 0u) << md.output;
    EXPECT_NE(md.output.find("\nbuild: "), std::string::npos) << md.output;  // the commit, last
    EXPECT_NE(md.output.find("| pp8 |"), std::string::npos) << md.output;
    // CSV (a header, quoted text) and JSON lines give the same rows; comma lists as llama-bench takes.
    auto csv = run_command(rocmforge("bench -m " + model.string() + " -p 4,8 -n 0 -r 1 -t 2 --device cpu -o csv"));
    ASSERT_EQ(csv.exit_code, 0) << csv.output;
    EXPECT_EQ(csv.output.rfind("model,file,size_bytes,parameters,backend,device,gpu_layers,threads,test,tokens,depth,sequences,avg_ts,stddev_ts\n", 0),
              0u) << csv.output;
    EXPECT_NE(csv.output.find(",\"pp4\",4,0,"), std::string::npos) << csv.output;
    EXPECT_NE(csv.output.find(",\"cpu\",\""), std::string::npos) << csv.output;
    EXPECT_NE(csv.output.find("\",0,2,\"pp4\""), std::string::npos) << "no layer on a GPU: " << csv.output;
    EXPECT_NE(csv.output.find(",\"pp8\",8,0,"), std::string::npos) << csv.output;
    auto jsonl = run_command(rocmforge("bench -m " + model.string() + " -p 4,8 -n 0 -r 1 -t 2 --device cpu -o jsonl"));
    ASSERT_EQ(jsonl.exit_code, 0) << jsonl.output;
    std::istringstream lines(jsonl.output);
    std::string line;
    std::vector<std::string> names;
    while (std::getline(lines, line)) names.push_back(nlohmann::json::parse(line).at("test"));
    EXPECT_EQ(names, (std::vector<std::string>{"pp4", "pp8"}));
    auto bad = run_command(rocmforge("bench -m " + model.string() + " -d -5 2>&1"));
    EXPECT_NE(bad.exit_code, 0) << bad.output;
    // Several models, as llama-bench takes them (-m repeated or a comma list): one table, in order.
    const fs::path other = dir / "other.gguf";
    made = run_command(fmt::format("{} --arch qwen2 --layers 1 --embd 64 --ff 128 --heads 2 --kv-heads 1 --vocab 300 "
                                   "--type Q8_0 --out {} 2>&1", ROCMFORGE_SYNTH_BIN, other.string()));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    for (const std::string& models : {"-m " + model.string() + " -m " + other.string(), "-m " + model.string() + "," + other.string()}) {
        auto both = run_command(rocmforge("bench " + models + " -p 4 -n 0 -r 1 -t 2 --device cpu -o json"));
        ASSERT_EQ(both.exit_code, 0) << both.output;
        const auto rows = nlohmann::json::parse(both.output);
        ASSERT_EQ(rows.size(), 2u) << both.output;
        EXPECT_EQ(rows[0]["file"], model.string());
        EXPECT_EQ(rows[1]["file"], other.string());
        EXPECT_NE(rows[1]["model"].get<std::string>().find("qwen2"), std::string::npos) << both.output;
    }
    auto missing = run_command(rocmforge("bench -m " + model.string() + "," + (dir / "none.gguf").string() + " -p 4 -n 0 -r 1 --device cpu 2>&1"));
    EXPECT_EQ(missing.exit_code, 1) << missing.output;
    fs::remove_all(dir);
}

// `devices` exists in every build; one without CUDA, or a machine without a GPU, says so plainly
// and succeeds; a self-test needs a GPU.
// inspect --plan: on the CPU everything is one part; --gpu-layers with --device cpu is refused.
TEST(CliInspect, PlanShowsWhereEachPartRuns) {
    RF_REQUIRE_SHARED();
    const std::string model = shared_path("models/llama-gqa-q8_0.gguf").string();
    auto r = run_command(rocmforge("inspect --plan --device cpu --json " + model + " 2>&1"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["placement"], "cpu: embedding, layers 0-1, output");
    EXPECT_EQ(j["layers"].size(), 2u);
    EXPECT_EQ(j["layers"][1]["backend"], "cpu");
    auto text = run_command(rocmforge("inspect --plan --device cpu " + model + " 2>&1"));
    EXPECT_EQ(text.exit_code, 0) << text.output;
    EXPECT_NE(text.output.find("placement:  cpu: embedding, layers 0-1, output"), std::string::npos) << text.output;
    auto refused = run_command(rocmforge("inspect --plan --device cpu --gpu-layers 1 " + model + " 2>&1"));
    EXPECT_EQ(refused.exit_code, 1) << refused.output;
    EXPECT_NE(refused.output.find("asks for the GPU"), std::string::npos) << refused.output;
    auto bad = run_command(rocmforge("inspect --plan --gpu-layers many " + model + " 2>&1"));
    EXPECT_EQ(bad.exit_code, 2) << bad.output;
    EXPECT_NE(bad.output.find("number of layers or auto"), std::string::npos) << bad.output;
}

TEST(CliDevices, AnswersInEveryBuild) {
    auto r = run_command(rocmforge("devices 2>&1"));
#if defined(ROCMFORGE_HAVE_CUDA)
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("no GPU support"), std::string::npos) << r.output;
    if (r.output.rfind("no usable GPU (", 0) == 0) {  // no GPU or driver here: the runtime's reason
        EXPECT_EQ(run_command(rocmforge("devices --self-test 2>&1")).exit_code, 1);
    } else {
        EXPECT_NE(r.output.find("device(s)"), std::string::npos) << r.output;
    }
#else
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "no GPU support in this build\n");
#endif
}

// The template command prints the golden rendering byte for byte, and template errors exit 1.
TEST(CliTemplate, RendersGoldenCasesExactly) {
    RF_REQUIRE_SHARED();
    fs::path dir = scratch_dir("template");
    for (const char* name : {"Qwen-Qwen2.5-7B-Instruct", "meta-llama-Llama-3.1-8B-Instruct"}) {
        // ordered_json: key order is part of what tojson renders.
        auto golden = nlohmann::ordered_json::parse(std::ifstream(shared_path(std::string("chat-templates/") + name + ".golden.json")));
        for (const auto& c : golden["cases"]) {
            if (!c.contains("expected")) continue;
            fs::path messages = dir / "messages.json";
            std::ofstream(messages) << nlohmann::ordered_json{{"messages", c["context"]["messages"]}}.dump();
            std::string args = fmt::format("template --template {} --messages {} --bos '<s>' --eos '</s>' --now {}",
                                           shared_path(std::string("chat-templates/") + name + ".jinja").string(),
                                           messages.string(), golden["fixed_date"].get<std::string>());
            if (c["context"].value("add_generation_prompt", false)) args += " --add-generation-prompt";
            if (c["context"].contains("tools")) {
                std::ofstream(dir / "tools.json") << c["context"]["tools"].dump();
                args += " --tools " + (dir / "tools.json").string();
            }
            auto r = run_command(rocmforge(args));
            EXPECT_EQ(r.exit_code, 0) << name << " " << c["case"];
            EXPECT_EQ(r.output, c["expected"].get<std::string>()) << name << " " << c["case"];
        }
    }
    std::ofstream(dir / "bad.jinja") << "{{ raise_exception('no') }}";
    std::ofstream(dir / "m.json") << "[]";
    auto bad = run_command(rocmforge(fmt::format("template --template {} --messages {} 2>&1", (dir / "bad.jinja").string(),
                                                 (dir / "m.json").string())));
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.output.find("line 1"), std::string::npos) << bad.output;
    fs::remove_all(dir);
}

}  // namespace
}  // namespace rf::test
