// AVX-512 1x1 group convolution over a band (pointwise_band.h). Forward: 8 output channels x 3
// vectors of 16 pixels in 24 of the 32 zmm registers, the rest for three input vectors and a
// broadcast weight. Weight gradient: 4 x 6 weights' sums in registers. The host calls these only
// after checking the CPU.
#include <cstdint>

#include "pointwise_band.h"

#if defined(__x86_64__)

#include <immintrin.h>

// Everything below is compiled for AVX-512; no function defined before this line (nor any std::
// template) carries these instructions.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512vl,avx2,fma")
// GCC 12's AVX-512 headers trip their own -Wmaybe-uninitialized and, in Zmm::sum's extracts,
// -Wuninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "small_groups_vec_avx512.h"

namespace weft::pointwise {
namespace {
using Zmm = weft::small_groups::Zmm;
}  // namespace
}  // namespace weft::pointwise

#include "pointwise_band_body.h"

namespace weft::pointwise {

BandFunction avx512_band() { return &forward_band<Zmm, 8, 3>; }
BandFunction avx512_band_for(std::int64_t out_per_group, std::int64_t pixels) {
    // 24 accumulators either way; the block that leaves no remainder of single channels or
    // vectors, where those take a broadcast weight per multiply-add or two: IGC-L24M2's 24
    // outputs per group over bands of 4, 8 and 16 vectors, IGC-L4M8's 4 outputs per group.
    if (out_per_group % 6 == 0 && pixels % (4 * Zmm::lanes) == 0) return &forward_band<Zmm, 6, 4>;
    if (out_per_group % 8 != 0 && out_per_group % 4 == 0) return &forward_band<Zmm, 4, 6>;
    return &forward_band<Zmm, 8, 3>;
}
WeightGradFunction avx512_weight_grad() { return &weight_grad_band<Zmm, 4, 6>; }

}  // namespace weft::pointwise

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else  // not x86-64: no AVX-512 path

namespace weft::pointwise {
BandFunction avx512_band() { return nullptr; }
BandFunction avx512_band_for(std::int64_t, std::int64_t) { return nullptr; }
WeightGradFunction avx512_weight_grad() { return nullptr; }
}  // namespace weft::pointwise

#endif
