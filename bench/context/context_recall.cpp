// Recall of the context store's HNSW index against exact search on random unit vectors, with the
// insert rate and query latency (p50/p99). Exits 1 when recall@k falls below --min-recall.
//
//   context_recall [--n 100000] [--dim 256] [--queries 1000] [--k 10] [--m 16]
//                  [--ef-construction 200] [--ef-search 128] [--min-recall 0.95]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <set>
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
    double min_recall = 0.95;
    rf::context::HnswOptions o;
    app.add_option("--n", n, "Vectors in the index")->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
    app.add_option("--dim", dim, "Dimension")->check(CLI::Range(int64_t{1}, int64_t{65536}));
    app.add_option("--queries", queries, "Queries")->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
    app.add_option("--k", k, "Neighbours per query")->check(CLI::Range(int64_t{1}, int64_t{1000}));
    app.add_option("--m", o.m, "HNSW links per node");
    app.add_option("--ef-construction", o.ef_construction, "HNSW candidate list while building");
    app.add_option("--ef-search", o.ef_search, "HNSW candidate list while searching");
    app.add_option("--min-recall", min_recall, "Fail below this recall");
    CLI11_PARSE(app, argc, argv);

    const auto d = static_cast<size_t>(dim);
    const auto data = random_unit_vectors(static_cast<size_t>(n), d, 1);
    const auto qs = random_unit_vectors(static_cast<size_t>(queries), d, 2);
    auto index = rf::context::VectorIndex::create(dim, o);
    if (!index) {
        fmt::print(stderr, "error: {}\n", index.error().message);
        return 2;
    }
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < n; ++i) {
        auto added = (*index)->add(i, std::span(data).subspan(static_cast<size_t>(i) * d, d));
        if (!added) {
            fmt::print(stderr, "error: {}\n", added.error().message);
            return 2;
        }
    }
    const double insert_s = std::chrono::duration<double>(Clock::now() - t0).count();

    std::vector<double> latency_ms;
    size_t found = 0;
    for (int64_t q = 0; q < queries; ++q) {
        const auto query = std::span(qs).subspan(static_cast<size_t>(q) * d, d);
        const auto s = Clock::now();
        auto hits = (*index)->search(query, k);
        latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        if (!hits) {
            fmt::print(stderr, "error: {}\n", hits.error().message);
            return 2;
        }
        std::set<int64_t> exact;
        for (const auto& h : rf::context::exact_search(data, dim, query, k)) exact.insert(h.id);
        for (const auto& h : *hits) found += exact.count(h.id);
    }
    const double recall = static_cast<double>(found) / static_cast<double>(std::min(n, k) * queries);
    fmt::print("vectors {} dim {} queries {} k {} | M {} ef_construction {} ef_search {}\n", n, dim, queries, k, o.m,
               o.ef_construction, o.ef_search);
    fmt::print("recall@{} {:.4f} | insert {:.0f} vectors/s ({:.1f} s) | query p50 {:.3f} ms p99 {:.3f} ms\n", k, recall,
               static_cast<double>(n) / insert_s, insert_s, percentile(latency_ms, 0.50), percentile(latency_ms, 0.99));
    if (recall < min_recall) {
        fmt::print(stderr, "FAIL: recall@{} {:.4f} is below {:.2f}\n", k, recall, min_recall);
        return 1;
    }
    return 0;
}
