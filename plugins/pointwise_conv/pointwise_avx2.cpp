// AVX2 1x1 group convolution over a band (pointwise_band.h). Forward: 4 output channels x 3
// vectors of 8 pixels in 12 of the 16 ymm registers, the rest for three input vectors and a
// broadcast weight. Weight gradient: 4 x 3 weights' sums in registers. The host calls these only
// after checking the CPU.
#include <cstdint>

#include "pointwise_band.h"

#if defined(__x86_64__)

#include <immintrin.h>

// Everything below is compiled for AVX2 and FMA; no function defined before this line (nor any
// std:: template) carries these instructions.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif

#include "small_groups_vec_avx2.h"

namespace weft::pointwise {
namespace {
using Ymm = weft::small_groups::Ymm;
}  // namespace
}  // namespace weft::pointwise

#include "pointwise_band_body.h"

namespace weft::pointwise {

BandFunction avx2_band() { return &forward_band<Ymm, 4, 3>; }
WeightGradFunction avx2_weight_grad() { return &weight_grad_band<Ymm, 4, 3>; }

}  // namespace weft::pointwise

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else  // not x86-64: no AVX2 path

namespace weft::pointwise {
BandFunction avx2_band() { return nullptr; }
WeightGradFunction avx2_weight_grad() { return nullptr; }
}  // namespace weft::pointwise

#endif
