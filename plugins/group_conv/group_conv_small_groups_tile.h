// The direct-convolution tile of the small-group kernel, written once over a vector type `Vec`
// and instantiated by each ISA translation unit after its `#pragma GCC target`.
//
// Include only from those translation units. Everything here sits in an unnamed namespace so
// that each one gets its own copy compiled for its own instructions: a shared (weak) copy could
// be picked by the linker for a CPU that lacks them. For the same reason no std:: function is
// called here.
//
// `Vec` provides: lanes; types V and Mask; zero(), set1(f), fma(a, b, c) = a*b + c, max(a, b);
// keep(v, mask) (the masked lanes of v, the others 0);
// lanes_between(lo, hi) (lanes l with lo <= l < hi); load(p, mask) (masked lanes read as 0 and
// never touch memory); load_even(p, low, high) = p[0], p[2], ..., p[2*(lanes-1)], where `low`
// masks p[0 .. lanes) and `high` masks p[lanes .. 2*lanes); store(p, v, mask).
#pragma once

#include <cstdint>

#include "group_conv_small_groups.h"

namespace weft::small_groups {
namespace {

// A tile's accumulators start at the block's bias (or zero).
template <class Vec, int Block, int Rows>
[[gnu::always_inline]] inline void init_tile(const Tile& t, typename Vec::V (&acc)[Rows][Block]) {
#pragma GCC unroll 8
    for (int b = 0; b < Block; ++b) {
        const typename Vec::V init = t.bias ? Vec::set1(t.bias[b]) : Vec::zero();
#pragma GCC unroll 8
        for (int r = 0; r < Rows; ++r) acc[r][b] = init;
    }
}

// And end in the output (ReLU applied when fused), the columns past the output's edge left alone.
template <class Vec, int Block, int Rows>
[[gnu::always_inline]] inline void store_tile(const Geometry& g, const Tile& t,
                                              const typename Vec::V (&acc)[Rows][Block]) {
    const std::int64_t out_plane =
        g.out_channel_stride != 0 ? g.out_channel_stride : g.out_height * g.out_width;
    const auto store_rows = [&](auto store) {
#pragma GCC unroll 8
        for (int r = 0; r < Rows; ++r) {
            float* y = t.output + (t.out_y + r - t.out_row0) * g.out_width + t.out_x;
#pragma GCC unroll 8
            for (int b = 0; b < Block; ++b)
                store(y + b * out_plane, g.relu ? Vec::max(acc[r][b], Vec::zero()) : acc[r][b]);
        }
    };
    // A tile inside the output's width stores whole vectors, not under a mask of every lane:
    // masked stores are the slower kind on some CPUs (on this project's AMD machine the change
    // was within the noise of its measurement).
    if (g.out_width - t.out_x >= Vec::lanes) {
        store_rows([](float* y, typename Vec::V v) { Vec::store_all(y, v); });
    } else {
        const typename Vec::Mask columns = Vec::lanes_between(0, g.out_width - t.out_x);
        store_rows([&](float* y, typename Vec::V v) { Vec::store(y, v, columns); });
    }
}

// Where a tile reads its input. Over the padded copy (Direct false: padding 0, see Tile) every row
// and column loads whole. The direct tiles (Direct true) read the image itself, padding and all,
// where AVX-512 masks make that cheap (a masked load costs what a plain one does there): each load
// is masked to the columns inside the image, and a row above or below it is read from `t.zeros`, a
// zero image of the group's shape, so that no row needs a mask of its own and the padded copy (a
// quarter of an IGC block's time on AVX-512, most of it waiting for the input) is not made. Both
// make the same sums in the same order.
template <class Vec, bool Direct>
struct TileInput {
    using Mask = typename Vec::Mask;
    // The lanes of a load at input column x0 (lane l reads column x0 + l; stride 2's second
    // half from x0 + lanes) that fall inside the image.
    [[gnu::always_inline]] static Mask columns(const Geometry& g, std::int64_t x0) {
        if constexpr (Direct) return Vec::lanes_between(-x0, g.width - x0);
        return Vec::lanes_between(0, Vec::lanes);
    }
    // Input row iy of the group's channel 0 (padded rows count from the copy's first).
    [[gnu::always_inline]] static const float* row(const Geometry& g, const Tile& t, std::int64_t iy) {
        if constexpr (Direct) return iy >= 0 && iy < g.height ? t.input + iy * g.width : t.zeros;
        return t.input + iy * g.width;
    }
};

// Rows x Block accumulators stay in registers; the (C/groups x kh x kw) taps stream through
// them. Each input vector feeds Block multiply-adds, each broadcast weight Rows of them.
// Channels > 0 is the group's input channel count and a 3 x 3 kernel known when compiled (4:
// IGC-L24M2's second stage), for a channel loop that unrolls whole and constant weight offsets.
template <class Vec, int Block, int Rows, int StrideW, bool Direct, int Channels = 0>
void run_tile(const Geometry& g, const Tile& t) {
    using V = typename Vec::V;
    using In = TileInput<Vec, Direct>;
    constexpr int lanes = Vec::lanes;
    const std::int64_t plane = g.height * g.width;
    const std::int64_t channels = Channels > 0 ? Channels : g.in_per_group;
    const std::int64_t kernel_h = Channels > 0 ? 3 : g.kernel_h, kernel_w = Channels > 0 ? 3 : g.kernel_w;
    const std::int64_t taps = kernel_h * kernel_w;
    const std::int64_t weight_stride = channels * taps;  // between output channels

    V acc[Rows][Block];
    init_tile<Vec, Block, Rows>(t, acc);

    for (std::int64_t ky = 0; ky < kernel_h; ++ky) {
        const float* row[Rows];
#pragma GCC unroll 8
        for (int r = 0; r < Rows; ++r)
            row[r] = In::row(g, t, (t.out_y + r) * g.stride_h + ky * g.dilation_h - g.padding_h);
        for (std::int64_t kx = 0; kx < kernel_w; ++kx) {
            // Lane 0's input column.
            const std::int64_t x0 = t.out_x * StrideW + kx * g.dilation_w - g.padding_w;
            const typename Vec::Mask low = In::columns(g, x0), high = In::columns(g, x0 + lanes);
            const float* w = t.weight + ky * kernel_w + kx;
#pragma GCC unroll 8
            for (std::int64_t c = 0; c < channels; ++c) {
                V weight[Block];
#pragma GCC unroll 8
                for (int b = 0; b < Block; ++b) weight[b] = Vec::set1(w[b * weight_stride + c * taps]);
#pragma GCC unroll 8
                for (int r = 0; r < Rows; ++r) {
                    const float* p = row[r] + c * plane + x0;
                    const V x = StrideW == 1 ? Vec::load(p, low) : Vec::load_even(p, low, high);
#pragma GCC unroll 8
                    for (int b = 0; b < Block; ++b) acc[r][b] = Vec::fma(weight[b], x, acc[r][b]);
                }
            }
        }
    }

    store_tile<Vec, Block, Rows>(g, t, acc);
}

// A 3-row kernel at vertical stride and dilation 1,
// for blocks of at most 2 output channels (IGC-L24M2's first stage): the input rows stream
// through once, each loaded vector feeding every output row and kernel row it meets, with the
// Block x 3 weights of a (channel, column) in registers. run_tile loads each input row once per
// kernel row instead: 12 loads per 24 multiply-adds at Rows 4 where this takes 6, and at two
// output channels per load the loads, not the multiply-adds, were the limit. Rows 4 where 16
// registers hold the accumulators (AVX2), 8 where 32 do (AVX-512: 16 accumulators, 6 weights and
// the input row): there run_tile's 30 loads per 48 multiply-adds become 16, and IGC-L24M2-D20's
// first-stage blocks took 2.65 ms a batch instead of 3.5.
//
// Channels > 0 is the group's input channel count and a 3-column kernel known when compiled (2:
// IGC-L24M2's first stage): the (channel, column) loop unrolls whole, each column's masks are made
// once, and the weights' offsets are constants. Channels 0 reads both from the geometry.
template <class Vec, int Block, int Rows, int StrideW, bool Direct, int Channels = 0>
void run_tile_streaming_rows(const Geometry& g, const Tile& t) {
    using V = typename Vec::V;
    using In = TileInput<Vec, Direct>;
    constexpr int lanes = Vec::lanes;
    constexpr int kernel_rows = 3;
    const std::int64_t plane = g.height * g.width;
    const std::int64_t channels = Channels > 0 ? Channels : g.in_per_group;
    const std::int64_t kernel_w = Channels > 0 ? 3 : g.kernel_w;
    const std::int64_t taps = kernel_rows * kernel_w;
    const std::int64_t weight_stride = channels * taps;

    const float* row[Rows + kernel_rows - 1];  // output row out_y + r reads rows r .. r + 2 of these
#pragma GCC unroll 10
    for (int i = 0; i < Rows + kernel_rows - 1; ++i) row[i] = In::row(g, t, t.out_y + i - g.padding_h);

    V acc[Rows][Block];
    init_tile<Vec, Block, Rows>(t, acc);
#pragma GCC unroll 8
    for (std::int64_t c = 0; c < channels; ++c) {
#pragma GCC unroll 3
        for (std::int64_t kx = 0; kx < kernel_w; ++kx) {
            const std::int64_t x0 = t.out_x * StrideW + kx * g.dilation_w - g.padding_w;
            const typename Vec::Mask low = In::columns(g, x0), high = In::columns(g, x0 + lanes);
            V weight[Block][kernel_rows];
#pragma GCC unroll 8
            for (int b = 0; b < Block; ++b)
#pragma GCC unroll 3
                for (int ky = 0; ky < kernel_rows; ++ky)
                    weight[b][ky] = Vec::set1(t.weight[b * weight_stride + c * taps + ky * kernel_w + kx]);
#pragma GCC unroll 10
            for (int i = 0; i < Rows + kernel_rows - 1; ++i) {
                const float* p = row[i] + c * plane + x0;
                const V x = StrideW == 1 ? Vec::load(p, low) : Vec::load_even(p, low, high);
#pragma GCC unroll 3
                for (int ky = 0; ky < kernel_rows; ++ky) {
                    const int r = i - ky;
                    if (r < 0 || r >= Rows) continue;
#pragma GCC unroll 8
                    for (int b = 0; b < Block; ++b) acc[r][b] = Vec::fma(weight[b][ky], x, acc[r][b]);
                }
            }
        }
    }

    store_tile<Vec, Block, Rows>(g, t, acc);
}

template <class Vec, int Block, int StrideW, bool Direct>
TileFunction tile_with_rows(int rows) {
    switch (rows) {
        case 1: return &run_tile<Vec, Block, 1, StrideW, Direct>;
        case 2: return &run_tile<Vec, Block, 2, StrideW, Direct>;
        case 4: if constexpr (Block <= 4) return &run_tile<Vec, Block, 4, StrideW, Direct>; break;
        case 8: if constexpr (Block <= 2) return &run_tile<Vec, Block, 8, StrideW, Direct>; break;
    }
    return nullptr;
}

// The tile for a block of `block` channels and `rows` rows: streaming rows where they serve.
template <class Vec, int StrideW, bool Direct>
TileFunction tile_function(const Geometry& g, int block, int rows) {
    const bool streaming = g.kernel_h == 3 && g.stride_h == 1 && g.dilation_h == 1 && block <= 2 &&
                           (rows == 4 || rows == 8);
    if (streaming && rows == 8 && block == 2 && g.in_per_group == 2 && g.kernel_w == 3)
        return &run_tile_streaming_rows<Vec, 2, 8, StrideW, Direct, 2>;
    if (streaming && rows == 4)
        return block == 1 ? &run_tile_streaming_rows<Vec, 1, 4, StrideW, Direct>
                          : &run_tile_streaming_rows<Vec, 2, 4, StrideW, Direct>;
    if (streaming)
        return block == 1 ? &run_tile_streaming_rows<Vec, 1, 8, StrideW, Direct>
                          : &run_tile_streaming_rows<Vec, 2, 8, StrideW, Direct>;
    if (block == 4 && rows == 4 && g.in_per_group == 4 && g.kernel_h == 3 && g.kernel_w == 3)
        return &run_tile<Vec, 4, 4, StrideW, Direct, 4>;
    switch (block) {
        case 1: return tile_with_rows<Vec, 1, StrideW, Direct>(rows);
        case 2: return tile_with_rows<Vec, 2, StrideW, Direct>(rows);
        case 4: return tile_with_rows<Vec, 4, StrideW, Direct>(rows);
        case 8: return tile_with_rows<Vec, 8, StrideW, Direct>(rows);
    }
    return nullptr;
}

// The copy goes one vector column at a time: that column's masks are made once, then every
// channel's rows pass through it, each vector made in a register and stored once. A row's vector
// is a plain load at its place in the image row (which straddles two cache lines: the row starts
// `left` floats into the copy) with the lanes outside the row then zeroed; only where that load
// would reach outside the group's input (its first and last row) does a masked load read the
// row's lanes alone. Measured on AVX-512 (AMD): a masked load that straddles cache lines and
// misses the cache costs several times a plain one; writing the zeros first and the row over them
// under masks, with the masks made again for every row, made this copy 45% of an IGC block's time.
// The last store of a row is masked to it: the row is a whole number of the tiles' vectors, on
// AVX-512 possibly half of this one's (8-lane tiles for outputs at most 8 wide).
template <class Vec>
void pad(const PaddedRows& p) {
    constexpr int lanes = Vec::lanes;
    using Mask = typename Vec::Mask;
    const Mask all = Vec::lanes_between(0, lanes);
    const std::int64_t width = p.width, padded_width = p.padded_width, rows = p.rows;
    const std::int64_t plane = p.height * width, input_floats = p.channels * plane;
    // Rows [inside_begin, inside_end) of the copy are image rows; the others are zeros.
    const std::int64_t inside_begin = p.top < 0 ? (-p.top < rows ? -p.top : rows) : 0;
    std::int64_t inside_end = p.height - p.top < rows ? p.height - p.top : rows;
    inside_end = inside_end < inside_begin ? inside_begin : inside_end;
    for (std::int64_t i = 0; i < padded_width; i += lanes) {
        const std::int64_t column = i - p.left;  // the image column of the vector's lane 0
        const Mask row = Vec::lanes_between(-column, width - column);
        const Mask store = Vec::lanes_between(0, padded_width - i);
        for (std::int64_t c = 0; c < p.channels; ++c) {
            float* to = p.padded + c * p.channel_stride + i;
            std::int64_t r = 0;
            for (; r < inside_begin; ++r) Vec::store(to + r * padded_width, Vec::zero(), store);
            std::int64_t offset = c * plane + (p.top + r) * width + column;  // in the group's input
            for (; r < inside_end; ++r, offset += width) {
                const float* from = p.input + offset;
                const bool whole = offset >= 0 && offset + lanes <= input_floats;
                const typename Vec::V v = whole ? Vec::keep(Vec::load(from, all), row) : Vec::load(from, row);
                Vec::store(to + r * padded_width, v, store);
            }
            for (; r < rows; ++r) Vec::store(to + r * padded_width, Vec::zero(), store);
        }
    }
}

// As many rows as `accumulators` registers allow (a power of two, at most 8 and at most the
// output height: a last partial tile is recomputed overlapping the one before it).
template <class Vec, bool Direct = false>
TileKernel select_tile(const Geometry& g, int block, int accumulators) {
    int rows = 1;
    while (rows < 8 && 2 * rows * block <= accumulators && 2 * rows <= g.out_height) rows *= 2;
    TileFunction run = nullptr;
    if (g.stride_w == 1) run = tile_function<Vec, 1, Direct>(g, block, rows);
    if (g.stride_w == 2) run = tile_function<Vec, 2, Direct>(g, block, rows);
    // Aggregate initialisation: no constructor of a shared type is emitted in this file.
    return TileKernel{block, rows, Vec::lanes, run};
}

// Images narrower than a vector (IGC's last stage is 8 wide): a direct tile whose vectors each
// hold lanes / width whole output rows, the plane read as one flat array, so that a 16-lane
// register is full where a row tile would fill 8 lanes. At stride 1 with the output the input's
// size, a tap's inputs for consecutive output pixels are consecutive: one load per vector, masked
// to the lanes whose input row and column fall inside the image. Vec's masks must be bit masks
// (AVX-512). Rows vectors x Block channels of accumulators; a tile is Rows * lanes / width rows.
template <class Vec, int Block, int Rows>
void run_tile_flat(const Geometry& g, const Tile& t) {
    using V = typename Vec::V;
    using Mask = typename Vec::Mask;
    constexpr int lanes = Vec::lanes;
    const std::int64_t width = g.width, rows_per_vector = lanes / width;
    const std::int64_t plane = g.height * width;
    const std::int64_t taps = g.kernel_h * g.kernel_w;
    const std::int64_t weight_stride = g.in_per_group * taps;
    const unsigned row_bits = (1u << width) - 1u;  // one row's lanes

    V acc[Rows][Block];
    init_tile<Vec, Block, Rows>(t, acc);
    for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
        const std::int64_t dy = ky * g.dilation_h - g.padding_h;
        // Per vector: the lanes whose input row is inside the image.
        unsigned rows_inside[Rows];
#pragma GCC unroll 8
        for (int r = 0; r < Rows; ++r) {
            rows_inside[r] = 0;
            for (std::int64_t k = 0; k < rows_per_vector; ++k) {
                const std::int64_t iy = t.out_y + r * rows_per_vector + k + dy;
                if (iy >= 0 && iy < g.height) rows_inside[r] |= row_bits << (k * width);
            }
        }
        for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
            const std::int64_t dx = kx * g.dilation_w - g.padding_w;
            // The lanes whose input column is inside, in every row of a vector.
            const std::int64_t lo = -dx > 0 ? -dx : 0, hi = width - dx < width ? width - dx : width;
            const unsigned one_row = hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
            unsigned columns_inside = 0;
            for (std::int64_t k = 0; k < rows_per_vector; ++k) columns_inside |= one_row << (k * width);
            Mask mask[Rows];
            const float* from[Rows];
#pragma GCC unroll 8
            for (int r = 0; r < Rows; ++r) {
                mask[r] = static_cast<Mask>(rows_inside[r] & columns_inside);
                from[r] = t.input + (t.out_y + r * rows_per_vector + dy) * width + dx;
            }
            const float* w = t.weight + ky * g.kernel_w + kx;
            for (std::int64_t c = 0; c < g.in_per_group; ++c) {
                // The Rows inputs first, then one broadcast weight at a time: Block x Rows
                // accumulators, Rows inputs and one weight are live, where holding all Block
                // weights made GCC spill two of them to the stack in the loop.
                V x[Rows];
#pragma GCC unroll 8
                for (int r = 0; r < Rows; ++r) x[r] = Vec::load(from[r] + c * plane, mask[r]);
#pragma GCC unroll 8
                for (int b = 0; b < Block; ++b) {
                    const V weight = Vec::set1(w[b * weight_stride + c * taps]);
#pragma GCC unroll 8
                    for (int r = 0; r < Rows; ++r) acc[r][b] = Vec::fma(weight, x[r], acc[r][b]);
                }
            }
        }
    }

    // Each vector's rows are consecutive in the output too.
    const std::int64_t out_plane = g.out_channel_stride != 0 ? g.out_channel_stride : g.out_height * width;
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
        float* y = t.output + (t.out_y + r * rows_per_vector - t.out_row0) * width;
#pragma GCC unroll 8
        for (int b = 0; b < Block; ++b) {
            const V v = g.relu ? Vec::max(acc[r][b], Vec::zero()) : acc[r][b];
            Vec::store_all(y + b * out_plane, v);
        }
    }
}

// The flat tile where it serves: stride 1, the output the input's size, a width that divides the
// vector (below it), and at least one whole tile of rows; null elsewhere.
template <class Vec>
TileKernel select_flat_tile(const Geometry& g, int block, int accumulators) {
    constexpr int lanes = Vec::lanes;
    if (g.stride_h != 1 || g.stride_w != 1 || g.out_height != g.height || g.out_width != g.width ||
        g.width >= lanes || lanes % g.width != 0)
        return {};
    const int rows_per_vector = lanes / static_cast<int>(g.width);
    int vectors = 1;  // per tile
    const auto fits = [&](int v) { return v * block <= accumulators && v * rows_per_vector <= g.out_height; };
    while (vectors < 4 && fits(2 * vectors)) vectors *= 2;
    if (vectors * rows_per_vector > g.out_height) return {};
    TileFunction run = nullptr;
    switch (block * 10 + vectors) {
        case 11: run = &run_tile_flat<Vec, 1, 1>; break;
        case 12: run = &run_tile_flat<Vec, 1, 2>; break;
        case 14: run = &run_tile_flat<Vec, 1, 4>; break;
        case 21: run = &run_tile_flat<Vec, 2, 1>; break;
        case 22: run = &run_tile_flat<Vec, 2, 2>; break;
        case 24: run = &run_tile_flat<Vec, 2, 4>; break;
        case 41: run = &run_tile_flat<Vec, 4, 1>; break;
        case 42: run = &run_tile_flat<Vec, 4, 2>; break;
        case 44: run = &run_tile_flat<Vec, 4, 4>; break;
        case 81: run = &run_tile_flat<Vec, 8, 1>; break;
        case 82: run = &run_tile_flat<Vec, 8, 2>; break;
    }
    return TileKernel{block, vectors * rows_per_vector, static_cast<int>(g.width), run};
}

}  // namespace
}  // namespace weft::small_groups
