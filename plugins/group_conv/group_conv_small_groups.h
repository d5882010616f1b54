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
    // Floats between output channel planes; 0 means a whole plane (out_height * out_width). The
    // fused IGC block writes a band of rows at a time into a scratch buffer of its own.
    std::int64_t out_channel_stride = 0;
};

// A tile: `rows` output rows x one vector of output columns x a block of output channels of
// one group of one image. Pointers are already offset to that image, group and block.
// Tiles read a padded copy of the input (PaddedRows, padded_geometry in small_groups_host.h):
// padding 0, the zeros written out and room after each row for a whole vector past the last
// tile, so no tile load needs a mask. Masked loads at the image's edges cost more than the
// arithmetic at IGC's small groups (and are microcoded on AMD's cores).
struct Tile {
    const float* input;   // the group's first input channel plane, in the padded copy
    const float* weight;  // the block's first output channel: [block][C/groups][kh][kw]
    const float* bias;    // the block's bias, or null
    float* output;        // the block's first output channel plane
    std::int64_t out_y;   // first output row of the tile
    std::int64_t out_x;   // first output column of the tile
    // The output row that `output` holds first: 0 for a whole plane, the band's first row when
    // the output is a band of rows (Geometry::out_channel_stride).
    std::int64_t out_row0 = 0;
    // Direct tiles only (avx512_direct_tile_kernel), which read the image itself: `input` is the
    // group's first channel plane in the image, and rows above and below the image are read from
    // here: zeros of the group's shape (C/groups planes). Loads are masked to the image's columns.
    const float* zeros = nullptr;
};

using TileFunction = void (*)(const Geometry& geometry, const Tile& tile);

// A tile function with the shape it computes; `run` is null where the ISA path cannot serve.
struct TileKernel {
    int block = 0;  // output channels a tile computes (1, 2, 4 or 8)
    int rows = 0;   // output rows a tile computes
    int lanes = 0;  // output columns a tile computes
    TileFunction run = nullptr;
};

// dL/dW and dL/db of one output channel from one image, as lane-wise partial sums: for each
// tap (c, ky, kx), `taps[tap]` (a vector of `lanes` floats) += dy[oy, ox] * x[c, iy, ix] over the
// output pixels, and `bias` += dy. The caller sums the lanes once all images are in, so that
// horizontal adds stay out of the per-image loop.
struct WeightGradTile {
    const float* input;        // the group's first input channel plane of one image
    const float* grad_output;  // dL/dy of the output channel in that image
    float* taps;               // [C/groups][kh][kw][lanes]
    float* bias;               // [lanes], or null when the node has no bias
};

using WeightGradFunction = void (*)(const Geometry& geometry, const WeightGradTile& tile);

// A weight-gradient function with the width of its partial sums; `run` null where the ISA
// path cannot serve the geometry.
struct WeightGradKernel {
    int lanes = 0;
    WeightGradFunction run = nullptr;
};

// The input rows a tile band reads, of one group, copied with the zero padding written out (rows
// above and below the image, `left` columns before each row, zeros after it up to
// `padded_width`, a whole number of vectors): the input every tile reads.
struct PaddedRows {
    const float* input;           // the group's first input channel plane
    float* padded;                // [channels][rows][padded_width]
    std::int64_t channels, height, width;
    std::int64_t top;             // the input row of padded row 0 (negative above the image)
    std::int64_t rows;            // padded rows to fill
    std::int64_t left;            // zero columns before each row
    std::int64_t padded_width;
    std::int64_t channel_stride;  // floats between the copy's channels
};

using PadFunction = void (*)(const PaddedRows& rows);

// The tile for `block` output channels (1, 2, 4 or 8) and horizontal stride 1 or 2 of the
// geometry, with as many rows as keep its accumulators in registers (at most out_height).
// Callers check the CPU first (__builtin_cpu_supports): these contain AVX-512 / AVX2 code.
TileKernel avx512_tile_kernel(const Geometry& geometry, int block);
// The same tiles reading the image itself (Tile::zeros) instead of a padded copy: AVX-512 only,
// whose masked loads cost what plain ones do (AVX2's are microcoded on AMD's cores).
TileKernel avx512_direct_tile_kernel(const Geometry& geometry, int block);
TileKernel avx2_tile_kernel(const Geometry& geometry, int block);
// The weight gradient for horizontal stride 1 or 2 (any vertical stride and dilation); 3x3 kernels
// at vertical stride 1 stream the input rows where `stream_rows` (the same bits, fewer loads).
WeightGradKernel avx512_weight_grad_kernel(const Geometry& geometry, bool stream_rows);
WeightGradKernel avx2_weight_grad_kernel(const Geometry& geometry, bool stream_rows);
// The padded copy (PaddedRows).
PadFunction avx512_pad();
PadFunction avx2_pad();

}  // namespace weft::small_groups
