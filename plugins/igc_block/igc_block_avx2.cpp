// AVX2 secondary convolution of the fused IGC block: 4 output channels x 3 vectors of 8 pixels in
// 12 of the 16 ymm registers, the rest for three input vectors and a broadcast weight. The host
// calls it only after checking the CPU. The primary's tiles are group_conv's own
// (group_conv_small_groups_avx2.cpp, compiled into this library too).
#include <cstdint>

#include "igc_block_vector.h"

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

namespace weft::igc_block {
namespace {
using Ymm = weft::small_groups::Ymm;
}  // namespace
}  // namespace weft::igc_block

#include "igc_block_vector_body.h"

namespace weft::igc_block {

SecondaryFunction avx2_secondary() { return &secondary<Ymm, 4, 3>; }

}  // namespace weft::igc_block

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else  // not x86-64: no AVX2 path

namespace weft::igc_block {
SecondaryFunction avx2_secondary() { return nullptr; }
}  // namespace weft::igc_block

#endif
