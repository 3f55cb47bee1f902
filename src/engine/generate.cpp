#include "engine/generate.h"

#include <algorithm>
#include <chrono>

#include "engine/decode_state.h"

namespace rf::engine {

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

std::string_view stop_reason_name(StopReason reason) {
    switch (reason) {
        case StopReason::MaxTokens: return "max_tokens";
        case StopReason::EndOfGeneration: return "end_of_generation";
        case StopReason::StopString: return "stop_string";
        case StopReason::ContextFull: return "context_full";
        case StopReason::Cancelled: return "cancelled";
    }
    return "unknown";
}

TopLogits top_logits(std::span<const float> logits, int64_t k) {
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    const size_t n = std::min(ids.size(), static_cast<size_t>(std::max<int64_t>(k, 0)));
    std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int32_t a, int32_t b) {
        return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
    });
    TopLogits out;
    for (size_t i = 0; i < n; ++i) out.emplace_back(ids[i], logits[ids[i]]);
    return out;
}

Result<GenerateResult> generate(Engine& engine, const tokenizer::Tokenizer& tokenizer, std::span<const int32_t> prompt,
                                const GenerateOptions& o, const TextSink& sink, const std::atomic<bool>* cancel) {
    if (prompt.empty()) return make_error("the prompt has no tokens");
    if (o.max_tokens < 0) return make_error("max tokens must not be negative");
    RF_TRY(validate(o.sampling));
    const int64_t n_vocab = engine.n_vocab();
    const int64_t start = engine.cache().length(o.seq);
    if (start + static_cast<int64_t>(prompt.size()) > engine.n_ctx())
        return make_error("the prompt ({} tokens) does not fit the context of {} tokens ({} already used)", prompt.size(),
                          engine.n_ctx(), start);

    GenerateResult r;
    r.prompt_tokens.assign(prompt.begin(), prompt.end());
    DecodeState state(tokenizer, o);
    state.accept_prompt(prompt);

    auto t0 = std::chrono::steady_clock::now();
    std::vector<float> logits;
    RF_TRY(engine.feed(o.seq, prompt, o.top_logits > 0, logits));
    if (o.top_logits > 0)
        for (size_t p = 0; p < prompt.size(); ++p)
            r.prompt_top.push_back(top_logits({logits.data() + p * n_vocab, static_cast<size_t>(n_vocab)}, o.top_logits));
    std::vector<float> row(logits.end() - n_vocab, logits.end());
    r.prompt_seconds = seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    auto emit = [&](const std::string& text) {
        if (text.empty()) return;
        r.text += text;
        if (sink) sink(text);
    };
    while (true) {
        if (state.at_limit()) {
            r.reason = StopReason::MaxTokens;
            break;
        }
        if (cancel && cancel->load()) {
            r.reason = StopReason::Cancelled;
            break;
        }
        if (o.top_logits > 0) r.step_top.push_back(top_logits(row, o.top_logits));
        auto step = state.sample(row);
        if (!step.error.empty()) return make_error("{}", step.error);
        r.tokens.push_back(step.token);
        emit(step.text);
        if (step.stop) {
            r.reason = *step.stop;
            break;
        }
        if (engine.cache().length(o.seq) >= engine.n_ctx()) {
            r.reason = StopReason::ContextFull;
            break;
        }
        if (state.at_limit()) continue;  // no need to feed the last one
        const int32_t next[] = {step.token};
        RF_TRY(engine.feed(o.seq, next, false, logits));
        row.assign(logits.begin(), logits.end());
    }
    emit(state.finish(r.reason));
    r.generate_seconds = seconds_since(t0);
    return r;
}

}  // namespace rf::engine
