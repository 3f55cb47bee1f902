// The store across processes: several writer processes at once lose nothing, and a writer killed
// with SIGKILL in the middle of a stream of adds leaves every add it acknowledged present and
// searchable after a restart (the index rebuilt where it fell behind). Each child builds its own
// model and store after fork(), so no thread crosses the fork.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "context/store.h"
#include "engine/engine_fixture.h"
#include "temp_dir.h"

namespace rf::context {
namespace {

std::string text_of(int writer, int i) { return "writer " + std::to_string(writer) + " note " + std::to_string(i) + " about things"; }

struct Opened {
    engine::test::TinyModel model{TensorType::F32};
    std::unique_ptr<engine::Embedder> embedder;
    std::unique_ptr<ContextStore> store;
    explicit Opened(const std::string& dir) {
        auto e = engine::Embedder::create(*model.model, *model.tok, {.n_ctx = 128});
        if (!e.ok()) return;
        embedder = std::move(*e);
        auto s = ContextStore::open(dir, *embedder, "tiny#mean", {.chunks = {.tokens = 64, .overlap = 8}});
        if (s.ok()) store = std::move(*s);
    }
};

// In a child: adds `count` texts (count < 0: until killed), printing each acknowledged id to `fd`.
[[noreturn]] void writer_process(const std::string& dir, int writer, int count, int fd) {
    Opened o(dir);
    if (!o.store) _exit(2);
    for (int i = 0; count < 0 || i < count; ++i) {
        auto added = o.store->add("shared", {.text = text_of(writer, i)});
        if (!added.ok()) _exit(3);
        const std::string line = std::to_string(writer) + " " + std::to_string(i) + " " + std::to_string(added->id) + "\n";
        if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
    }
    _exit(0);
}

struct Ack {
    int writer, i;
    int64_t id;
};

std::vector<Ack> read_acks(FILE* f) {
    std::vector<Ack> acks;
    Ack a{};
    while (std::fscanf(f, "%d %d %ld", &a.writer, &a.i, &a.id) == 3) acks.push_back(a);
    return acks;
}

void expect_present_and_found(const std::string& dir, const std::vector<Ack>& acks) {
    Opened o(dir);
    ASSERT_TRUE(o.store);
    for (const Ack& a : acks) {
        auto shown = o.store->show("shared", a.id);
        ASSERT_TRUE(shown.ok()) << shown.error().message;
        EXPECT_EQ(shown->node.text, text_of(a.writer, a.i));
        auto hits = o.store->search("shared", text_of(a.writer, a.i), 1);
        ASSERT_TRUE(hits.ok()) << hits.error().message;
        ASSERT_EQ(hits->size(), 1u);
        EXPECT_EQ((*hits)[0].node.id, a.id);
    }
}

TEST(ContextProcesses, ConcurrentWriterProcessesLoseNothing) {
    test::TempDir dir;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::vector<pid_t> children;
    for (int w = 0; w < 3; ++w) {
        const pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            writer_process(dir.str(), w, 8, fds[1]);
        }
        children.push_back(pid);
    }
    close(fds[1]);
    FILE* in = fdopen(fds[0], "r");
    const std::vector<Ack> acks = read_acks(in);
    std::fclose(in);
    for (pid_t pid : children) {
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    }
    ASSERT_EQ(acks.size(), 24u);
    expect_present_and_found(dir.str(), acks);
}

TEST(ContextProcesses, AcknowledgedAddsSurviveSigkill) {
    test::TempDir dir;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        writer_process(dir.str(), 0, -1, fds[1]);
    }
    close(fds[1]);
    FILE* in = fdopen(fds[0], "r");
    std::vector<Ack> acks;
    Ack a{};
    while (acks.size() < 12 && std::fscanf(in, "%d %d %ld", &a.writer, &a.i, &a.id) == 3) acks.push_back(a);
    kill(pid, SIGKILL);  // somewhere in the next add: embedding, the transaction or the index save
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status));
    for (const Ack& more : read_acks(in)) acks.push_back(more);  // written before the kill landed
    std::fclose(in);
    ASSERT_GE(acks.size(), 12u);
    expect_present_and_found(dir.str(), acks);
}

// A store whose files the process may read but not write (another user's, or a read-only mount):
// opening it is a clear error that says so, and nothing in it is lost. Root may write anything, so
// the child drops to the unprivileged user `nobody` when it runs as root.
TEST(ContextProcesses, ReadOnlyStoreIsAClearErrorAndLosesNothing) {
    test::TempDir dir;
    std::vector<Ack> acks;
    {
        Opened o(dir.str());
        ASSERT_TRUE(o.store);
        for (int i = 0; i < 3; ++i) {
            auto added = o.store->add("shared", {.text = text_of(0, i)});
            ASSERT_TRUE(added.ok()) << added.error().message;
            acks.push_back({0, i, added->id});
        }
    }
    namespace fs = std::filesystem;
    std::vector<fs::path> paths{dir.str()};
    for (const auto& e : fs::recursive_directory_iterator(dir.str())) paths.push_back(e.path());
    for (const auto& p : paths) fs::permissions(p, fs::is_directory(p) ? fs::perms(0555) : fs::perms(0444));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(5);
        engine::test::TinyModel model{TensorType::F32};
        auto e = engine::Embedder::create(*model.model, *model.tok, {.n_ctx = 128});
        if (!e.ok()) _exit(2);
        auto s = ContextStore::open(dir.str(), **e, "tiny#mean", {.chunks = {.tokens = 64, .overlap = 8}});
        const std::string said = s.ok() ? std::string("opened") : s.error().message;
        if (write(fds[1], said.data(), said.size()) != static_cast<ssize_t>(said.size())) _exit(4);
        _exit(0);
    }
    close(fds[1]);
    std::string said;
    char buf[512];
    for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) said.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    for (const auto& p : paths) fs::permissions(p, fs::is_directory(p) ? fs::perms(0755) : fs::perms(0644));
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    EXPECT_NE(said.find("read-only"), std::string::npos) << said;
    EXPECT_NE(said.find(dir.str()), std::string::npos) << said;
    expect_present_and_found(dir.str(), acks);
}

}  // namespace
}  // namespace rf::context
