// The weight gradient of the small-group kernel, written once over a vector type `Vec` and
// instantiated by each ISA translation unit after its `#pragma GCC target`, under the rules of
// group_conv_small_groups_tile.h (an unnamed namespace, no std:: function): the same `Vec`,
// which also provides add(a, b).
#pragma once

#include <cstdint>

#include "group_conv_small_groups.h"

namespace weft::small_groups {
namespace {

// dW[o, c, ky, kx] += sum over (oy, ox) of dy[o, oy, ox] * x[c, oy*sh + ky*dh - ph,
// ox*sw + kx*dw - pw], lane-wise: one vector of output columns at a time, down the output rows
// where the tap lands inside the input (columns outside it load as zero, like the forward's).
// Four partial sums per tap hide the multiply-add latency; each sum is its own tap's, so the
// order of additions is fixed and the result does not depend on threads.
template <class Vec, int StrideW>
void accumulate_weight_grad(const Geometry& g, const WeightGradTile& t) {
    using V = typename Vec::V;
    using Mask = typename Vec::Mask;
    constexpr int lanes = Vec::lanes;
    const Mask all = Vec::lanes_between(0, lanes);
    const std::int64_t plane = g.height * g.width;
    for (std::int64_t ox = 0; ox < g.out_width; ox += lanes) {
        const Mask columns = Vec::lanes_between(0, g.out_width - ox);
        const float* dy = t.grad_output + ox;
        if (t.bias != nullptr) {
            V sum = Vec::load(t.bias, all);
            for (std::int64_t oy = 0; oy < g.out_height; ++oy) {
                sum = Vec::add(sum, Vec::load(dy + oy * g.out_width, columns));
            }
            Vec::store(t.bias, sum, all);
        }
        for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
            // Output rows whose input row oy * stride_h + shift lies in [0, height).
            const std::int64_t shift = ky * g.dilation_h - g.padding_h;
            const std::int64_t first = shift >= 0 ? 0 : (-shift + g.stride_h - 1) / g.stride_h;
            std::int64_t last = shift >= g.height ? 0 : (g.height - 1 - shift) / g.stride_h + 1;
            last = last < g.out_height ? last : g.out_height;
            const std::int64_t x_step = g.stride_h * g.width;
            for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
                const std::int64_t x0 = ox * StrideW + kx * g.dilation_w - g.padding_w;
                const Mask low = Vec::lanes_between(-x0, g.width - x0);
                const Mask high = Vec::lanes_between(-x0 - lanes, g.width - x0 - lanes);
                for (std::int64_t c = 0; c < g.in_per_group; ++c) {
                    const float* x = t.input + c * plane + shift * g.width + x0;
                    const auto product = [&](std::int64_t oy, V sum) {
                        const float* p = x + oy * x_step;
                        const V in = StrideW == 1 ? Vec::load(p, low) : Vec::load_even(p, low, high);
                        return Vec::fma(Vec::load(dy + oy * g.out_width, columns), in, sum);
                    };
                    V s0 = Vec::zero(), s1 = Vec::zero(), s2 = Vec::zero(), s3 = Vec::zero();
                    std::int64_t oy = first;
                    for (; oy + 4 <= last; oy += 4) {
                        s0 = product(oy, s0), s1 = product(oy + 1, s1);
                        s2 = product(oy + 2, s2), s3 = product(oy + 3, s3);
                    }
                    for (; oy < last; ++oy) s0 = product(oy, s0);
                    float* acc = t.taps + ((c * g.kernel_h + ky) * g.kernel_w + kx) * lanes;
                    const V sum = Vec::add(Vec::add(s0, s1), Vec::add(s2, s3));
                    Vec::store(acc, Vec::add(Vec::load(acc, all), sum), all);
                }
            }
        }
    }
}

// The 3x3 weight gradients' tap columns for the vector of output columns at `ox`: each column's
// first input column and its masks, whole where bit kx of Edges says no edge is crossed.
// `columns`: the output columns of the vector (bit 3 of Edges: the output ends inside it).
template <class Vec, int StrideW, int Edges>
struct TapColumns {
    std::int64_t x0[3];
    typename Vec::Mask low[3], high[3], columns;

    [[gnu::always_inline]] TapColumns(const Geometry& g, std::int64_t ox) {
        constexpr int lanes = Vec::lanes;
        const typename Vec::Mask all = Vec::lanes_between(0, lanes);
        columns = (Edges & 8) ? Vec::lanes_between(0, g.out_width - ox) : all;
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; ++kx) {
            x0[kx] = ox * StrideW + kx * g.dilation_w - g.padding_w;
            const bool edge = (Edges >> kx) & 1;
            low[kx] = edge ? Vec::lanes_between(-x0[kx], g.width - x0[kx]) : all;
            high[kx] = edge ? Vec::lanes_between(-x0[kx] - lanes, g.width - x0[kx] - lanes) : all;
        }
    }
};

// Adds input channel c's nine tap sums to the tile's partial sums.
template <class Vec>
[[gnu::always_inline]] inline void add_tap_sums(const WeightGradTile& t, std::int64_t c,
                                                const typename Vec::V (&acc)[3][3]) {
    constexpr int lanes = Vec::lanes;
    const typename Vec::Mask all = Vec::lanes_between(0, lanes);
#pragma GCC unroll 3
    for (int ky = 0; ky < 3; ++ky)
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; ++kx) {
            float* sum = t.taps + ((c * 3 + ky) * 3 + kx) * lanes;
            Vec::store(sum, Vec::add(Vec::load(sum, all), acc[ky][kx]), all);
        }
}

// The same sums for 3x3 kernels, with the loops turned around: per vector of output columns and
// input channel the nine taps' sums stay in registers while the output rows stream through, so
// each dy vector is loaded once for nine multiply-adds (accumulate_weight_grad loads it once per
// tap: two loads per multiply-add). Each tap still has one sum, added in row order: the result
// does not depend on threads. Edges: bit kx set where tap column kx's loads cross an edge of the
// image and need a mask, bit 3 where the output columns end inside the vector; the other loads
// are whole, their masks folded away at compile time.
template <class Vec, int StrideW, int Edges>
void weight_grad_3x3_columns(const Geometry& g, const WeightGradTile& t, std::int64_t ox) {
    using V = typename Vec::V;
    const std::int64_t plane = g.height * g.width;
    const float* dy = t.grad_output + ox;
    const TapColumns<Vec, StrideW, Edges> tap(g, ox);
    for (std::int64_t c = 0; c < g.in_per_group; ++c) {
        const float* x = t.input + c * plane;
        V acc[3][3];
#pragma GCC unroll 3
        for (int ky = 0; ky < 3; ++ky)
#pragma GCC unroll 3
            for (int kx = 0; kx < 3; ++kx) acc[ky][kx] = Vec::zero();
        for (std::int64_t oy = 0; oy < g.out_height; ++oy) {
            const V d = Vec::load(dy + oy * g.out_width, tap.columns);
#pragma GCC unroll 3
            for (int ky = 0; ky < 3; ++ky) {
                const std::int64_t iy = oy * g.stride_h + ky * g.dilation_h - g.padding_h;
                if (iy < 0 || iy >= g.height) continue;  // the zero padding adds nothing
                const float* row = x + iy * g.width;
#pragma GCC unroll 3
                for (int kx = 0; kx < 3; ++kx) {
                    const float* p = row + tap.x0[kx];
                    const V in = StrideW == 1 ? Vec::load(p, tap.low[kx])
                                              : Vec::load_even(p, tap.low[kx], tap.high[kx]);
                    acc[ky][kx] = Vec::fma(d, in, acc[ky][kx]);
                }
            }
        }
        add_tap_sums<Vec>(t, c, acc);
    }
}

// weight_grad_3x3_columns at vertical stride and dilation 1, the input rows streaming through
// instead of the output rows: each input row's three column vectors are loaded once and meet the
// three dy rows that read them (kept in registers as they slide down), 4 loads per 9 multiply-adds
// where weight_grad_3x3_columns loads each input row once per kernel row (10 per 9). Each tap's
// sum still gets its terms in output-row order, and only those weight_grad_3x3_columns adds: the
// same bits.
template <class Vec, int StrideW, int Edges>
void weight_grad_3x3_rows(const Geometry& g, const WeightGradTile& t, std::int64_t ox) {
    using V = typename Vec::V;
    const std::int64_t plane = g.height * g.width;
    const float* dy = t.grad_output + ox;
    const TapColumns<Vec, StrideW, Edges> tap(g, ox);
    // Input row iy meets output row oy = iy + padding_h - ky of kernel row ky.
    const auto dy_row = [&](std::int64_t oy) {
        return oy >= 0 && oy < g.out_height ? Vec::load(dy + oy * g.out_width, tap.columns) : Vec::zero();
    };
    for (std::int64_t c = 0; c < g.in_per_group; ++c) {
        const float* x = t.input + c * plane;
        V acc[3][3];
#pragma GCC unroll 3
        for (int ky = 0; ky < 3; ++ky)
#pragma GCC unroll 3
            for (int kx = 0; kx < 3; ++kx) acc[ky][kx] = Vec::zero();
        // d[ky]: output row iy + padding_h - ky, as of the row before the first.
        V d[3] = {dy_row(g.padding_h - 1), dy_row(g.padding_h - 2), Vec::zero()};
        for (std::int64_t iy = 0; iy < g.height; ++iy) {
            d[2] = d[1], d[1] = d[0], d[0] = dy_row(iy + g.padding_h);
            const float* row = x + iy * g.width;
            V in[3];
#pragma GCC unroll 3
            for (int kx = 0; kx < 3; ++kx)
                in[kx] = StrideW == 1 ? Vec::load(row + tap.x0[kx], tap.low[kx])
                                      : Vec::load_even(row + tap.x0[kx], tap.low[kx], tap.high[kx]);
#pragma GCC unroll 3
            for (int ky = 0; ky < 3; ++ky) {
                const std::int64_t oy = iy + g.padding_h - ky;
                if (oy < 0 || oy >= g.out_height) continue;  // weight_grad_3x3_columns adds nothing here
#pragma GCC unroll 3
                for (int kx = 0; kx < 3; ++kx) acc[ky][kx] = Vec::fma(d[ky], in[kx], acc[ky][kx]);
            }
        }
        add_tap_sums<Vec>(t, c, acc);
    }
}

// weight_grad_3x3_rows for the edges found at run time (0 to 15).
template <class Vec, int StrideW, int E = 0>
auto weight_grad_3x3_rows_edges(int edges) -> void (*)(const Geometry&, const WeightGradTile&, std::int64_t) {
    if constexpr (E < 16) {
        return edges == E ? &weight_grad_3x3_rows<Vec, StrideW, E>
                          : weight_grad_3x3_rows_edges<Vec, StrideW, E + 1>(edges);
    } else {
        return nullptr;
    }
}

// weight_grad_3x3_columns for the edges found at run time (0 to 15).
template <class Vec, int StrideW, int E = 0>
auto weight_grad_3x3_edges(int edges) -> void (*)(const Geometry&, const WeightGradTile&, std::int64_t) {
    if constexpr (E < 16) {
        return edges == E ? &weight_grad_3x3_columns<Vec, StrideW, E>
                          : weight_grad_3x3_edges<Vec, StrideW, E + 1>(edges);
    } else {
        return nullptr;
    }
}

template <class Vec, int StrideW, bool StreamRows>
void accumulate_weight_grad_3x3(const Geometry& g, const WeightGradTile& t) {
    using V = typename Vec::V;
    constexpr int lanes = Vec::lanes;
    const typename Vec::Mask all = Vec::lanes_between(0, lanes);
    for (std::int64_t ox = 0; ox < g.out_width; ox += lanes) {
        if (t.bias != nullptr) {
            const typename Vec::Mask columns = Vec::lanes_between(0, g.out_width - ox);
            V sum = Vec::load(t.bias, all);
            for (std::int64_t oy = 0; oy < g.out_height; ++oy) {
                sum = Vec::add(sum, Vec::load(t.grad_output + ox + oy * g.out_width, columns));
            }
            Vec::store(t.bias, sum, all);
        }
        int edges = ox + lanes <= g.out_width ? 0 : 8;
        for (int kx = 0; kx < 3; ++kx) {
            const std::int64_t x0 = ox * StrideW + kx * g.dilation_w - g.padding_w;
            if (x0 < 0 || x0 + lanes * StrideW > g.width) edges |= 1 << kx;
        }
        if constexpr (StreamRows)
            weight_grad_3x3_rows_edges<Vec, StrideW>(edges)(g, t, ox);
        else
            weight_grad_3x3_edges<Vec, StrideW>(edges)(g, t, ox);
    }
}

// `stream_rows`: weight_grad_3x3_rows where it serves (vertical stride and dilation 1).
template <class Vec>
WeightGradKernel select_weight_grad(const Geometry& g, bool stream_rows) {
    WeightGradFunction run = nullptr;
    const bool three_by_three = g.kernel_h == 3 && g.kernel_w == 3;
    const bool rows = stream_rows && g.stride_h == 1 && g.dilation_h == 1;
    if (g.stride_w == 1)
        run = !three_by_three ? &accumulate_weight_grad<Vec, 1>
              : rows          ? &accumulate_weight_grad_3x3<Vec, 1, true>
                              : &accumulate_weight_grad_3x3<Vec, 1, false>;
    if (g.stride_w == 2)
        run = !three_by_three ? &accumulate_weight_grad<Vec, 2>
              : rows          ? &accumulate_weight_grad_3x3<Vec, 2, true>
                              : &accumulate_weight_grad_3x3<Vec, 2, false>;
    return WeightGradKernel{Vec::lanes, run};
}

}  // namespace
}  // namespace weft::small_groups
