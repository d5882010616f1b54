// The AVX-512 vector types of the small-group kernels (`Vec` of group_conv_small_groups_tile.h):
// 16 floats in a zmm register, or 8 in a ymm register with AVX-512VL masks. Include only after
// the AVX-512 `#pragma GCC target` in a translation unit of its own, as
// group_conv_small_groups_avx512.cpp does (and the fused IGC block's AVX-512 file): everything
// here sits in an unnamed namespace so that each such file gets its own copy.
#pragma once

#include <cstdint>

#include <immintrin.h>

#include "small_groups_vec_sum.h"

namespace weft::small_groups {
namespace {

// A bit per lane l with lo <= l < hi, for a vector of `lanes` lanes.
inline unsigned lane_bits(std::int64_t lo, std::int64_t hi, int lanes) {
    lo = lo < 0 ? 0 : lo;
    hi = hi > lanes ? lanes : hi;
    if (hi <= lo) return 0u;
    return ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}

struct Zmm {
    static constexpr int lanes = 16;
    using V = __m512;
    using Mask = __mmask16;
    static V zero() { return _mm512_setzero_ps(); }
    static V set1(float f) { return _mm512_set1_ps(f); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V max(V a, V b) { return _mm512_max_ps(a, b); }
    static Mask lanes_between(std::int64_t lo, std::int64_t hi) {
        return static_cast<Mask>(lane_bits(lo, hi, lanes));
    }
    // The empty asm keeps GCC from folding a load before it into a masked load, which is what
    // keep() is there to avoid (see pad in group_conv_small_groups_tile.h).
    static V keep(V v, Mask m) {
        __asm__("" : "+v"(v));
        return _mm512_maskz_mov_ps(m, v);
    }
    static V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
    static V load_even(const float* p, Mask low, Mask high) {
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                               26, 28, 30);
        return _mm512_permutex2var_ps(load(p, low), even, load(p + lanes, high));
    }
    static void store(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
    static void store_all(float* p, V v) { _mm512_storeu_ps(p, v); }  // every lane
    // The lanes' sum: lanes k and k + 8 first, then as sum_of_lanes (a fixed order). GCC 12's
    // extract intrinsics trip its own -Wuninitialized (bug 105593): a file using sum() turns it off.
    static float sum(V v) {
        const __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
        return sum_of_lanes(_mm256_add_ps(_mm512_castps512_ps256(v), high));
    }
};

struct Ymm {
    static constexpr int lanes = 8;
    using V = __m256;
    using Mask = __mmask8;
    static V zero() { return _mm256_setzero_ps(); }
    static V set1(float f) { return _mm256_set1_ps(f); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static Mask lanes_between(std::int64_t lo, std::int64_t hi) {
        return static_cast<Mask>(lane_bits(lo, hi, lanes));
    }
    static V keep(V v, Mask m) {
        __asm__("" : "+v"(v));  // as Zmm::keep
        return _mm256_maskz_mov_ps(m, v);
    }
    static V load(const float* p, Mask m) { return _mm256_maskz_loadu_ps(m, p); }
    static V load_even(const float* p, Mask low, Mask high) {
        const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
        return _mm256_permutex2var_ps(load(p, low), even, load(p + lanes, high));
    }
    static void store(float* p, V v, Mask m) { _mm256_mask_storeu_ps(p, m, v); }
    static void store_all(float* p, V v) { _mm256_storeu_ps(p, v); }
    static float sum(V v) { return sum_of_lanes(v); }
};

}  // namespace
}  // namespace weft::small_groups
