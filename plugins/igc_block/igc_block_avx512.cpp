// AVX-512 secondary convolution of the fused IGC block: 8 output channels x 3 vectors of 16
// pixels in 24 of the 32 zmm registers, the rest for three input vectors and a broadcast weight.
// The host calls it only after checking the CPU. The primary's tiles are group_conv's own
// (group_conv_small_groups_avx512.cpp, compiled into this library too).
#include <cstdint>

#include "igc_block_vector.h"

#if defined(__x86_64__)

#include <immintrin.h>

// Everything below is compiled for AVX-512; no function defined before this line (nor any std::
// template) carries these instructions.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512vl,avx2,fma")
// GCC 12's AVX-512 headers trip their own -Wmaybe-uninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "small_groups_vec_avx512.h"

namespace weft::igc_block {
namespace {
using Zmm = weft::small_groups::Zmm;
}  // namespace
}  // namespace weft::igc_block

#include "igc_block_vector_body.h"

namespace weft::igc_block {

SecondaryFunction avx512_secondary() { return &secondary<Zmm, 8, 3>; }

}  // namespace weft::igc_block

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else  // not x86-64: no AVX-512 path

namespace weft::igc_block {
SecondaryFunction avx512_secondary() { return nullptr; }
}  // namespace weft::igc_block

#endif
