// Device faults, injected (fault_injection.h) into the backend a small synthetic model runs on: a
// transient failure costs a retried step and changes nothing; a sticky one fails the steps, and
// the scheduler ends exactly the affected requests with an error and keeps serving (no hang, no
// lost request, no leaked block); with somewhere to move the model (a plain CPU backend), a lost
// device moves it there and the waiting requests run as if nothing had failed. The fault plan's
// parser refuses malformed plans.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#include "backend/instrumented_backend.h"
#include "engine/scheduler.h"
#include "model/registry.h"
#include "model/synthetic_model.h"
#include "scheduler_support.h"
#include "tokenizer/tokenizer.h"

namespace rf::engine {
namespace {

using namespace test;

struct Faulty {
    InstrumentedBackend backend{std::make_unique<cpu::CpuBackend>(cpu::CpuBackendOptions{.threads = 2})};
    std::vector<uint8_t> bytes;
    std::unique_ptr<gguf::File> file;
    std::unique_ptr<model::Model> model;
    std::unique_ptr<tokenizer::Tokenizer> tok;
    std::unique_ptr<Engine> engine;

    Faulty() {
        auto built = rf::test::SyntheticModel({.n_vocab = 300, .type = TensorType::Q8_0, .vocab = true}).build();
        EXPECT_TRUE(built.ok());
        bytes = std::move(*built);
        auto parsed = gguf::File::parse(bytes, "synthetic");
        EXPECT_TRUE(parsed.ok());
        file = std::make_unique<gguf::File>(std::move(*parsed));
        auto loaded = model::load_model(*file, backend);
        EXPECT_TRUE(loaded.ok());
        model = std::move(*loaded);
        auto t = tokenizer::Tokenizer::from_gguf(*file);
        EXPECT_TRUE(t.ok());
        tok = std::make_unique<tokenizer::Tokenizer>(std::move(*t));
        auto e = Engine::create(*model, {.n_ctx = 128, .n_batch = 64, .max_sequences = 4, .block_size = 4});
        EXPECT_TRUE(e.ok()) << e.error().message;
        engine = std::make_unique<Engine>(std::move(*e));
    }
    void inject(std::string_view plan) {
        auto f = FaultInjector::parse(plan);
        ASSERT_TRUE(f.ok()) << f.error().message;
        backend.inject_faults(*f);
    }
};

TEST(FaultPlan, ParsesAndRefuses) {
    EXPECT_TRUE(FaultInjector::parse("op:3").ok());
    EXPECT_TRUE(FaultInjector::parse("op:3,copy:1:sticky,alloc:7").ok());
    EXPECT_TRUE(FaultInjector::parse("").ok());
    for (const char* bad : {"op", "op:0", "op:x", "gpu:3", "op:3:forever", "op:-1", "op:3,"})
        EXPECT_FALSE(FaultInjector::parse(bad).ok()) << bad;
    auto f = FaultInjector::parse("copy:2");
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(f->check(FaultKind::Op).ok());
    EXPECT_TRUE(f->check(FaultKind::Copy).ok());
    const Status second = f->check(FaultKind::Copy);
    ASSERT_FALSE(second.ok());
    EXPECT_TRUE(second.error().transient);
    EXPECT_TRUE(f->check(FaultKind::Copy).ok());  // once only
}

TEST(Faults, TransientFaultIsRetriedAndChangesNothing) {
    Faulty clean, faulty;
    const std::vector<int32_t> prompt = prompt_of(4, 20);
    std::vector<float> expected, got;
    ASSERT_TRUE(clean.engine->feed(0, prompt, true, expected).ok());
    faulty.inject("op:25");  // inside the prompt's step
    auto fed = faulty.engine->feed(0, prompt, true, got);
    ASSERT_TRUE(fed.ok()) << fed.error().message;
    EXPECT_EQ(got, expected);
    EXPECT_EQ(faulty.engine->retried_steps(), 1);
    EXPECT_EQ(faulty.backend.injected_faults(), 1u);
}

TEST(Faults, StickyFaultFailsEveryStepWithItsMessage) {
    Faulty f;
    f.inject("copy:3:sticky");
    std::vector<float> logits;
    for (int attempt = 0; attempt < 2; ++attempt) {
        const Status fed = f.engine->feed(0, prompt_of(5, 6), false, logits);
        ASSERT_FALSE(fed.ok());
        EXPECT_NE(fed.error().message.find("injected fault"), std::string::npos) << fed.error().message;
        EXPECT_FALSE(fed.error().transient);
        f.engine->rewind(0, 0);
    }
    EXPECT_EQ(f.engine->retried_steps(), 0);
}

TEST(Faults, SchedulerFailsOnlyTheAffectedRequestsAndKeepsServing) {
    Faulty f;
    auto s = Scheduler::create(*f.engine, *f.tok, {.max_running = 4, .step_token_budget = 64});
    ASSERT_TRUE(s.ok()) << s.error().message;
    // A transient fault in the middle of four concurrent requests: all finish, none failed.
    Collector transient;
    f.inject("op:200");
    for (size_t i = 0; i < 4; ++i) submitted((*s)->submit(greedy(prompt_of(10 + i, 12), 8), transient.sink(i)));
    ASSERT_TRUE(transient.wait(4));
    for (size_t i = 0; i < 4; ++i) {
        const Output o = transient.get(i);
        ASSERT_TRUE(o.finished);
        EXPECT_FALSE(o.finished->failed) << o.finished->error;
        EXPECT_EQ(o.tokens.size(), 8u);
    }
    EXPECT_EQ(f.backend.injected_faults(), 1u);
    EXPECT_EQ((*s)->stats().retried_steps, 1);
    EXPECT_EQ((*s)->stats().failed_steps, 0);
    // The device is lost: every request ends once, failed, with the error; none hangs.
    Collector lost;
    f.inject("op:1:sticky");
    for (size_t i = 0; i < 3; ++i) submitted((*s)->submit(greedy(prompt_of(20 + i, 12), 8), lost.sink(i)));
    ASSERT_TRUE(lost.wait(3));
    for (size_t i = 0; i < 3; ++i) {
        const Output o = lost.get(i);
        ASSERT_TRUE(o.finished);
        EXPECT_EQ(o.finished_count, 1);
        EXPECT_TRUE(o.finished->failed);
        EXPECT_NE(o.finished->error.find("injected fault"), std::string::npos) << o.finished->error;
    }
    // The device is back: the scheduler serves again, and no block leaked.
    Collector back;
    f.inject("");
    submitted((*s)->submit(greedy(prompt_of(30, 12), 4), back.sink(0)));
    ASSERT_TRUE(back.wait(1));
    EXPECT_FALSE(back.get(0).finished->failed);
    const SchedulerStats st = (*s)->stats();
    EXPECT_EQ(st.kv_blocks_used, 0);
    EXPECT_GE(st.failed_steps, 1);
}

// Holds the scheduler's loop between two steps until release(), so that what is submitted (or
// injected) meanwhile is there together when it goes on.
class LoopHold {
public:
    explicit LoopHold(Scheduler& s) : thread_([this, &s] { (void)s.run_between_steps(hold_); }) {
        held_.get_future().wait();
    }
    void release() {
        release_.set_value();
        thread_.join();
    }

private:
    std::promise<void> held_, release_;
    std::function<Status()> hold_ = [this] {
        held_.set_value();
        release_.get_future().wait();
        return ok_status();
    };
    std::thread thread_;
};

// Returns once the loop has finished the iteration it is in (what follows a failed step included).
void settle(Scheduler& s) { ASSERT_TRUE(s.run_between_steps([] { return ok_status(); }).ok()); }

RequestOptions lost_device_request(size_t i) { return greedy(prompt_of(40 + static_cast<uint32_t>(i), 12), 8); }

// The fault goes away (between two steps): the next request runs, and the scheduler is available.
void expect_available_once_the_device_works(Faulty& f, Scheduler& s) {
    {
        LoopHold hold(s);
        f.inject("");
        hold.release();
    }
    Collector back;
    submitted(s.submit(lost_device_request(1), back.sink(0)));
    ASSERT_TRUE(back.wait(1));
    EXPECT_FALSE(back.get(0).finished->failed) << back.get(0).finished->error;
    EXPECT_TRUE(s.stats().unavailable.empty());
}

TEST(Faults, LostDeviceMovesTheModelToTheCpu) {
    constexpr size_t kRequests = 5;
    std::vector<Output> expected;
    {
        Faulty clean;
        auto s = Scheduler::create(*clean.engine, *clean.tok, {.max_running = 2, .step_token_budget = 64});
        ASSERT_TRUE(s.ok());
        Collector c;
        for (size_t i = 0; i < kRequests; ++i) submitted((*s)->submit(lost_device_request(i), c.sink(i)));
        ASSERT_TRUE(c.wait(kRequests));
        for (size_t i = 0; i < kRequests; ++i) expected.push_back(c.get(i));
    }
    // The "device" is a CPU backend behind the fault injector; the model moves to a plain one.
    cpu::CpuBackend cpu(cpu::CpuBackendOptions{.threads = 2});
    std::unique_ptr<model::Model> on_cpu;
    Faulty f;
    std::promise<void> moving, may_move;
    std::shared_future<void> allowed = may_move.get_future().share();
    int moves = 0;
    auto relocate = [&](const Error& cause) -> Result<EngineMove> {
        ++moves;
        EXPECT_TRUE(cause.device_lost);
        moving.set_value();
        allowed.wait();
        RF_ASSIGN_OR_RETURN(on_cpu, model::load_model(*f.file, cpu));
        RF_TRY(f.engine->relocate(*on_cpu));
        return EngineMove{.backend = "cpu", .device = "", .placement = on_cpu->placement().describe(),
                          .layers_per_backend = {{"cpu", 2}}};
    };
    auto s = Scheduler::create(*f.engine, *f.tok, {.max_running = 2, .step_token_budget = 64, .relocate = relocate});
    ASSERT_TRUE(s.ok()) << s.error().message;
    Collector got;
    {
        // Two requests run in the first step, which meets the lost device; two wait behind them.
        LoopHold hold(**s);
        f.inject("op:1:sticky");
        for (size_t i = 0; i + 1 < kRequests; ++i) submitted((*s)->submit(lost_device_request(i), got.sink(i)));
        hold.release();
    }
    moving.get_future().wait();
    const SchedulerStats during = (*s)->stats();
    EXPECT_NE(during.unavailable.find("being moved"), std::string::npos) << during.unavailable;
    EXPECT_NE(during.unavailable.find("injected fault"), std::string::npos) << during.unavailable;
    EXPECT_EQ(during.device_fallbacks, 0);
    // A request that comes during the move waits for it.
    submitted((*s)->submit(lost_device_request(kRequests - 1), got.sink(kRequests - 1)));
    const uint64_t faults_before_move = f.backend.injected_faults();
    may_move.set_value();
    ASSERT_TRUE(got.wait(kRequests));
    for (size_t i = 0; i < 2; ++i) {  // the failed step's requests: once each, with the error
        const Output o = got.get(i);
        EXPECT_EQ(o.finished_count, 1);
        ASSERT_TRUE(o.finished);
        EXPECT_TRUE(o.finished->failed);
        EXPECT_NE(o.finished->error.find("injected fault"), std::string::npos) << o.finished->error;
        EXPECT_TRUE(o.tokens.empty());
    }
    for (size_t i = 2; i < kRequests; ++i) {  // the others ran on the CPU, as without the fault
        const Output o = got.get(i);
        EXPECT_EQ(o.finished_count, 1);
        ASSERT_TRUE(o.finished);
        EXPECT_FALSE(o.finished->failed) << o.finished->error;
        expect_same(o, expected[i], i);
    }
    EXPECT_EQ(moves, 1);
    EXPECT_EQ(f.backend.injected_faults(), faults_before_move) << "nothing ran on the lost device after the move";
    const SchedulerStats after = (*s)->stats();
    EXPECT_EQ(after.device_fallbacks, 1);
    EXPECT_EQ(after.failed_steps, 1);
    EXPECT_TRUE(after.unavailable.empty()) << after.unavailable;
    ASSERT_TRUE(after.moved);
    EXPECT_NE(after.moved->placement.find("cpu"), std::string::npos) << after.moved->placement;
    EXPECT_EQ(after.kv_blocks_used, 0);
    EXPECT_EQ(after.running, 0);
}

// A request admitted but not in the failing step (the token budget held it back) loses nothing:
// it goes back to the queue as a preempted one and runs on the CPU as if nothing had failed.
TEST(Faults, ARunningRequestOutsideTheFailedStepIsRecomputedAfterTheMove) {
    const SchedulerOptions options{.max_running = 2, .step_token_budget = 8};
    Output expected;
    {
        Faulty clean;
        auto s = Scheduler::create(*clean.engine, *clean.tok, options);
        ASSERT_TRUE(s.ok());
        Collector c;
        submitted((*s)->submit(lost_device_request(1), c.sink(0)));
        ASSERT_TRUE(c.wait(1));
        expected = c.get(0);
    }
    cpu::CpuBackend cpu(cpu::CpuBackendOptions{.threads = 2});
    std::unique_ptr<model::Model> on_cpu;
    Faulty f;
    SchedulerOptions moving = options;
    moving.relocate = [&](const Error&) -> Result<EngineMove> {
        RF_ASSIGN_OR_RETURN(on_cpu, model::load_model(*f.file, cpu));
        RF_TRY(f.engine->relocate(*on_cpu));
        return EngineMove{};
    };
    auto s = Scheduler::create(*f.engine, *f.tok, moving);
    ASSERT_TRUE(s.ok()) << s.error().message;
    Collector got;
    {
        // Both are admitted; the first step holds 8 of the first one's 12 prompt tokens only.
        LoopHold hold(**s);
        f.inject("op:1:sticky");
        submitted((*s)->submit(lost_device_request(0), got.sink(0)));
        submitted((*s)->submit(lost_device_request(1), got.sink(1)));
        hold.release();
    }
    ASSERT_TRUE(got.wait(2));
    EXPECT_TRUE(got.get(0).finished->failed);
    const Output second = got.get(1);
    EXPECT_FALSE(second.finished->failed) << second.finished->error;
    EXPECT_EQ(second.finished_count, 1);
    EXPECT_EQ(second.finished->timings.preemptions, 1);
    expect_same(second, expected, 1);
    EXPECT_EQ((*s)->stats().kv_blocks_used, 0);
}

// Errors that do not say the device is lost (here transient ones that outlast the retries) move
// the model after Scheduler::kLostAfterFailedSteps failed steps in a row, not before.
TEST(Faults, StepsFailingInARowCountAsALostDevice) {
    cpu::CpuBackend cpu(cpu::CpuBackendOptions{.threads = 2});
    std::unique_ptr<model::Model> on_cpu;
    Faulty f;
    int moves = 0;
    auto relocate = [&](const Error& cause) -> Result<EngineMove> {
        ++moves;
        EXPECT_FALSE(cause.device_lost);
        RF_ASSIGN_OR_RETURN(on_cpu, model::load_model(*f.file, cpu));
        RF_TRY(f.engine->relocate(*on_cpu));
        return EngineMove{};
    };
    auto s = Scheduler::create(*f.engine, *f.tok, {.max_running = 2, .step_token_budget = 64, .relocate = relocate});
    ASSERT_TRUE(s.ok()) << s.error().message;
    // Each step is tried 1 + Engine::kStepRetries times; each try's first operation fails.
    std::string plan;
    const int failing_ops = Scheduler::kLostAfterFailedSteps * (1 + Engine::kStepRetries);
    for (int op = 1; op <= failing_ops; ++op) plan += (op > 1 ? "," : "") + fmt::format("op:{}", op);
    f.inject(plan);
    for (int step = 1; step <= Scheduler::kLostAfterFailedSteps; ++step) {
        Collector c;
        submitted((*s)->submit(lost_device_request(0), c.sink(0)));
        ASSERT_TRUE(c.wait(1));
        EXPECT_TRUE(c.get(0).finished->failed);
        settle(**s);
        EXPECT_EQ(moves, step == Scheduler::kLostAfterFailedSteps ? 1 : 0) << "after failed step " << step;
    }
    Collector after;
    submitted((*s)->submit(lost_device_request(1), after.sink(0)));
    ASSERT_TRUE(after.wait(1));
    EXPECT_FALSE(after.get(0).finished->failed) << after.get(0).finished->error;
    EXPECT_EQ((*s)->stats().device_fallbacks, 1);
    EXPECT_EQ(f.backend.injected_faults(), static_cast<uint64_t>(failing_ops));
}

TEST(Faults, AMoveThatFailsLeavesTheSchedulerUnavailableUntilTheDeviceWorks) {
    Faulty f;
    int moves = 0;
    auto relocate = [&](const Error&) -> Result<EngineMove> {
        ++moves;
        return make_error("the weights need 9 MiB but the host has 1 MiB free");
    };
    auto s = Scheduler::create(*f.engine, *f.tok, {.max_running = 2, .step_token_budget = 64, .relocate = relocate});
    ASSERT_TRUE(s.ok()) << s.error().message;
    f.inject("op:1:sticky");
    for (int round = 0; round < 2; ++round) {  // every request fails with the error; one try to move only
        Collector lost;
        submitted((*s)->submit(lost_device_request(0), lost.sink(0)));
        ASSERT_TRUE(lost.wait(1));
        EXPECT_TRUE(lost.get(0).finished->failed);
        settle(**s);  // the request is told before the move is tried
        EXPECT_EQ(moves, 1);
        const SchedulerStats st = (*s)->stats();
        EXPECT_NE(st.unavailable.find("could not be moved: the weights need 9 MiB"), std::string::npos)
            << st.unavailable;
        EXPECT_EQ(st.device_fallbacks, 0);
    }
    expect_available_once_the_device_works(f, **s);
    EXPECT_EQ((*s)->stats().kv_blocks_used, 0);
}

// Without a backend to move to, a lost device leaves the scheduler unavailable (the server's
// /ready answers 503) while its steps fail, and available again once one succeeds.
TEST(Faults, ALostDeviceWithNowhereToGoIsUnavailableUntilItWorks) {
    Faulty f;
    auto s = Scheduler::create(*f.engine, *f.tok, {.max_running = 2, .step_token_budget = 64});
    ASSERT_TRUE(s.ok()) << s.error().message;
    f.inject("op:1:sticky");
    Collector lost;
    submitted((*s)->submit(lost_device_request(0), lost.sink(0)));
    ASSERT_TRUE(lost.wait(1));
    EXPECT_TRUE(lost.get(0).finished->failed);
    settle(**s);
    EXPECT_NE((*s)->stats().unavailable.find("no other backend to move the model to"), std::string::npos)
        << (*s)->stats().unavailable;
    expect_available_once_the_device_works(f, **s);
}

}  // namespace
}  // namespace rf::engine
