// A lost device under the real server (issue 17): the "device" is a CPU backend behind the fault
// injector, the fallback a plain CPU backend. The request in the failing step gets the error (a
// server_error body); while the model moves, /ready answers 503 (with the reason) and /health 200, and a
// request that comes meanwhile waits; after the move /ready is 200 again, that request and new
// ones complete with the outputs of a server that never failed, and /metrics tells the move.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#include "backend/instrumented_backend.h"
#include "engine/loaded_model.h"
#include "engine/scheduler.h"
#include "harness.h"
#include "model/synthetic_model.h"
#include "template/chat.h"
#include "../context/temp_dir.h"

namespace rf::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kCompletion = R"({"prompt":"hello there","max_tokens":6,"temperature":0})";

// A served synthetic model on `device`; `relocate` (if set) is the scheduler's hook.
struct Served {
    engine::LoadedModel m;
    std::unique_ptr<engine::Scheduler> scheduler;
    std::unique_ptr<test::ServerHarness> harness;
    Served(const std::string& path, Backend& device,
           std::function<Result<engine::EngineMove>(engine::LoadedModel&, const Error&)> relocate = {}) {
        auto loaded = engine::LoadedModel::load(path, device, {.n_ctx = 128, .n_batch = 64, .max_sequences = 2,
                                                               .block_size = 4});
        EXPECT_TRUE(loaded.ok()) << loaded.error().message;
        m = std::move(*loaded);
        engine::SchedulerOptions o{.max_running = 2, .step_token_budget = 64};
        if (relocate) o.relocate = [this, relocate](const Error& e) { return relocate(m, e); };
        auto s = engine::Scheduler::create(*m.engine, *m.tokenizer, o);
        EXPECT_TRUE(s.ok());
        scheduler = std::move(*s);
        harness = std::make_unique<test::ServerHarness>(
            *scheduler, ModelContext{.tokenizer = m.tokenizer.get(), .chat_template = tmpl::kDefaultChatTemplate,
                                     .n_ctx = 128});
    }
    httplib::Result complete() { return harness->client().Post("/v1/completions", kCompletion, "application/json"); }
};

std::string completion_text(const httplib::Result& r) {
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    const json j = test::parse_json(r->body);
    return j.contains("choices") ? j["choices"][0]["text"].get<std::string>() : std::string();
}

// A small synthetic model in a file (the move reloads the weights from the file).
bool write_synthetic_model(const std::string& path) {
    auto bytes = rf::test::SyntheticModel({.n_vocab = 300, .type = TensorType::Q8_0, .vocab = true}).build();
    if (!bytes.ok()) return false;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes->data()),
                                                static_cast<std::streamsize>(bytes->size()));
    return true;
}

TEST(DeviceFallback, LostDeviceMovesTheServerToTheCpu) {
    test::TempDir dir;
    const std::string path = dir.str("synthetic.gguf");
    ASSERT_TRUE(write_synthetic_model(path));
    cpu::CpuBackend plain(cpu::CpuBackendOptions{.threads = 2});
    std::string expected;
    {
        Served clean(path, plain);
        expected = completion_text(clean.complete());
        ASSERT_FALSE(expected.empty());
    }

    InstrumentedBackend device(std::make_unique<cpu::CpuBackend>(cpu::CpuBackendOptions{.threads = 2}));
    std::promise<void> moving, may_move;
    std::shared_future<void> allowed = may_move.get_future().share();
    Served s(path, device, [&](engine::LoadedModel& m, const Error&) {
        moving.set_value();
        allowed.wait();
        return m.move_to(plain);
    });
    ASSERT_EQ(completion_text(s.complete()), expected);  // the device works at first
    auto faults = FaultInjector::parse("op:1:sticky");
    ASSERT_TRUE(faults.ok());
    device.inject_faults(*faults);  // the server is idle: nothing calls the device now

    const auto failed = s.complete();  // its step meets the lost device
    ASSERT_TRUE(failed);  // the status line went out first: the error is in the body
    const json error = test::parse_json(failed->body);
    EXPECT_EQ(error["error"]["type"], "server_error") << failed->body;
    EXPECT_NE(failed->body.find("injected fault"), std::string::npos) << failed->body;
    moving.get_future().wait();
    auto client = s.harness->client();
    const auto ready = client.Get("/ready");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 503);
    EXPECT_EQ(test::parse_json(ready->body)["error"]["code"], "device_unavailable") << ready->body;
    EXPECT_NE(ready->body.find("being moved"), std::string::npos) << ready->body;
    EXPECT_EQ(client.Get("/health")->status, 200);
    EXPECT_NE(client.Get("/metrics")->body.find("rocmforge_device_available 0\n"), std::string::npos);
    // A request during the move waits for it, then runs on the CPU.
    auto waiting = std::async(std::launch::async, [&] { return completion_text(s.complete()); });
    EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout);
    may_move.set_value();
    EXPECT_EQ(waiting.get(), expected);

    EXPECT_EQ(client.Get("/ready")->status, 200);
    EXPECT_EQ(completion_text(s.complete()), expected);
    const std::string metrics = client.Get("/metrics")->body;
    EXPECT_NE(metrics.find("rocmforge_device_fallbacks_total 1\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("rocmforge_device_available 1\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("rocmforge_placement_layers{backend=\"cpu\"} 2\n"), std::string::npos) << metrics;
    const json models = test::parse_json(client.Get("/v1/models")->body);
    EXPECT_EQ(models["data"][0]["backend"], "cpu") << models;
    EXPECT_EQ(s.scheduler->stats().kv_blocks_used, 0);
    ASSERT_EQ(s.m.retired.size(), 1u);
}

// A host with almost no memory left.
class SmallHost : public InstrumentedBackend {
public:
    SmallHost() : InstrumentedBackend(std::make_unique<cpu::CpuBackend>(cpu::CpuBackendOptions{.threads = 1})) {}
    Result<MemoryInfo> memory() const override { return MemoryInfo{.free_bytes = 4096, .total_bytes = 1 << 20}; }
};

TEST(DeviceFallback, MovesThatCannotBeAreRefusedWithTheReason) {
    test::TempDir dir;
    const std::string path = dir.str("synthetic.gguf");
    ASSERT_TRUE(write_synthetic_model(path));
    cpu::CpuBackend plain(cpu::CpuBackendOptions{.threads = 2});
    auto loaded = engine::LoadedModel::load(path, plain, {.n_ctx = 64, .n_batch = 16, .max_sequences = 1});
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    const auto there = loaded->move_to(plain);
    ASSERT_FALSE(there.ok());
    EXPECT_NE(there.error().message.find("runs on cpu already"), std::string::npos) << there.error().message;
    SmallHost small;
    const auto too_big = loaded->move_to(small);
    ASSERT_FALSE(too_big.ok());
    EXPECT_NE(too_big.error().message.find("the weights need"), std::string::npos) << too_big.error().message;
    EXPECT_NE(too_big.error().message.find("0 MiB free"), std::string::npos) << too_big.error().message;
    EXPECT_TRUE(loaded->retired.empty());  // nothing moved: the engine still runs the first model
    std::vector<float> logits;
    EXPECT_TRUE(loaded->engine->feed(0, std::vector<int32_t>{1, 5, 9}, false, logits).ok());
}

}  // namespace
}  // namespace rf::server
