// AVX-512 tiles of the small-group convolution: 16 output columns in a zmm register, or 8 in a
// ymm register (AVX-512VL masks, 32 registers) when the output is at most 8 wide, where a zmm
// would leave half its lanes idle. The host calls these only after checking the CPU.
// The weight gradient (group_conv_small_groups_weight_grad.h) runs on the same vectors.
#include <cstdint>

#include "group_conv_small_groups.h"

#if defined(__x86_64__)

#include <immintrin.h>

// Everything below is compiled for AVX-512; the file's own flags are the project's, so no
// function defined before this line (nor any std:: template) carries these instructions.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512vl,avx2,fma")
// GCC 12's AVX-512 headers trip their own -Wmaybe-uninitialized (_mm512_undefined_ps, GCC bug
// 105593) wherever a max or permute intrinsic is inlined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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
    static V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
    static V load_even(const float* p, Mask low, Mask high) {
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                               26, 28, 30);
        return _mm512_permutex2var_ps(load(p, low), even, load(p + lanes, high));
    }
    static void store(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
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
    static V load(const float* p, Mask m) { return _mm256_maskz_loadu_ps(m, p); }
    static V load_even(const float* p, Mask low, Mask high) {
        const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
        return _mm256_permutex2var_ps(load(p, low), even, load(p + lanes, high));
    }
    static void store(float* p, V v, Mask m) { _mm256_mask_storeu_ps(p, m, v); }
};

}  // namespace
}  // namespace weft::small_groups

#include "group_conv_small_groups_tile.h"
#include "group_conv_small_groups_weight_grad.h"

namespace weft::small_groups {

TileKernel avx512_tile_kernel(const Geometry& geometry, int block) {
    // 16 accumulators leave the other 16 registers for inputs and broadcast weights.
    if (geometry.out_width <= 8) return select_tile<Ymm>(geometry, block, 16);
    return select_tile<Zmm>(geometry, block, 16);
}

WeightGradKernel avx512_weight_grad_kernel(const Geometry& geometry) {
    if (geometry.out_width <= 8) return select_weight_grad<Ymm>(geometry);
    return select_weight_grad<Zmm>(geometry);
}

}  // namespace weft::small_groups

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else  // not x86-64: no AVX-512 path

namespace weft::small_groups {
TileKernel avx512_tile_kernel(const Geometry&, int) { return {}; }
WeightGradKernel avx512_weight_grad_kernel(const Geometry&) { return {}; }
}  // namespace weft::small_groups

#endif
