// rocmforge perplexity -m FILE -f TEXT [-c N] [--json]: how well a model predicts a text.
//
// The protocol (the demo model's training script, tools/demo_model/train.py, reports the same):
// the text is tokenized without BOS/EOS and with special-token parsing off, and cut into
// consecutive chunks of N tokens (N = -c, default the model's training context; the last chunk may
// be shorter). Each chunk is scored from a fresh context. With a vocabulary that adds BOS, the model
// reads BOS followed by the chunk and every token of the chunk is predicted; without, the chunk's
// first token is context only and the others are predicted. The loss is the mean negative
// log-likelihood (natural log, from a float64 log-softmax of the logits) over all predicted tokens;
// perplexity = exp(loss).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "core/text_file.h"

namespace rf::cli {
namespace {

struct PerplexityOptions {
    RuntimeOptions runtime;
    std::string file;
    bool json = false;
};

struct Score {
    double nll_sum = 0;  // natural log
    int64_t tokens = 0;
    int64_t chunks = 0;
};

// -log softmax(logits)[target], in double.
double negative_log_likelihood(const float* logits, int64_t n_vocab, int32_t target) {
    double top = logits[0];
    for (int64_t i = 1; i < n_vocab; ++i) top = std::max(top, static_cast<double>(logits[i]));
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - top);
    return std::log(sum) + top - static_cast<double>(logits[target]);
}

Result<Score> score_text(engine::Engine& engine, const tokenizer::Tokenizer& tok, const std::vector<int32_t>& ids,
                         int64_t chunk_size) {
    const bool with_bos = tok.add_bos() && tok.special().bos != tokenizer::kNoToken;
    const int64_t n_vocab = engine.n_vocab();
    const bool progress = isatty(STDERR_FILENO) != 0;
    Score score;
    std::vector<int32_t> input;
    std::vector<float> logits;
    const auto n = static_cast<int64_t>(ids.size());
    for (int64_t start = 0; start < n; start += chunk_size) {
        const int64_t length = std::min(chunk_size, n - start);
        const int32_t* chunk = ids.data() + start;
        // The last token of a chunk is only predicted, never read.
        input.clear();
        if (with_bos) input.push_back(tok.special().bos);
        input.insert(input.end(), chunk, chunk + length - 1);
        if (input.empty()) continue;  // a one-token chunk without BOS predicts nothing
        engine.rewind(0, 0);
        RF_TRY(engine.feed(0, input, /*all_logits=*/true, logits));
        if (logits.size() != input.size() * static_cast<size_t>(n_vocab))
            return make_error("perplexity: {} logits for {} tokens", logits.size(), input.size());
        // Logits at input position p predict chunk token p (with BOS) or p + 1 (without).
        const int64_t first = with_bos ? 0 : 1;
        for (int64_t j = first; j < length; ++j) {
            const int32_t target = chunk[j];
            if (target < 0 || target >= n_vocab) return make_error("perplexity: token {} is outside the model's vocabulary", target);
            score.nll_sum += negative_log_likelihood(logits.data() + (j - first) * n_vocab, n_vocab, target);
            ++score.tokens;
        }
        ++score.chunks;
        if (progress)
            fmt::print(stderr, "\rchunk {} of {}: perplexity so far {:.4f}", score.chunks,
                       (n + chunk_size - 1) / chunk_size, std::exp(score.nll_sum / static_cast<double>(score.tokens)));
    }
    if (progress) fmt::print(stderr, "\n");
    return score;
}

Status run_perplexity(const PerplexityOptions& opts) {
    RF_ASSIGN_OR_RETURN(std::string text, read_text_file(opts.file));
    RF_ASSIGN_OR_RETURN(auto session, load_session(opts.runtime));
    engine::Engine& engine = *session->loaded.engine;
    const tokenizer::Tokenizer& tok = *session->loaded.tokenizer;
    const std::vector<int32_t> ids = tok.encode(text, {.add_special = false, .parse_special = false});
    // BOS takes one place in the context, so a chunk may be as long as the context itself.
    const int64_t chunk_size = engine.n_ctx();
    if (chunk_size < 2) return make_error("perplexity: a context of {} tokens is too short", chunk_size);
    RF_ASSIGN_OR_RETURN(Score score, score_text(engine, tok, ids, chunk_size));
    if (score.tokens == 0)
        return make_error("{}: {} tokens: too few to predict any", opts.file, ids.size());
    const double loss = score.nll_sum / static_cast<double>(score.tokens);
    if (opts.json) {
        nlohmann::json out = {{"perplexity", std::exp(loss)}, {"loss", loss},       {"tokens", ids.size()},
                              {"scored", score.tokens},      {"chunks", score.chunks}, {"chunk_size", chunk_size},
                              {"bos", tok.add_bos() && tok.special().bos != tokenizer::kNoToken}};
        fmt::print("{}\n", out.dump(2));
    } else {
        fmt::print("perplexity {:.4f} (loss {:.6f} nats/token) over {} of {} tokens in {} chunks of {}\n",
                   std::exp(loss), loss, score.tokens, ids.size(), score.chunks, chunk_size);
    }
    return ok_status();
}

}  // namespace

void add_perplexity_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<PerplexityOptions>();
    opts->runtime.n_ctx = 0;  // chunks of the training context unless -c says otherwise
    CLI::App* cmd = app.add_subcommand(
        "perplexity",
        "Perplexity of a model over a text: consecutive chunks of -c tokens, each read from a fresh context "
        "after BOS (when the vocabulary adds one), every token with a token before it predicted; "
        "perplexity = exp(mean negative log-likelihood)");
    add_runtime_options(*cmd, opts->runtime);
    cmd->add_option("-f,--file", opts->file, "Text file to score")->required();
    cmd->add_flag("--json", opts->json, "Print the result as JSON");
    cmd->callback([opts, &ctx] {
        Status st = run_perplexity(*opts);
        if (st.ok()) {
            ctx.exit_code = kExitOk;
            return;
        }
        fmt::print(stderr, "error: {}\n", st.error().message);
        ctx.exit_code = kExitError;
    });
}

}  // namespace rf::cli
