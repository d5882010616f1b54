// The small-group direct convolution shared by the plugin (group_conv_small_groups_cpu.cpp) and
// its per-ISA tile translation units (group_conv_small_groups_avx512.cpp, ..._avx2.cpp).
//
// Plain structs and function pointers only: the ISA translation units are compiled for
// instructions the host CPU may lack, so nothing with external linkage that another translation
// unit could also instantiate (an inline function, a std:: template) may be defined here.
#pragma once

#include <cstdint>

namespace weft::small_groups {

// One group convolution on NCHW f32 tensors, weights plain [out, C/groups, kh, kw].
struct Geometry {
    std::int64_t in_channels = 1, height = 1, width = 1;
    std::int64_t out_channels = 1, out_height = 1, out_width = 1;
    std::int64_t groups = 1, in_per_group = 1, out_per_group = 1;
    std::int64_t kernel_h = 1, kernel_w = 1;
    std::int64_t stride_h = 1, stride_w = 1;
    std::int64_t padding_h = 0, padding_w = 0;
    std::int64_t dilation_h = 1, dilation_w = 1;
    bool relu = false;
    // `width` zeros: the row a tile reads where the kernel hangs over the top or bottom edge,
    // so that border rows run the same code as interior ones.
    const float* zero_row = nullptr;
};

// A tile: `rows` output rows x one vector of output columns x a block of output channels of
// one group of one image. Pointers are already offset to that image, group and block.
struct Tile {
    const float* input;   // the group's first input channel plane
    const float* weight;  // the block's first output channel: [block][C/groups][kh][kw]
    const float* bias;    // the block's bias, or null
    float* output;        // the block's first output channel plane
    std::int64_t out_y;   // first output row of the tile
    std::int64_t out_x;   // first output column of the tile
};

using TileFunction = void (*)(const Geometry& geometry, const Tile& tile);

// A tile function with the shape it computes; `run` is null where the ISA path cannot serve.
struct TileKernel {
    int block = 0;  // output channels a tile computes (1, 2, 4 or 8)
    int rows = 0;   // output rows a tile computes
    int lanes = 0;  // output columns a tile computes
    TileFunction run = nullptr;
};

// The tile for `block` output channels (1, 2, 4 or 8) and horizontal stride 1 or 2 of the
// geometry, with as many rows as keep its accumulators in registers (at most out_height).
// Callers check the CPU first (__builtin_cpu_supports): these contain AVX-512 / AVX2 code.
TileKernel avx512_tile_kernel(const Geometry& geometry, int block);
TileKernel avx2_tile_kernel(const Geometry& geometry, int block);

}  // namespace weft::small_groups
