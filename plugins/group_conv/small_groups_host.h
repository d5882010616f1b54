// Host-side pieces of the small-group convolution shared by the group_conv kernel and the fused
// IGC block: the geometry read from a convolution node, the geometry and copy of the padded input
// every tile reads (see Tile), the portable loop that runs where no vector path does, and the
// prefetch of the planes read next. Include
// from host files only (not from the ISA translation units).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "group_conv_small_groups.h"
#include "small_groups_isa_choice.h"
#include "weft/convolution.h"

namespace weft::small_groups {

// Asks for every cache line (16 floats) of [p, p + floats) ahead of its use, with
// __builtin_prefetch's locality (3: into the first level, 0: non-temporal). The kernels prefetch
// the planes they read next: those lie a plane or an image apart, on pages where the hardware
// prefetchers stop.
template <int Locality>
inline void prefetch_floats(const float* p, std::int64_t floats) {
    for (std::int64_t i = 0; i < floats; i += 16) __builtin_prefetch(p + i, 0, Locality);
}

inline Geometry small_groups_geometry(const weft::ConvolutionGeometry& conv) {
    Geometry g;
    g.in_channels = conv.in_channels, g.height = conv.in_height, g.width = conv.in_width;
    g.out_channels = conv.out_channels;
    g.out_height = conv.out_height(), g.out_width = conv.out_width();
    g.groups = conv.groups;
    g.in_per_group = conv.in_channels / conv.groups;
    g.out_per_group = conv.out_channels / conv.groups;
    g.kernel_h = conv.kernel_h, g.kernel_w = conv.kernel_w;
    g.stride_h = conv.stride_h, g.stride_w = conv.stride_w;
    g.padding_h = conv.padding_h, g.padding_w = conv.padding_w;
    g.dilation_h = conv.dilation_h, g.dilation_w = conv.dilation_w;
    g.relu = conv.fused_relu;
    return g;
}

// A group's output channels in blocks of 8, 4, 2, 1, each with its tile function: the direct tiles
// (AVX-512, reading the image) where `direct`, else the padded copy's of the ISA. Empty (the
// portable loop) for the portable ISA or where the ISA has no tile for the geometry (e.g. a
// horizontal stride above 2).
inline std::vector<TileKernel> block_tiles(const Geometry& g, Isa isa, bool direct) {
    std::vector<TileKernel> blocks;
    if (isa == Isa::portable) return blocks;
    for (std::int64_t done = 0; done < g.out_per_group;) {
        int block = 8;
        while (block > g.out_per_group - done) block /= 2;
        const TileKernel tile = direct               ? avx512_direct_tile_kernel(g, block)
                                : isa == Isa::avx512 ? avx512_tile_kernel(g, block)
                                                     : avx2_tile_kernel(g, block);
        if (tile.run == nullptr) return {};
        blocks.push_back(tile);
        done += block;
    }
    return blocks;
}

// Eq. 1 for one image and one group, scalar: each tap adds a scaled input row segment to an
// output row, over the columns where the tap lands inside the input. Any stride and dilation.
inline void convolve_group_portable(const Geometry& g, const float* input, const float* weight,
                             const float* bias, float* output) {
    const std::int64_t out_plane = g.out_height * g.out_width;
    for (std::int64_t o = 0; o < g.out_per_group; ++o) {
        float* y = output + o * out_plane;
        std::fill(y, y + out_plane, bias ? bias[o] : 0.f);
        for (std::int64_t c = 0; c < g.in_per_group; ++c) {
            const float* x = input + c * g.height * g.width;
            for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
                for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
                    const float w = weight[((o * g.in_per_group + c) * g.kernel_h + ky) *
                                               g.kernel_w + kx];
                    const std::int64_t shift = kx * g.dilation_w - g.padding_w;
                    // Output columns whose input column ox * stride + shift is in [0, width).
                    const std::int64_t first =
                        std::max<std::int64_t>(0, (-shift + g.stride_w - 1) / g.stride_w);
                    const std::int64_t last = std::min<std::int64_t>(
                        g.out_width, shift >= g.width ? 0 : (g.width - 1 - shift) / g.stride_w + 1);
                    for (std::int64_t oy = 0; oy < g.out_height; ++oy) {
                        const std::int64_t iy = oy * g.stride_h + ky * g.dilation_h - g.padding_h;
                        if (iy < 0 || iy >= g.height) continue;
                        const float* x_row = x + iy * g.width + shift;
                        float* y_row = y + oy * g.out_width;
                        for (std::int64_t ox = first; ox < last; ++ox) {
                            y_row[ox] += w * x_row[ox * g.stride_w];
                        }
                    }
                }
            }
        }
        if (g.relu) {
            for (std::int64_t i = 0; i < out_plane; ++i) y[i] = std::max(y[i], 0.f);
        }
    }
}

// The geometry `tiles` run on over a padded copy of the input rows that `out_rows` output rows
// read: padding 0, zero rows and columns written out, each row wide enough that no vector load of
// the widest tile leaves it and a whole number of its vectors long (for the copy's stores).
inline Geometry padded_geometry(const Geometry& g, std::int64_t out_rows,
                                const std::vector<TileKernel>& tiles) {
    int lanes = 1;
    for (const TileKernel& tile : tiles) lanes = std::max(lanes, tile.lanes);
    const std::int64_t last_vector = (g.out_width - 1) / lanes * lanes;  // the last tile's first column
    Geometry p = g;
    p.padding_h = p.padding_w = 0;
    p.width = last_vector * g.stride_w + (g.kernel_w - 1) * g.dilation_w + lanes * g.stride_w;
    p.width = std::max(p.width, g.width + g.padding_w);
    p.width = (p.width + lanes - 1) / lanes * lanes;
    p.height = (out_rows - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1;
    return p;
}

// The input rows that output rows [first_row, first_row + rows) read, clamped to the image: the
// first of them and how many.
struct InputRows {
    std::int64_t first, count;
};

inline InputRows input_rows(const Geometry& g, std::int64_t first_row, std::int64_t rows) {
    const std::int64_t top = first_row * g.stride_h - g.padding_h;
    const std::int64_t bottom = top + (rows - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1;
    const std::int64_t first = std::max<std::int64_t>(top, 0);
    return {first, std::max<std::int64_t>(0, std::min(bottom, g.height) - first)};
}

// The copy of one group's input rows that output rows [first_row, first_row + rows) read, into
// `to` laid out as `padded` says.
inline PaddedRows padded_rows(const Geometry& g, const Geometry& padded, const float* group_input, float* to,
                              std::int64_t first_row, std::int64_t rows) {
    return PaddedRows{group_input,
                      to,
                      g.in_per_group,
                      g.height,
                      g.width,
                      first_row * g.stride_h - g.padding_h,
                      (rows - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1,
                      g.padding_w,
                      padded.width,
                      padded.height * padded.width};
}

}  // namespace weft::small_groups
