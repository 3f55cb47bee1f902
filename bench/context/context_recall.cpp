// Recall of the context store's HNSW index against exact search on random unit vectors, with the
// insert rate and query latency (p50/p99). Exits 1 when recall@k falls below --min-recall.
//
//   context_recall [--n 100000] [--dim 256] [--queries 1000] [--k 10] [--m M]
//                  [--ef-construction EF] [--ef-search EF[,EF...]] [--exact-up-to N] [--threads T]
//                  [--min-recall 0.95]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "context/vector_index.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<float> random_unit_vectors(size_t n, size_t dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> v(n * dim);
    for (size_t i = 0; i < n; ++i) {
        double norm = 0.0;
        for (size_t j = 0; j < dim; ++j) {
            v[i * dim + j] = normal(rng);
            norm += double{v[i * dim + j]} * v[i * dim + j];
        }
        const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
        for (size_t j = 0; j < dim; ++j) v[i * dim + j] *= scale;
    }
    return v;
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("HNSW recall@k against exact search on random unit vectors");
    int64_t n = 100000, dim = 256, queries = 1000, k = 10;
    int threads = 0;
    double min_recall = 0.95;
    rf::context::HnswOptions o;
    std::vector<int64_t> ef_search{o.ef_search};
    app.add_option("--n", n, "Vectors in the index")->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
    app.add_option("--dim", dim, "Dimension")->check(CLI::Range(int64_t{1}, int64_t{65536}));
    app.add_option("--queries", queries, "Queries")->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
    app.add_option("--k", k, "Neighbours per query")->check(CLI::Range(int64_t{1}, int64_t{1000}));
    app.add_option("--m", o.m, "HNSW links per node");
    app.add_option("--ef-construction", o.ef_construction, "HNSW candidate list while building");
    app.add_option("--ef-search", ef_search, "HNSW candidate list while searching (several: one row each)")
        ->delimiter(',');
    app.add_option("--exact-up-to", o.exact_up_to, "Indexes up to this size are scanned, not searched (0: never)");
    app.add_option("--threads", threads, "Threads inserting (0: one per core); queries run on one");
    app.add_option("--min-recall", min_recall, "Fail when the first --ef-search value's recall is below this");
    CLI11_PARSE(app, argc, argv);

    const auto d = static_cast<size_t>(dim);
    const auto data = random_unit_vectors(static_cast<size_t>(n), d, 1);
    const auto qs = random_unit_vectors(static_cast<size_t>(queries), d, 2);
    o.ef_search = ef_search.front();
    auto index = rf::context::VectorIndex::create(dim, o);
    if (!index) {
        fmt::print(stderr, "error: {}\n", index.error().message);
        return 2;
    }
    std::vector<int64_t> ids(static_cast<size_t>(n));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
    const auto t0 = Clock::now();
    if (auto added = (*index)->add_many(ids, data, threads); !added) {
        fmt::print(stderr, "error: {}\n", added.error().message);
        return 2;
    }
    const double insert_s = std::chrono::duration<double>(Clock::now() - t0).count();

    // The exact answers once, for every ef_search row; exact search's own time for comparison.
    std::vector<std::set<int64_t>> exact(static_cast<size_t>(queries));
    std::vector<double> exact_ms;
    for (int64_t q = 0; q < queries; ++q) {
        const auto s = Clock::now();
        const auto hits = rf::context::exact_search(data, dim, std::span(qs).subspan(static_cast<size_t>(q) * d, d), k);
        exact_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        for (const auto& h : hits) exact[static_cast<size_t>(q)].insert(h.id);
    }
    fmt::print("vectors {} dim {} queries {} k {} | M {} ef_construction {} | insert {:.0f} vectors/s ({:.1f} s, "
               "{} threads) | exact search p50 {:.3f} ms\n",
               n, dim, queries, k, o.m, o.ef_construction, static_cast<double>(n) / insert_s, insert_s,
               threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()), percentile(exact_ms, 0.5));
    double first_recall = 0.0;
    for (int64_t ef : ef_search) {
        (*index)->set_ef_search(ef);
        std::vector<double> latency_ms;
        size_t found = 0;
        for (int64_t q = 0; q < queries; ++q) {
            const auto s = Clock::now();
            auto hits = (*index)->search(std::span(qs).subspan(static_cast<size_t>(q) * d, d), k);
            latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
            if (!hits) {
                fmt::print(stderr, "error: {}\n", hits.error().message);
                return 2;
            }
            for (const auto& h : *hits) found += exact[static_cast<size_t>(q)].count(h.id);
        }
        const double recall = static_cast<double>(found) / static_cast<double>(std::min(n, k) * queries);
        if (ef == ef_search.front()) first_recall = recall;
        fmt::print("ef_search {:5} | recall@{} {:.4f} | query p50 {:.3f} ms p99 {:.3f} ms\n", ef, k, recall,
                   percentile(latency_ms, 0.50), percentile(latency_ms, 0.99));
    }
    if (first_recall < min_recall) {
        fmt::print(stderr, "FAIL: recall@{} {:.4f} is below {:.2f}\n", k, first_recall, min_recall);
        return 1;
    }
    return 0;
}
