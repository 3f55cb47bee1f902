#include "context/vector_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "context/dot_product.h"

namespace rf::context {

namespace {

// hnswlib's inner-product space (distance 1 - a.b) with the dot product chosen at run time.
class DotSpace : public hnswlib::SpaceInterface<float> {
public:
    explicit DotSpace(size_t dimension) : param_{dimension, best_dot()} {}
    size_t get_data_size() override { return param_.dimension * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return distance; }
    void* get_dist_func_param() override { return &param_; }

private:
    struct Param {
        size_t dimension;
        DotFn dot;
    };
    static float distance(const void* a, const void* b, const void* param) {
        const auto* p = static_cast<const Param*>(param);
        return 1.0f - p->dot(static_cast<const float*>(a), static_cast<const float*>(b), p->dimension);
    }
    Param param_;
};

}  // namespace

struct VectorIndex::Graph {
    DotSpace space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
    explicit Graph(int64_t dimension) : space(static_cast<size_t>(dimension)) {}
};

namespace {

constexpr int kFormat = 1;
constexpr size_t kInitialCapacity = 1024;

std::string sidecar(const std::string& path) { return path + ".json"; }

// FNV-1a over the file's bytes: cheap, and enough to tell a damaged file from a good one.
Result<uint64_t> file_checksum(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error("cannot read {}", path);
    uint64_t h = 0xcbf29ce484222325ull;
    std::vector<char> buf(1 << 16);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        for (std::streamsize i = 0; i < in.gcount(); ++i) {
            h ^= static_cast<unsigned char>(buf[static_cast<size_t>(i)]);
            h *= 0x100000001b3ull;
        }
    }
    return h;
}

Status write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return make_error("cannot write {}", path);
    return ok_status();
}

}  // namespace

VectorIndex::VectorIndex(int64_t dimension, HnswOptions options)
    : dimension_(dimension), options_(options), graph_(std::make_unique<Graph>(dimension)) {}

VectorIndex::~VectorIndex() = default;

Result<std::unique_ptr<VectorIndex>> VectorIndex::create(int64_t dimension, HnswOptions o) {
    if (dimension <= 0 || dimension > 65536) return make_error("vector index: dimension {} is not usable", dimension);
    if (o.m < 2 || o.m > 256 || o.ef_construction < 1 || o.ef_search < 1)
        return make_error("vector index: M {} (2..256), ef_construction {} and ef_search {} must be positive", o.m,
                          o.ef_construction, o.ef_search);
    std::unique_ptr<VectorIndex> index(new VectorIndex(dimension, o));
    try {
        index->graph_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            &index->graph_->space, kInitialCapacity, static_cast<size_t>(o.m), static_cast<size_t>(o.ef_construction));
        index->graph_->hnsw->setEf(static_cast<size_t>(o.ef_search));
    } catch (const std::exception& e) {
        return make_error("vector index: {}", e.what());
    }
    return index;
}

Result<std::unique_ptr<VectorIndex>> VectorIndex::load(const std::string& path, int64_t dimension, int64_t revision,
                                                       HnswOptions o, std::string* why) {
    auto fail = [&](std::string reason) -> Result<std::unique_ptr<VectorIndex>> {
        if (why) *why = std::move(reason);
        return std::unique_ptr<VectorIndex>();
    };
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) || !std::filesystem::exists(sidecar(path), ec)) return fail("missing");
    std::ifstream meta_in(sidecar(path));
    const nlohmann::json meta = nlohmann::json::parse(meta_in, nullptr, false);
    if (meta.is_discarded() || !meta.is_object() || meta.value("format", 0) != kFormat ||
        !meta.contains("checksum") || !meta["checksum"].is_string())
        return fail("unreadable sidecar");
    if (meta.value("dimension", int64_t{-1}) != dimension) return fail("different dimension");
    if (meta.value("revision", int64_t{-1}) != revision) return fail("stale");
    auto sum = file_checksum(path);
    if (!sum.ok() || fmt::format("{:016x}", *sum) != meta["checksum"].get<std::string>()) return fail("corrupt");
    auto made = create(dimension, o);
    if (!made.ok()) return made.error();
    std::unique_ptr<VectorIndex> index = std::move(*made);
    try {
        index->graph_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(&index->graph_->space, path);
        auto& h = *index->graph_->hnsw;
        h.setEf(static_cast<size_t>(o.ef_search));
        // hnswlib 0.6.2's loading constructor counts deleted elements into an uninitialised
        // member: count them again.
        h.num_deleted_ = 0;
        for (size_t i = 0; i < h.cur_element_count; ++i) h.num_deleted_ += h.isMarkedDeleted(static_cast<hnswlib::tableint>(i));
    } catch (const std::exception& e) {
        return fail(fmt::format("unloadable: {}", e.what()));
    }
    return index;
}

Status VectorIndex::add(int64_t id, std::span<const float> vector) {
    if (static_cast<int64_t>(vector.size()) != dimension_)
        return make_error("vector index: a vector of {} floats, not {}", vector.size(), dimension_);
    std::unique_lock lock(mu_);
    auto& h = *graph_->hnsw;
    try {
        if (h.cur_element_count >= h.max_elements_) h.resizeIndex(h.max_elements_ * 2);
        h.addPoint(vector.data(), static_cast<hnswlib::labeltype>(id));
    } catch (const std::exception& e) {
        return make_error("vector index: adding {}: {}", id, e.what());
    }
    return ok_status();
}

Status VectorIndex::add_many(std::span<const int64_t> ids, std::span<const float> vectors, int threads) {
    const auto d = static_cast<size_t>(dimension_);
    if (vectors.size() != ids.size() * d)
        return make_error("vector index: {} floats for {} vectors of {}", vectors.size(), ids.size(), d);
    std::unique_lock lock(mu_);
    auto& h = *graph_->hnsw;
    try {
        if (h.cur_element_count + ids.size() > h.max_elements_)
            h.resizeIndex(std::max(h.max_elements_ * 2, h.cur_element_count + ids.size()));
    } catch (const std::exception& e) {
        return make_error("vector index: growing to {} vectors: {}", h.cur_element_count + ids.size(), e.what());
    }
    // hnswlib links concurrent insertions safely (per-node locks) as long as it need not grow.
    const size_t workers = std::clamp<size_t>(threads > 0 ? static_cast<size_t>(threads) : std::thread::hardware_concurrency(),
                                              1, std::max<size_t>(1, ids.size() / 64));
    std::atomic<size_t> next{0};
    std::mutex failed_mu;
    std::string failed;
    auto work = [&] {
        for (size_t i; (i = next.fetch_add(1)) < ids.size();) {
            try {
                h.addPoint(vectors.data() + i * d, static_cast<hnswlib::labeltype>(ids[i]));
            } catch (const std::exception& e) {
                std::lock_guard g(failed_mu);
                if (failed.empty()) failed = fmt::format("adding {}: {}", ids[i], e.what());
            }
        }
    };
    std::vector<std::thread> pool;
    try {
        for (size_t t = 1; t < workers; ++t) pool.emplace_back(work);
    } catch (const std::system_error&) {
        // Fewer threads than asked (the process is at its limit): those started, and this one, do it all.
    }
    work();
    for (auto& t : pool) t.join();
    if (!failed.empty()) return make_error("vector index: {}", failed);
    return ok_status();
}

void VectorIndex::set_ef_search(int64_t ef) {
    std::unique_lock lock(mu_);
    options_.ef_search = std::max<int64_t>(1, ef);
    graph_->hnsw->setEf(static_cast<size_t>(options_.ef_search));
}

void VectorIndex::remove(int64_t id) {
    std::unique_lock lock(mu_);
    try {
        graph_->hnsw->markDelete(static_cast<hnswlib::labeltype>(id));
    } catch (const std::exception&) {
        // Unknown or already deleted: nothing to remove.
    }
}

Result<std::vector<Hit>> VectorIndex::search(std::span<const float> query, int64_t k) const {
    if (static_cast<int64_t>(query.size()) != dimension_)
        return make_error("vector index: a query of {} floats, not {}", query.size(), dimension_);
    if (k <= 0) return std::vector<Hit>();
    std::shared_lock lock(mu_);
    auto& h = *graph_->hnsw;
    if (static_cast<int64_t>(h.cur_element_count - h.num_deleted_) <= options_.exact_up_to) return scan(query, k);
    std::vector<Hit> hits;
    try {
        auto queue = h.searchKnn(query.data(), static_cast<size_t>(k));
        while (!queue.empty()) {
            hits.push_back({static_cast<int64_t>(queue.top().second), 1.0f - queue.top().first});
            queue.pop();
        }
    } catch (const std::exception& e) {
        return make_error("vector index: search: {}", e.what());
    }
    std::reverse(hits.begin(), hits.end());  // the queue gives the farthest first
    return hits;
}

// Every live vector against the query: exact, and for a few thousand vectors faster than the
// graph (whose ef_search candidates cost as many distances); nor can near-duplicate vectors, which
// leave HNSW's neighbour lists short, hide anything from it.
std::vector<Hit> VectorIndex::scan(std::span<const float> query, int64_t k) const {
    const auto& h = *graph_->hnsw;
    const DotFn dot = best_dot();
    std::vector<Hit> all;
    all.reserve(h.cur_element_count);
    for (hnswlib::tableint i = 0; i < h.cur_element_count; ++i) {
        if (h.isMarkedDeleted(i)) continue;
        const auto* v = reinterpret_cast<const float*>(h.getDataByInternalId(i));
        all.push_back({static_cast<int64_t>(h.getExternalLabel(i)), dot(v, query.data(), query.size())});
    }
    const size_t top = std::min(all.size(), static_cast<size_t>(k));
    std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(top), all.end(),
                      [](const Hit& a, const Hit& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); });
    all.resize(top);
    return all;
}

Status VectorIndex::save(const std::string& path, int64_t revision) const {
    std::unique_lock lock(mu_);
    const std::string tmp = path + ".tmp";
    try {
        graph_->hnsw->saveIndex(tmp);
    } catch (const std::exception& e) {
        return make_error("vector index: saving {}: {}", path, e.what());
    }
    RF_ASSIGN_OR_RETURN(uint64_t sum, file_checksum(tmp));
    const nlohmann::json meta{{"format", kFormat},
                              {"dimension", dimension_},
                              {"revision", revision},
                              {"count", graph_->hnsw->cur_element_count - graph_->hnsw->num_deleted_},
                              {"checksum", fmt::format("{:016x}", sum)}};
    RF_TRY(write_text(sidecar(path) + ".tmp", meta.dump()));
    // Graph first, then the sidecar: a crash between leaves a sidecar whose checksum does not match.
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (!ec) std::filesystem::rename(sidecar(path) + ".tmp", sidecar(path), ec);
    if (ec) return make_error("vector index: saving {}: {}", path, ec.message());
    return ok_status();
}

int64_t VectorIndex::size() const {
    std::shared_lock lock(mu_);
    return static_cast<int64_t>(graph_->hnsw->cur_element_count - graph_->hnsw->num_deleted_);
}

std::vector<Hit> exact_search(std::span<const float> vectors, int64_t dimension, std::span<const float> query,
                              int64_t k) {
    const auto d = static_cast<size_t>(dimension);
    const size_t n = vectors.size() / d;
    std::vector<Hit> all(n);
    for (size_t i = 0; i < n; ++i) {
        float dot = 0.0f;
        for (size_t j = 0; j < d; ++j) dot += vectors[i * d + j] * query[j];
        all[i] = {static_cast<int64_t>(i), dot};
    }
    const size_t top = std::min(n, static_cast<size_t>(std::max<int64_t>(k, 0)));
    std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(top), all.end(),
                      [](const Hit& a, const Hit& b) { return a.score > b.score; });
    all.resize(top);
    return all;
}

}  // namespace rf::context
