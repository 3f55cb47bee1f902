#include "engine/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace rf::engine {

namespace {
double mib(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }
}  // namespace

Result<int64_t> kv_blocks_for_memory(const MemoryInfo& memory, const EngineOptions& o, int64_t block_bytes,
                                     int64_t state_bytes, std::string_view device) {
    const int64_t blocks_per_seq = (o.n_ctx + o.block_size - 1) / o.block_size;
    const int64_t all = blocks_per_seq * o.max_sequences;
    if (memory.free_bytes == 0) return all;  // not measurable: the backend's allocation decides
    const int64_t usable = static_cast<int64_t>(o.memory_fraction * static_cast<double>(memory.free_bytes));
    const int64_t budget = usable - state_bytes;
    if (all * block_bytes <= budget) return all;
    const int64_t one = blocks_per_seq * block_bytes;
    if (one <= budget) return budget / block_bytes;
    return make_error("kv cache: one sequence's context of {} tokens needs {} bytes ({:.1f} MiB), but {} has {} bytes "
                      "({:.1f} MiB) free: {:.0f}% of it, less {:.1f} MiB for the forward state, leaves {:.1f} MiB "
                      "(lower the context size, use an F16 cache or free memory)",
                      o.n_ctx, one, mib(one), device, memory.free_bytes, mib(static_cast<int64_t>(memory.free_bytes)),
                      100 * o.memory_fraction, mib(state_bytes), mib(std::max<int64_t>(budget, 0)));
}

Engine::Engine(const model::Model& model, EngineOptions options, model::ForwardState state, KvCache cache)
    : model_(&model), options_(options), state_(std::move(state)), cache_(std::move(cache)) {
    for (int part = 0; part < model.placement().parts(); ++part)
        if (KvStorage* storage = cache_.storage(part)) state_.set_kv(part, *storage);
}

Result<Engine> Engine::create(const model::Model& model, EngineOptions o) {
    const auto& hp = model.hparams();
    const model::Placement& placement = model.placement();
    if (o.n_ctx == 0) o.n_ctx = hp.n_ctx_train;
    if (o.n_ctx < 0 || o.n_ctx > (int64_t{1} << 24)) return make_error("context size {} is not usable", o.n_ctx);
    if (o.n_batch <= 0 || o.n_batch > 65536) return make_error("batch size {} is not usable", o.n_batch);
    if (o.max_sequences <= 0 || o.max_sequences > 4096 || o.block_size <= 0 || o.kv_memory_bytes < 0)
        return make_error("sequences ({}, at most 4096), block size ({}) and KV memory ({}) must be positive",
                          o.max_sequences, o.block_size, o.kv_memory_bytes);
    if (!(o.memory_fraction > 0.0 && o.memory_fraction <= 1.0))
        return make_error("memory fraction {} is not in (0, 1]", o.memory_fraction);
    o.n_batch = std::min(o.n_batch, o.n_ctx * o.max_sequences);
    // A block holds its layers' keys and values on each backend that has layers.
    std::vector<int64_t> part_block(static_cast<size_t>(placement.parts()));
    int64_t per_block = 0;
    for (int part = 0; part < placement.parts(); ++part) {
        part_block[static_cast<size_t>(part)] = KvCache::part_block_bytes(placement, part, hp, o.block_size, o.kv_type);
        per_block += part_block[static_cast<size_t>(part)];
    }
    if (per_block <= 0) return make_error("kv cache: blocks of {} bytes", per_block);
    const int64_t blocks_per_seq = (o.n_ctx + o.block_size - 1) / o.block_size;
    // Free memory before the forward state takes its part (the weights are loaded by now).
    std::vector<MemoryInfo> memory(static_cast<size_t>(placement.parts()));
    if (o.kv_memory_bytes == 0) {
        for (int part = 0; part < placement.parts(); ++part) {
            RF_ASSIGN_OR_RETURN(memory[static_cast<size_t>(part)], placement.backend(part).memory());
        }
    }
    RF_ASSIGN_OR_RETURN(model::ForwardState state,
                        model::ForwardState::create(placement, hp, o.n_batch, blocks_per_seq * o.max_sequences));
    int64_t n_blocks = 0;
    if (o.kv_memory_bytes > 0) {
        n_blocks = o.kv_memory_bytes / per_block;
        if (n_blocks < 1)
            return make_error("a KV memory of {} bytes holds no block of {} bytes", o.kv_memory_bytes, per_block);
    } else {
        // The pool is as large as the most constrained backend allows.
        n_blocks = blocks_per_seq * o.max_sequences;
        for (int part = 0; part < placement.parts(); ++part) {
            if (part_block[static_cast<size_t>(part)] == 0) continue;
            RF_ASSIGN_OR_RETURN(int64_t fits,
                                kv_blocks_for_memory(memory[static_cast<size_t>(part)], o,
                                                     part_block[static_cast<size_t>(part)],
                                                     static_cast<int64_t>(state.bytes(part)),
                                                     placement.backend(part).device_name()));
            n_blocks = std::min(n_blocks, fits);
        }
    }
    RF_ASSIGN_OR_RETURN(KvCache cache, KvCache::create(placement, hp,
                                                       {.n_ctx = o.n_ctx,
                                                        .max_sequences = o.max_sequences,
                                                        .block_size = o.block_size,
                                                        .type = o.kv_type,
                                                        .n_blocks = n_blocks}));
    Engine e(model, o, std::move(state), std::move(cache));
    for (auto* v : {&e.tokens_, &e.positions_, &e.seq_rows_, &e.slots_, &e.logit_rows_})
        v->reserve(static_cast<size_t>(o.n_batch));
    e.feed_batch_.reserve(static_cast<size_t>(o.n_batch));
    return e;
}

Result<Engine> Engine::create(std::span<const model::Model* const> ranks, CollectiveGroup& group, EngineOptions o) {
    const auto world = static_cast<int>(ranks.size());
    if (world == 0 || group.world() != world)
        return make_error("tensor parallel: {} ranks, a collective group of {}", world, group.world());
    for (int r = 0; r < world; ++r) {
        const model::Model& m = *ranks[static_cast<size_t>(r)];
        const model::TensorShard& shard = m.hparams().shard;
        if (shard.rank != r || shard.world != world)
            return make_error("tensor parallel: the model of rank {} holds share {} of {}", r, shard.rank, shard.world);
        if (m.placement().parts() != 1)
            return make_error("tensor parallel: rank {} is split over {} backends", r, m.placement().parts());
    }
    RF_ASSIGN_OR_RETURN(Engine e, create(*ranks[0], o));
    const int64_t table_entries = e.cache_.max_blocks_per_seq() * e.cache_.max_sequences();
    for (int r = 1; r < world; ++r) {
        const model::Model& m = *ranks[static_cast<size_t>(r)];
        RF_ASSIGN_OR_RETURN(model::ForwardState state, model::ForwardState::create(m.placement(), m.hparams(),
                                                                                   e.options_.n_batch, table_entries));
        const KvCacheShape shape = KvCache::shape(m.hparams(), e.options_.block_size, e.options_.kv_type,
                                                  e.cache_.total_blocks());
        RF_ASSIGN_OR_RETURN(std::unique_ptr<KvStorage> kv, m.placement().backend(0).create_kv_storage(shape));
        e.peers_.push_back({&m, std::move(state), std::move(kv)});
    }
    for (Peer& p : e.peers_) p.state.set_kv(0, *p.kv);  // (where the peers have come to rest)
    for (int r = 0; r < world; ++r) e.collectives_.push_back(group.member(r));
    e.state_.set_collective(e.collectives_[0].get());
    for (int r = 1; r < world; ++r) e.peers_[static_cast<size_t>(r - 1)].state.set_collective(e.collectives_[static_cast<size_t>(r)].get());
    e.threads_ = std::make_unique<RankThreads>(world);
    return e;
}

Status Engine::relocate(const model::Model& model) {
    // options_ were resolved by create (the context, the batch clamped to it), so the new engine
    // has the shape the scheduler and its clients were told.
    RF_ASSIGN_OR_RETURN(Engine fresh, create(model, options_));
    fresh.retried_steps_ = retried_steps_;
    *this = std::move(fresh);
    return ok_status();
}

Status Engine::step(std::span<const BatchToken> batch, std::vector<float>& logits) {
    return run_step(batch, /*hidden_only=*/false, &logits, nullptr);
}

Status Engine::step(std::span<const BatchToken> batch, std::vector<float>& logits, std::vector<float>& hidden) {
    return run_step(batch, /*hidden_only=*/false, &logits, &hidden);
}

Status Engine::step_hidden(std::span<const BatchToken> batch, std::vector<float>& hidden) {
    return run_step(batch, /*hidden_only=*/true, &hidden, nullptr);
}

Result<std::span<float>> Engine::step_logits(std::span<const BatchToken> batch, std::vector<float>* hidden) {
    RF_TRY(run_step(batch, /*hidden_only=*/false, nullptr, hidden));
    return std::span<float>(out_host_.f32(), out_floats_);
}

Result<float*> Engine::output_space(Backend& head, size_t n_floats, std::vector<float>* out) {
    out_floats_ = n_floats;
    if (out) {
        out->resize(n_floats);
        return out->data();
    }
    const size_t bytes = std::max<size_t>(n_floats, 1) * sizeof(float);
    if (out_host_.empty() || out_host_.size_bytes() < bytes || out_host_owner_ != &head) {
        // The old memory first (page-locked memory is scarce). At first room for a step of every
        // sequence (a server ramping up would otherwise grow it step by step), then by half again.
        const size_t first = static_cast<size_t>(std::min(options_.n_batch, options_.max_sequences) * n_vocab()) * sizeof(float);
        out_host_ = {};
        out_host_owner_ = nullptr;
        RF_ASSIGN_OR_RETURN(out_host_, head.allocate_host(std::max(bytes + bytes / 2, first)));
        out_host_owner_ = &head;
    }
    return out_host_.f32();
}

Status Engine::run_step(std::span<const BatchToken> batch, bool hidden_only, std::vector<float>* out,
                        std::vector<float>* hidden) {
    if (batch.empty() || static_cast<int64_t>(batch.size()) > options_.n_batch)
        return make_error("a step takes 1 to {} tokens, not {}", options_.n_batch, batch.size());
    tokens_.clear(); positions_.clear(); seq_rows_.clear(); slots_.clear(); logit_rows_.clear(); hidden_rows_.clear();
    for (size_t i = 0; i < batch.size(); ++i) {
        const BatchToken& t = batch[i];
        if (t.pos < 0) return make_error("negative position {}", t.pos);
        RF_TRY(cache_.reserve(t.seq, int64_t{t.pos} + 1));
        if (!cache_.writable(t.seq, t.pos))
            return make_error("sequence {} position {} lies in a shared KV block", t.seq, t.pos);
        tokens_.push_back(t.token);
        positions_.push_back(t.pos);
        seq_rows_.push_back(t.seq);
        slots_.push_back(cache_.slot(t.seq, t.pos));
        if (t.want_logits && t.want_hidden) return make_error("a token wants either logits or its hidden state");
        if (t.want_hidden && !hidden) return make_error("hidden states are wanted, but no place was given for them");
        if (t.want_logits) logit_rows_.push_back(static_cast<int32_t>(i));
        if (t.want_hidden) hidden_rows_.push_back(static_cast<int32_t>(i));
    }
    // The output head computes logits for its first rows; the hidden rows come after them.
    vocab_rows_ = hidden_only ? 0 : static_cast<int64_t>(logit_rows_.size());
    logit_rows_.insert(logit_rows_.end(), hidden_rows_.begin(), hidden_rows_.end());
    // A step that failed transiently (the same calls may succeed again) is run again, a bounded
    // number of times with a growing pause: it rewrites the same cache slots, so nothing of the
    // failed attempt remains.
    Status run = run_forward(hidden_only, out, hidden);
    for (int retry = 0; !run.ok() && run.error().transient && retry < kStepRetries; ++retry) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1 << (2 * retry)));
        ++retried_steps_;
        run = run_forward(hidden_only, out, hidden);
    }
    return run;
}

Status Engine::forward_on(const model::Model& model, model::ForwardState& state, const model::StepBatch& batch) {
    // A GPU backend selects its device here (the batch upload needs it) and may record the step
    // until end_step, which runs even after an error so that nothing stays half-recorded.
    const std::vector<Backend*>& backends = model.placement().backends;
    Status forward = ok_status();
    size_t begun = 0;
    for (Backend* backend : backends) {
        forward = backend->begin_step();
        if (!forward.ok()) break;
        ++begun;
    }
    if (forward.ok()) forward = state.set_batch(batch);
    if (forward.ok()) forward = model.forward(state);
    Status ended = ok_status();
    for (size_t i = 0; i < begun; ++i) {
        Status one = backends[i]->end_step();
        if (ended.ok() && !one.ok()) ended = std::move(one);
    }
    RF_TRY(forward);
    return ended;
}

Status Engine::run_forward(bool hidden_only, std::vector<float>* out, std::vector<float>* hidden) {
    const model::StepBatch batch{.tokens = tokens_,
                                 .positions = positions_,
                                 .seq_rows = seq_rows_,
                                 .kv_slots = slots_,
                                 .block_tables = cache_.block_tables(),
                                 .max_blocks_per_seq = cache_.max_blocks_per_seq(),
                                 .logit_rows = logit_rows_,
                                 .vocab_rows = vocab_rows_};
    // The logits, and the final-norm rows before them, live with the output head (each rank's
    // logits are its run of the vocabulary; every rank holds the same final-norm rows).
    Backend& head = model_->placement().backend(model_->placement().output);
    const auto n_embd = static_cast<size_t>(hparams().n_embd);
    const size_t wanted = logit_rows_.size() - hidden_rows_.size();
    const size_t n_out = wanted * (hidden_only ? n_embd : static_cast<size_t>(n_vocab()));
    RF_ASSIGN_OR_RETURN(float* dst, output_space(head, n_out, out));
    if (peers_.empty()) {
        RF_TRY(forward_on(*model_, state_, batch));
        RF_TRY(head.download(dst, hidden_only ? state_.logit_inputs().data : state_.logits().data, n_out));
    } else {
        // Every rank at once (the sums wait for all of them), each downloading its own logits. A
        // bad batch is turned away first (every rank would refuse it alike); a rank that fails
        // mid-step aborts the group so that the others stop waiting, and its error (not theirs,
        // "aborted") is the step's.
        RF_TRY(state_.check_batch(batch));
        std::atomic<int> first_failed = -1;
        std::vector<Status> results(collectives_.size(), ok_status());
        const Status ran = threads_->run([&](int r) {
            const auto rank = static_cast<size_t>(r);
            const model::Model& m = r == 0 ? *model_ : *peers_[rank - 1].model;
            model::ForwardState& state = r == 0 ? state_ : peers_[rank - 1].state;
            Status done = forward_on(m, state, batch);
            if (done.ok() && !hidden_only) {
                const int64_t first = m.hparams().shard.vocab_first(n_vocab());
                done = m.placement().backend(0).download_rows(dst + first, n_vocab(), state.logits());
            } else if (done.ok() && r == 0) {
                done = head.download(dst, state.logit_inputs().data, n_out);
            }
            if (!done.ok()) {
                int none = -1;
                if (first_failed.compare_exchange_strong(none, r)) collectives_[rank]->abort();
            }
            results[rank] = done;
            return done;
        });
        if (const int r = first_failed.load(); r >= 0) {
            // The group's collective is aborted: no retry can succeed, and no later step.
            Error e = results[static_cast<size_t>(r)].error();
            e.message += fmt::format(" (rank {} of the tensor-parallel group, which stops with it)", r);
            e.transient = false;
            e.device_lost = true;
            return e;
        }
        RF_TRY(ran);
    }
    if (hidden) {
        hidden->resize(hidden_rows_.size() * n_embd);
        RF_TRY(head.download(hidden->data(), state_.logit_inputs().data + wanted * n_embd, hidden->size()));
    }
    return ok_status();
}

Status Engine::feed(int32_t seq, std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits) {
    if (tokens.empty()) return make_error("nothing to feed");
    if (seq < 0 || seq >= cache_.max_sequences()) return make_error("no sequence {}", seq);
    const int64_t start = cache_.length(seq);
    if (start + static_cast<int64_t>(tokens.size()) > cache_.n_ctx())
        return make_error("{} tokens do not fit the context: {} of {} positions are used", tokens.size(), start,
                          cache_.n_ctx());
    logits.clear();
    std::vector<BatchToken>& batch = feed_batch_;
    for (size_t begin = 0; begin < tokens.size(); begin += static_cast<size_t>(options_.n_batch)) {
        const size_t end = std::min(tokens.size(), begin + static_cast<size_t>(options_.n_batch));
        batch.clear();
        for (size_t i = begin; i < end; ++i)
            batch.push_back({tokens[i], seq, static_cast<int32_t>(start + static_cast<int64_t>(i)),
                             all_logits || i + 1 == tokens.size()});
        RF_TRY(step(batch, feed_logits_));  // (not step_logits: all_logits steps are large)
        logits.insert(logits.end(), feed_logits_.begin(), feed_logits_.end());
    }
    return ok_status();
}

}  // namespace rf::engine
