// The direct-convolution tile of the small-group kernel, written once over a vector type `Vec`
// and instantiated by each ISA translation unit after its `#pragma GCC target`.
//
// Include only from those translation units. Everything here sits in an unnamed namespace so
// that each one gets its own copy compiled for its own instructions: a shared (weak) copy could
// be picked by the linker for a CPU that lacks them. For the same reason no std:: function is
// called here.
//
// `Vec` provides: lanes; types V and Mask; zero(), set1(f), fma(a, b, c) = a*b + c, max(a, b);
// lanes_between(lo, hi) (lanes l with lo <= l < hi); load(p, mask) (masked lanes read as 0 and
// never touch memory); load_even(p, low, high) = p[0], p[2], ..., p[2*(lanes-1)], where `low`
// masks p[0 .. lanes) and `high` masks p[lanes .. 2*lanes); store(p, v, mask).
#pragma once

#include <cstdint>

#include "group_conv_small_groups.h"

namespace weft::small_groups {
namespace {

// Rows x Block accumulators stay in registers; the (C/groups x kh x kw) taps stream through
// them. Each input vector feeds Block multiply-adds, each broadcast weight Rows of them.
// Padded: the input needs no edge checks (Geometry::padded_input), so rows and columns load
// whole, with no mask computed.
template <class Vec, int Block, int Rows, int StrideW, bool Padded>
void run_tile(const Geometry& g, const Tile& t) {
    using V = typename Vec::V;
    using Mask = typename Vec::Mask;
    constexpr int lanes = Vec::lanes;
    const std::int64_t plane = g.height * g.width;
    const std::int64_t taps = g.kernel_h * g.kernel_w;
    const std::int64_t weight_stride = g.in_per_group * taps;  // between output channels

    V acc[Rows][Block];
#pragma GCC unroll 8
    for (int b = 0; b < Block; ++b) {
        const V init = t.bias ? Vec::set1(t.bias[b]) : Vec::zero();
#pragma GCC unroll 8
        for (int r = 0; r < Rows; ++r) acc[r][b] = init;
    }

    for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
        // Rows over the top or bottom edge read the zero row, whatever the channel.
        const float* row[Rows];
        std::int64_t channel_step[Rows];
#pragma GCC unroll 8
        for (int r = 0; r < Rows; ++r) {
            const std::int64_t y = (t.out_y + r) * g.stride_h + ky * g.dilation_h - g.padding_h;
            const bool inside = Padded || (y >= 0 && y < g.height);
            row[r] = inside ? t.input + y * g.width : g.zero_row;
            channel_step[r] = inside ? plane : 0;
        }
        for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
            // Input column of lane 0; lanes whose column falls outside the row read zero padding.
            const std::int64_t x0 = t.out_x * StrideW + kx * g.dilation_w - g.padding_w;
            const Mask low = Padded ? Vec::lanes_between(0, lanes) : Vec::lanes_between(-x0, g.width - x0);
            const Mask high =
                Padded ? Vec::lanes_between(0, lanes) : Vec::lanes_between(-x0 - lanes, g.width - x0 - lanes);
            const float* w = t.weight + ky * g.kernel_w + kx;
            for (std::int64_t c = 0; c < g.in_per_group; ++c) {
                V weight[Block];
#pragma GCC unroll 8
                for (int b = 0; b < Block; ++b) weight[b] = Vec::set1(w[b * weight_stride + c * taps]);
#pragma GCC unroll 8
                for (int r = 0; r < Rows; ++r) {
                    const float* p = row[r] + c * channel_step[r] + x0;
                    const V x = StrideW == 1 ? Vec::load(p, low) : Vec::load_even(p, low, high);
#pragma GCC unroll 8
                    for (int b = 0; b < Block; ++b) acc[r][b] = Vec::fma(weight[b], x, acc[r][b]);
                }
            }
        }
    }

    const Mask columns = Vec::lanes_between(0, g.out_width - t.out_x);
    const std::int64_t out_plane =
        g.out_channel_stride != 0 ? g.out_channel_stride : g.out_height * g.out_width;
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
        float* y = t.output + (t.out_y + r - t.out_row0) * g.out_width + t.out_x;
#pragma GCC unroll 8
        for (int b = 0; b < Block; ++b) {
            const V v = g.relu ? Vec::max(acc[r][b], Vec::zero()) : acc[r][b];
            Vec::store(y + b * out_plane, v, columns);
        }
    }
}

template <class Vec, int Block, int StrideW, bool Padded>
TileFunction tile_with_rows(int rows) {
    switch (rows) {
        case 1: return &run_tile<Vec, Block, 1, StrideW, Padded>;
        case 2: return &run_tile<Vec, Block, 2, StrideW, Padded>;
        case 4: if constexpr (Block <= 4) return &run_tile<Vec, Block, 4, StrideW, Padded>; break;
        case 8: if constexpr (Block <= 2) return &run_tile<Vec, Block, 8, StrideW, Padded>; break;
    }
    return nullptr;
}

template <class Vec, int StrideW, bool Padded>
TileFunction tile_with_block(int block, int rows) {
    switch (block) {
        case 1: return tile_with_rows<Vec, 1, StrideW, Padded>(rows);
        case 2: return tile_with_rows<Vec, 2, StrideW, Padded>(rows);
        case 4: return tile_with_rows<Vec, 4, StrideW, Padded>(rows);
        case 8: return tile_with_rows<Vec, 8, StrideW, Padded>(rows);
    }
    return nullptr;
}

// As many rows as `accumulators` registers allow (a power of two, at most 8 and at most the
// output height: a last partial tile is recomputed overlapping the one before it).
template <class Vec>
TileKernel select_tile(const Geometry& g, int block, int accumulators) {
    int rows = 1;
    while (rows < 8 && 2 * rows * block <= accumulators && 2 * rows <= g.out_height) rows *= 2;
    TileFunction run = nullptr;
    if (g.stride_w == 1) run = g.padded_input ? tile_with_block<Vec, 1, true>(block, rows)
                                              : tile_with_block<Vec, 1, false>(block, rows);
    if (g.stride_w == 2) run = g.padded_input ? tile_with_block<Vec, 2, true>(block, rows)
                                              : tile_with_block<Vec, 2, false>(block, rows);
    // Aggregate initialisation: no constructor of a shared type is emitted in this file.
    return TileKernel{block, rows, Vec::lanes, run};
}

}  // namespace
}  // namespace weft::small_groups
