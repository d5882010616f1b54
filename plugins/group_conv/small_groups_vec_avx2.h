// The AVX2 vector type of the small-group kernels (`Vec` of group_conv_small_groups_tile.h): 8
// floats in a ymm register. Include only after `#pragma GCC target("avx2,fma")` in a translation
// unit of its own, as group_conv_small_groups_avx2.cpp does (and the fused IGC block's AVX2 file):
// everything here sits in an unnamed namespace so that each such file gets its own copy.
#pragma once

#include <cstdint>

#include <immintrin.h>

#include "small_groups_vec_sum.h"

namespace weft::small_groups {
namespace {

struct Ymm {
    static constexpr int lanes = 8;
    using V = __m256;
    // Lanes to load or store (all-ones lanes), and whether that is all of them: a full mask
    // takes a plain access, since masked ones are slow on some CPUs (microcoded stores on AMD).
    struct Mask {
        __m256i lanes;
        bool all;
    };
    static V zero() { return _mm256_setzero_ps(); }
    static V set1(float f) { return _mm256_set1_ps(f); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static Mask lanes_between(std::int64_t lo, std::int64_t hi) {
        lo = lo < 0 ? 0 : lo;
        hi = hi > lanes ? lanes : hi;
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i from = _mm256_set1_epi32(static_cast<int>(lo) - 1);
        const __m256i to = _mm256_set1_epi32(static_cast<int>(hi));
        return Mask{_mm256_and_si256(_mm256_cmpgt_epi32(lane, from), _mm256_cmpgt_epi32(to, lane)),
                    lo == 0 && hi == lanes};
    }
    static V keep(V v, Mask m) { return _mm256_and_ps(v, _mm256_castsi256_ps(m.lanes)); }
    static V load(const float* p, Mask m) {
        return m.all ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m.lanes);
    }
    static V load_even(const float* p, Mask low, Mask high) {
        // [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 | b0 b2 b4 b6]
        const __m256 pairs = _mm256_shuffle_ps(load(p, low), load(p + lanes, high),
                                               _MM_SHUFFLE(2, 0, 2, 0));
        return _mm256_castpd_ps(
            _mm256_permute4x64_pd(_mm256_castps_pd(pairs), _MM_SHUFFLE(3, 1, 2, 0)));
    }
    static void store(float* p, V v, Mask m) {
        if (m.all) {
            _mm256_storeu_ps(p, v);
        } else {
            _mm256_maskstore_ps(p, m.lanes, v);
        }
    }
    static void store_all(float* p, V v) { _mm256_storeu_ps(p, v); }
    static float sum(V v) { return sum_of_lanes(v); }  // in a fixed order
};

}  // namespace
}  // namespace weft::small_groups
