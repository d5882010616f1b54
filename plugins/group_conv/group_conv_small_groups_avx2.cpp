// AVX2 tiles of the small-group convolution: 8 output columns in a ymm register, 16 registers,
// so at most 8 accumulators. The host calls these only after checking the CPU.
// The weight gradient (group_conv_small_groups_weight_grad.h) runs on the same vectors.
#include <cstdint>

#include "group_conv_small_groups.h"

#if defined(__x86_64__)

#include <immintrin.h>

// Everything below is compiled for AVX2 and FMA; the file's own flags are the project's, so no
// function defined before this line (nor any std:: template) carries these instructions.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif

#include "small_groups_vec_avx2.h"

#include "group_conv_small_groups_tile.h"
#include "group_conv_small_groups_weight_grad.h"

namespace weft::small_groups {

TileKernel avx2_tile_kernel(const Geometry& geometry, int block) {
    // 8 accumulators leave the other 8 registers for inputs and broadcast weights.
    return select_tile<Ymm>(geometry, block, 8);
}

PadFunction avx2_pad() { return &pad<Ymm>; }

WeightGradKernel avx2_weight_grad_kernel(const Geometry& geometry, bool stream_rows) {
    return select_weight_grad<Ymm>(geometry, stream_rows);
}

}  // namespace weft::small_groups

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else  // not x86-64: no AVX2 path

namespace weft::small_groups {
TileKernel avx2_tile_kernel(const Geometry&, int) { return {}; }
WeightGradKernel avx2_weight_grad_kernel(const Geometry&, bool) { return {}; }
PadFunction avx2_pad() { return nullptr; }
}  // namespace weft::small_groups

#endif
