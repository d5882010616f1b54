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

#include "small_groups_vec_avx512.h"

#include "group_conv_small_groups_tile.h"
#include "group_conv_small_groups_weight_grad.h"

namespace weft::small_groups {

TileKernel avx512_tile_kernel(const Geometry& geometry, int block) {
    // 16 accumulators leave the other 16 registers for inputs and broadcast weights.
    if (geometry.out_width <= 8) return select_tile<Ymm>(geometry, block, 16);
    return select_tile<Zmm>(geometry, block, 16);
}

TileKernel avx512_direct_tile_kernel(const Geometry& geometry, int block) {
    // Rows of at most 8 floats: whole rows packed in a zmm register where they divide it.
    if (const TileKernel flat = select_flat_tile<Zmm>(geometry, block, 16); flat.run != nullptr) return flat;
    if (geometry.out_width <= 8) return select_tile<Ymm, /*Direct=*/true>(geometry, block, 16);
    return select_tile<Zmm, /*Direct=*/true>(geometry, block, 16);
}

PadFunction avx512_pad() { return &pad<Zmm>; }

WeightGradKernel avx512_weight_grad_kernel(const Geometry& geometry, bool stream_rows) {
    if (geometry.out_width <= 8) return select_weight_grad<Ymm>(geometry, stream_rows);
    return select_weight_grad<Zmm>(geometry, stream_rows);
}

}  // namespace weft::small_groups

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else  // not x86-64: no AVX-512 path

namespace weft::small_groups {
TileKernel avx512_tile_kernel(const Geometry&, int) { return {}; }
TileKernel avx512_direct_tile_kernel(const Geometry&, int) { return {}; }
WeightGradKernel avx512_weight_grad_kernel(const Geometry&, bool) { return {}; }
PadFunction avx512_pad() { return nullptr; }
}  // namespace weft::small_groups

#endif
