// rocmforge context add|search|list|show|delete|clear -m MODEL [--namespace NS] [--db DIR] [--json]:
// the context store (docs/context.md) from the command line. The model embeds texts and queries;
// the store lives in --db DIR, else $ROCMFORGE_CONTEXT_DIR, else the XDG data directory.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "context/store.h"
#include "context/store_dir.h"
#include "context/store_json.h"
#include "core/text_file.h"
#include "engine/embedder.h"

namespace rf::cli {
namespace {

struct ContextOptions {
    std::string model_path;
    std::string ns = "default";
    std::string db;
    bool json = false;
    std::string pooling = "mean";
    int threads = 0;
    int64_t chunk_tokens = 256, chunk_overlap = 32;
    WeightLoading loading;
    DeviceOptions device;
    // add
    std::vector<std::string> texts;  // TEXT, or "-" for stdin
    std::vector<std::string> files;
    std::string role, metadata = "{}";
    int64_t reply_to = -1;
    // search
    int64_t k = 5;
    // list
    int64_t limit = 100, offset = 0;
    // show, delete
    int64_t id = 0;
};

// The model, its embedder and the store, opened for one command.
struct Opened {
    BackendSet backends;
    engine::LoadedModel model;
    std::unique_ptr<engine::Embedder> embedder;
    std::unique_ptr<context::ContextStore> store;
};

Result<std::unique_ptr<Opened>> open_store(const ContextOptions& o) {
    auto opened = std::make_unique<Opened>();
    RF_ASSIGN_OR_RETURN(engine::Pooling pooling, engine::parse_pooling(o.pooling));
    RF_ASSIGN_OR_RETURN(std::string dir, context::store_dir(o.db));
    RF_ASSIGN_OR_RETURN(opened->backends, make_backends(o.device, o.threads, o.loading));
    // The whole model on the main backend: embedding needs no split.
    RF_ASSIGN_OR_RETURN(opened->model, engine::LoadedModel::open(o.model_path, *opened->backends.main,
                                                                  file_load(o.loading, opened->backends)));
    RF_ASSIGN_OR_RETURN(opened->embedder,
                        engine::Embedder::create(*opened->model.model, *opened->model.tokenizer,
                                                 {.n_ctx = o.chunk_tokens + 8, .pooling = pooling}));
    RF_ASSIGN_OR_RETURN(opened->store,
                        context::ContextStore::open(dir, *opened->embedder,
                                                    context::embedding_model_key(o.model_path, pooling),
                                                    {.chunks = {.tokens = o.chunk_tokens, .overlap = o.chunk_overlap}}));
    return opened;
}

// One line of a text for listings: newlines shown as spaces, cut at `width` bytes on a character.
std::string preview(const std::string& text, size_t width = 72) {
    std::string line;
    for (char c : text) line += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    if (line.size() <= width) return line;
    size_t cut = width;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    return line.substr(0, cut) + "...";
}

void print_json(const nlohmann::json& j) { fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)); }

Status run_add(const ContextOptions& o) {
    std::vector<std::pair<std::string, std::string>> inputs;  // (source, text)
    for (const std::string& t : o.texts) {
        if (t == "-") {
            std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
            inputs.emplace_back("stdin", std::move(all));
        } else {
            inputs.emplace_back("argument", t);
        }
    }
    for (const std::string& f : o.files) {
        RF_ASSIGN_OR_RETURN(std::string text, read_text_file(f));
        inputs.emplace_back(f, std::move(text));
    }
    if (inputs.empty()) return make_error("nothing to add: give TEXT, - (stdin) or -f FILE");
    RF_ASSIGN_OR_RETURN(auto opened, open_store(o));
    nlohmann::json results = nlohmann::json::array();
    for (auto& [source, text] : inputs) {
        context::AddRequest r{.text = std::move(text),
                              .kind = o.role.empty() ? context::NodeKind::Document : context::NodeKind::Message,
                              .role = o.role,
                              .metadata = o.metadata};
        if (o.reply_to >= 0) r.reply_to = o.reply_to;
        if (source != "argument" && source != "stdin" && o.metadata == "{}")
            r.metadata = nlohmann::json{{"file", source}}.dump();
        auto added = opened->store->add(o.ns, r);
        if (!added.ok()) return make_error("{}: {}", source, added.error().message);
        if (o.json) results.push_back(context::added_json(*added));
        else if (added->chunks > 0)
            fmt::print("added {} ({} chunks, {} tokens) to '{}'\n", added->id, added->chunks, added->tokens, o.ns);
        else
            fmt::print("added {} ({} tokens) to '{}'\n", added->id, added->tokens, o.ns);
    }
    if (o.json) print_json({{"namespace", o.ns}, {"added", std::move(results)}});
    return ok_status();
}

Status run_search(const ContextOptions& o) {
    if (o.texts.empty()) return make_error("give the TEXT to search for");
    std::string query;
    for (const std::string& t : o.texts) query += (query.empty() ? "" : " ") + t;
    RF_ASSIGN_OR_RETURN(auto opened, open_store(o));
    RF_ASSIGN_OR_RETURN(std::vector<context::SearchHit> hits, opened->store->search(o.ns, query, o.k));
    if (o.json) {
        nlohmann::json results = nlohmann::json::array();
        for (const auto& h : hits) results.push_back(context::hit_json(h));
        print_json({{"namespace", o.ns}, {"query", query}, {"results", std::move(results)}});
        return ok_status();
    }
    for (const auto& h : hits) {
        const std::string where = h.document ? fmt::format(" (in {})", *h.document) : "";
        fmt::print("{:.4f}  {}{}  {}\n", h.score, h.node.id, where, preview(h.node.text));
    }
    return ok_status();
}

Status run_list(const ContextOptions& o) {
    RF_ASSIGN_OR_RETURN(auto opened, open_store(o));
    RF_ASSIGN_OR_RETURN(std::vector<context::Node> nodes, opened->store->list(o.ns, o.limit, o.offset));
    if (o.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& n : nodes) out.push_back(context::node_json(n));
        print_json({{"namespace", o.ns}, {"nodes", std::move(out)}});
        return ok_status();
    }
    for (const auto& n : nodes)
        fmt::print("{}  {}{}  {}\n", n.id, context::node_kind_name(n.kind), n.role.empty() ? "" : "/" + n.role,
                   preview(n.text));
    return ok_status();
}

Status run_show(const ContextOptions& o) {
    RF_ASSIGN_OR_RETURN(auto opened, open_store(o));
    RF_ASSIGN_OR_RETURN(context::NodeDetail d, opened->store->show(o.ns, o.id));
    if (o.json) {
        print_json(context::detail_json(d));
        return ok_status();
    }
    fmt::print("{} {}{} in '{}', metadata {}\n", context::node_kind_name(d.node.kind), d.node.id,
               d.node.role.empty() ? "" : " (" + d.node.role + ")", d.node.ns, d.node.metadata);
    for (const auto& e : d.edges) fmt::print("  {} {} {}\n", e.src, context::edge_kind_name(e.kind), e.dst);
    std::fwrite(d.node.text.data(), 1, d.node.text.size(), stdout);
    std::fputc('\n', stdout);
    return ok_status();
}

Status run_delete(const ContextOptions& o) {
    RF_ASSIGN_OR_RETURN(auto opened, open_store(o));
    RF_ASSIGN_OR_RETURN(int64_t n, opened->store->remove(o.ns, o.id));
    if (o.json) print_json({{"namespace", o.ns}, {"deleted", n}});
    else fmt::print("deleted {} ({} nodes with its chunks)\n", o.id, n);
    return ok_status();
}

Status run_clear(const ContextOptions& o) {
    RF_ASSIGN_OR_RETURN(auto opened, open_store(o));
    RF_ASSIGN_OR_RETURN(int64_t n, opened->store->clear(o.ns));
    if (o.json) print_json({{"namespace", o.ns}, {"cleared", n}});
    else fmt::print("cleared '{}' ({} nodes)\n", o.ns, n);
    return ok_status();
}

int finish(const Status& status) {
    if (status.ok()) return kExitOk;
    fmt::print(stderr, "error: {}\n", status.error().message);
    return kExitError;
}

// The options every sub-command takes.
CLI::App* sub(CLI::App& parent, const std::string& name, const std::string& what, ContextOptions& o) {
    CLI::App* cmd = parent.add_subcommand(name, what);
    cmd->add_option("-m,--model", o.model_path, "GGUF model that embeds texts and queries")->required();
    cmd->add_option("--namespace", o.ns, "Namespace (default: default)");
    cmd->add_option("--db", o.db, "Store directory (default: $ROCMFORGE_CONTEXT_DIR, else "
                                  "$XDG_DATA_HOME/rocmforge/context)");
    cmd->add_flag("--json", o.json, "Print JSON");
    cmd->add_option("--pooling", o.pooling, "Embedding pooling: mean or last")->check(CLI::IsMember({"mean", "last"}));
    cmd->add_option("--chunk-tokens", o.chunk_tokens, "Tokens per chunk of a long text")->check(number_in(8, 1 << 20));
    cmd->add_option("--chunk-overlap", o.chunk_overlap, "Tokens neighbouring chunks share")->check(number_in(0, 1 << 20));
    cmd->add_option("-t,--threads", o.threads, "CPU threads (0: one per core)")->check(number_in(0, 1024));
    add_loading_flags(*cmd, o.loading);
    add_device_flags(*cmd, o.device);
    return cmd;
}

}  // namespace

void add_context_command(CLI::App& app, CommandContext& ctx) {
    auto o = std::make_shared<ContextOptions>();
    CLI::App* cmd = app.add_subcommand("context", "Store texts and find them again by meaning (docs/context.md)");
    cmd->require_subcommand(1);
    auto bind = [&ctx, o](CLI::App* c, Status (*run)(const ContextOptions&)) {
        c->callback([&ctx, o, run] { ctx.exit_code = finish(run(*o)); });
    };
    CLI::App* add = sub(*cmd, "add", "Add texts: TEXT..., - for stdin, or -f FILE...", *o);
    add->add_option("text", o->texts, "Texts to add (- reads stdin)");
    add->add_option("-f,--file", o->files, "Files to add, one document each");
    add->add_option("--role", o->role, "Store as a message of this role (user, assistant, ...)");
    add->add_option("--metadata", o->metadata, "A JSON object kept with the text");
    add->add_option("--reply-to", o->reply_to, "The id of the message this one answers")->check(number_in(0, 9e15));
    bind(add, run_add);
    CLI::App* search = sub(*cmd, "search", "Print the K stored texts most similar to TEXT, best first", *o);
    search->add_option("text", o->texts, "Query")->required();
    search->add_option("-k", o->k, "How many results")->check(number_in(1, 1000));
    bind(search, run_search);
    CLI::App* list = sub(*cmd, "list", "List documents and messages, newest first", *o);
    list->add_option("--limit", o->limit, "Most nodes to print")->check(number_in(1, 1e9));
    list->add_option("--offset", o->offset, "Nodes to skip")->check(number_in(0, 1e15));
    bind(list, run_list);
    CLI::App* show = sub(*cmd, "show", "Print one node with its edges", *o);
    show->add_option("id", o->id, "Node id")->required();
    bind(show, run_show);
    CLI::App* del = sub(*cmd, "delete", "Delete a node (a document with its chunks)", *o);
    del->add_option("id", o->id, "Node id")->required();
    bind(del, run_delete);
    bind(sub(*cmd, "clear", "Delete everything in the namespace", *o), run_clear);
}

}  // namespace rf::cli
