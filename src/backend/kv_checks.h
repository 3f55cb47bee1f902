// The shape checks of the KV-cache operations, shared by every backend so that all of them refuse
// the same calls with the same messages (the values in device memory are each backend's to check).
#pragma once

#include "backend/backend.h"

namespace rf {

inline Status check_store_kv(const KvCacheShape& s, int64_t layer, const Act& k, const Act& v,
                             const BatchLayout& batch) {
    if (layer < 0 || layer >= s.n_layers) return make_error("store_kv: layer {} out of range", layer);
    if (k.cols != s.n_kv_heads * s.head_dim_k || v.cols != s.n_kv_heads * s.head_dim_v || k.rows != batch.n_tokens ||
        v.rows != batch.n_tokens)
        return make_error("store_kv: key/value rows do not match the cache");
    return ok_status();
}

inline Status check_attention(const KvCacheShape& s, int64_t layer, const Act& q, const AttentionConfig& c,
                              const BatchLayout& batch, const Act& out) {
    if (layer < 0 || layer >= s.n_layers) return make_error("attention: layer {} out of range", layer);
    if (c.n_kv_heads != s.n_kv_heads || c.head_dim_k != s.head_dim_k || c.head_dim_v != s.head_dim_v ||
        c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0 || q.cols != c.n_heads * c.head_dim_k ||
        out.cols != c.n_heads * c.head_dim_v || q.rows != batch.n_tokens || out.rows != batch.n_tokens)
        return make_error("attention: shapes do not match the cache");
    return ok_status();
}

}  // namespace rf
