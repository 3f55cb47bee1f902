// `rocmforge serve` as a process, and the client commands against it: generate --host, status,
// cancel; SIGTERM ends the server cleanly.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/run_command.h"
#include "model_fixture.h"
#include "otlp_receiver.h"

namespace rf::test {
namespace {

// Starts `rocmforge serve ... --port 0` and reads the URL from its first line of output.
class ServeProcess {
public:
    explicit ServeProcess(const std::string& args) {
        int fds[2];
        if (pipe(fds) != 0) return;
        pid_ = fork();
        if (pid_ == 0) {
            dup2(fds[1], STDOUT_FILENO);
            close(fds[0]);
            close(fds[1]);
            const std::string cmd = std::string("exec ") + ROCMFORGE_BIN + " serve " + args;
            execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
            _exit(127);
        }
        close(fds[1]);
        out_ = fdopen(fds[0], "r");
        char line[256];
        if (out_ && fgets(line, sizeof line, out_)) {
            const std::string s = line;
            const size_t at = s.find("http://");
            if (at != std::string::npos) url_ = s.substr(at, s.find_first_of(" \n", at) - at);
        }
    }
    ~ServeProcess() {
        if (pid_ > 0 && !exited_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (out_) fclose(out_);
    }
    const std::string& url() const { return url_; }
    // SIGTERM, then the exit code (-1 unless it exited normally).
    int terminate() {
        kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    pid_t pid_ = -1;
    FILE* out_ = nullptr;
    std::string url_;
    bool exited_ = false;
};

TEST(ServeCli, ClientCommandsAgainstARunningServer) {
    RF_REQUIRE_SHARED();
    const std::string model = shared_path(kServerModel).string();
    ServeProcess server("-m " + model + " --port 0 -c 256 --parallel 2 -t 2 --alias tiny 2>/dev/null");
    ASSERT_FALSE(server.url().empty()) << "serve printed no URL";

    const CommandResult gen =
        run_command(rocmforge("generate --host " + server.url() + " -p Hello -n 6 --temp 0 --seed 1 2>&1"));
    EXPECT_EQ(gen.exit_code, 0) << gen.output;
    EXPECT_EQ(gen.output.rfind("Hello", 0), 0u) << gen.output;
    EXPECT_NE(gen.output.find("6 generated, finished by length"), std::string::npos) << gen.output;
    // The request id (drawn at random by the server) is in the summary line.
    const size_t at = gen.output.find("(request ");
    ASSERT_NE(at, std::string::npos) << gen.output;
    const std::string id = gen.output.substr(at + 9, gen.output.find(')', at) - at - 9);
    ASSERT_FALSE(id.empty()) << gen.output;
    // The same text as the server gives to a plain request.
    const CommandResult again =
        run_command(rocmforge("generate --host " + server.url() + " -p Hello -n 6 --temp 0 --seed 1 2>/dev/null"));
    EXPECT_EQ(gen.output.substr(0, again.output.size()), again.output);

    const CommandResult status = run_command(rocmforge("status --host " + server.url() + " 2>&1"));
    EXPECT_EQ(status.exit_code, 0) << status.output;
    EXPECT_NE(status.output.find("ready"), std::string::npos) << status.output;
    EXPECT_NE(status.output.find("model:  tiny (context 256)"), std::string::npos) << status.output;

    const CommandResult one = run_command(rocmforge("status --host " + server.url() + " " + id + " 2>&1"));
    EXPECT_EQ(one.exit_code, 0) << one.output;
    const auto j = nlohmann::json::parse(one.output, nullptr, false);
    ASSERT_TRUE(j.is_object()) << one.output;
    EXPECT_EQ(j["state"], "finished");
    EXPECT_EQ(j["completion_tokens"], 6);

    const CommandResult cancel = run_command(rocmforge("cancel --host " + server.url() + " cmpl-" + id + " 2>&1"));
    EXPECT_EQ(cancel.exit_code, 1) << cancel.output;  // already finished
    EXPECT_NE(cancel.output.find("already finished"), std::string::npos) << cancel.output;
    const CommandResult unknown = run_command(rocmforge("cancel --host " + server.url() + " 777 2>&1"));
    EXPECT_EQ(unknown.exit_code, 1);

    const CommandResult bad = run_command(rocmforge("generate --host " + server.url() + " -p x --top-p 1 --temp 50 2>&1"));
    EXPECT_EQ(bad.exit_code, 1) << bad.output;
    EXPECT_NE(bad.output.find("temperature"), std::string::npos) << bad.output;

    EXPECT_EQ(server.terminate(), 0);
    const CommandResult gone = run_command(rocmforge("status --host " + server.url() + " 2>&1"));
    EXPECT_EQ(gone.exit_code, 1);
    EXPECT_NE(gone.output.find("cannot reach the server: could not connect"), std::string::npos) << gone.output;
}

// A server that wants a key: status says the key was refused, not that the server is not ready.
TEST(ServeCli, StatusReportsARefusedKey) {
    RF_REQUIRE_SHARED();
    const std::string model = shared_path(kServerModel).string();
    ServeProcess server("-m " + model + " --port 0 -c 256 --parallel 1 -t 2 --api-key sekret 2>/dev/null");
    ASSERT_FALSE(server.url().empty()) << "serve printed no URL";
    const CommandResult refused = run_command(rocmforge("status --host " + server.url() + " 2>&1"));
    EXPECT_EQ(refused.exit_code, 1) << refused.output;
    EXPECT_NE(refused.output.find("HTTP 401"), std::string::npos) << refused.output;
    EXPECT_EQ(refused.output.find("not ready"), std::string::npos) << refused.output;
    const CommandResult ok = run_command(rocmforge("status --host " + server.url() + " --api-key sekret 2>&1"));
    EXPECT_EQ(ok.exit_code, 0) << ok.output;
    EXPECT_NE(ok.output.find("(ready)"), std::string::npos) << ok.output;
    EXPECT_EQ(server.terminate(), 0);
}

// Export configured by the OpenTelemetry variables alone, with JSON logs: the request's log line
// names the trace its spans went to, under the service name given.
TEST(ServeCli, JsonLogsAndSpansFromTheEnvironment) {
    RF_REQUIRE_SHARED();
    OtlpReceiver collector;
    const std::string model = shared_path(kServerModel).string();
    const std::string log_path = ::testing::TempDir() + "serve_json_log.txt";
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint().c_str(), 1);
    setenv("OTEL_SERVICE_NAME", "forge-test", 1);
    setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci", 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "20", 1);
    ServeProcess server("-m " + model + " --port 0 -c 256 --parallel 1 -t 2 --log-format json 2>" + log_path);
    for (const char* name : {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
                             "OTEL_BSP_SCHEDULE_DELAY"})
        unsetenv(name);
    ASSERT_FALSE(server.url().empty()) << "serve printed no URL";
    const CommandResult gen = run_command(rocmforge("generate --host " + server.url() + " -p Hello -n 3 2>&1"));
    EXPECT_EQ(gen.exit_code, 0) << gen.output;
    ASSERT_TRUE(collector.wait_for([](const std::vector<nlohmann::json>& spans) { return spans.size() >= 5; }));
    EXPECT_EQ(server.terminate(), 0);

    const nlohmann::json resource = collector.bodies().at(0)["resourceSpans"][0]["resource"];
    EXPECT_EQ(resource["attributes"], nlohmann::json::parse(R"([
        {"key":"service.name","value":{"stringValue":"forge-test"}},
        {"key":"deployment.environment","value":{"stringValue":"ci"}}])"));
    const std::string trace_id = collector.spans().at(0)["traceId"];
    // Every line is a JSON object; the request's names the exported trace.
    const CommandResult log = run_command("cat " + log_path);
    size_t lines = 0, requests = 0;
    for (size_t start = 0; start < log.output.size();) {
        const size_t end = log.output.find('\n', start);
        const std::string line = log.output.substr(start, end - start);
        start = end == std::string::npos ? log.output.size() : end + 1;
        const auto j = nlohmann::json::parse(line, nullptr, false);
        ASSERT_TRUE(j.is_object()) << line;
        ++lines;
        EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("message")) << line;
        if (j["message"] != "request") continue;
        ++requests;
        EXPECT_EQ(j["trace_id"], trace_id) << line;
        EXPECT_EQ(j["status"], 200) << line;
    }
    EXPECT_EQ(requests, 1u) << log.output;
    EXPECT_GE(lines, 3u) << log.output;  // the backend, the exporter, the request, the end
    std::remove(log_path.c_str());
}

// Neither -m nor --host: the shipped demo model (issue 20; test_demo_model checks it further).
TEST(ServeCli, GenerateWithoutModelOrHostUsesTheDemoModel) {
    const CommandResult r = run_command(rocmforge("generate -p x -n 1 -t 1 2>&1"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("using the demo model"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rf::test
