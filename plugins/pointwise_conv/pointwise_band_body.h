// A 1x1 group convolution over one band (pointwise_band.h), forward and weight gradient, written
// once over a vector type `Vec` (group_conv's small_groups_vec_*.h) and instantiated by each ISA
// translation unit after its `#pragma GCC target`. As there, everything sits in an unnamed
// namespace and no std:: function is called, so that each file keeps its own copy compiled for
// its own instructions.
#pragma once

#include <cstdint>

#include "pointwise_band.h"

namespace weft::pointwise {
namespace {

// Outputs x Vectors accumulators stay in registers while the group's input channels stream
// through them: each loaded input vector feeds Outputs multiply-adds, each broadcast weight
// Vectors of them. The last vector is stored under `last` (the band's end); the others whole.
template <class Vec, int Outputs, int Vectors>
void band_block(const Band& b, std::int64_t group, std::int64_t first_out, std::int64_t pixel,
                     typename Vec::Mask last) {
    using V = typename Vec::V;
    constexpr int lanes = Vec::lanes;
    const typename Vec::Mask all = Vec::lanes_between(0, lanes);
    const std::int64_t q0 = group * b.out_per_group + first_out;  // first output channel
    const float* w = b.weight + q0 * b.in_per_group;
    const std::int64_t* offset = b.source_offset + group * b.in_per_group;

    V acc[Outputs][Vectors];
#pragma GCC unroll 8
    for (int o = 0; o < Outputs; ++o) {
        const V init = b.bias ? Vec::set1(b.bias[q0 + o]) : Vec::zero();
#pragma GCC unroll 8
        for (int v = 0; v < Vectors; ++v) acc[o][v] = init;
    }
    for (std::int64_t j = 0; j < b.in_per_group; ++j) {
        const float* x = b.band + offset[j] + pixel;
        V in[Vectors];
#pragma GCC unroll 8
        for (int v = 0; v < Vectors; ++v) in[v] = Vec::load(x + v * lanes, v == Vectors - 1 ? last : all);
        if (b.next_band != nullptr && first_out == 0) {
            const float* ahead = b.next_band + offset[j] + pixel;
#pragma GCC unroll 8
            for (int v = 0; v < Vectors; ++v) __builtin_prefetch(ahead + v * lanes, 0, 3);
        }
#pragma GCC unroll 8
        for (int o = 0; o < Outputs; ++o) {
            const V weight = Vec::set1(w[o * b.in_per_group + j]);
#pragma GCC unroll 8
            for (int v = 0; v < Vectors; ++v) acc[o][v] = Vec::fma(weight, in[v], acc[o][v]);
        }
    }
#pragma GCC unroll 8
    for (int o = 0; o < Outputs; ++o) {
        float* y = b.output + b.destination[q0 + o] * b.out_plane + pixel;
#pragma GCC unroll 8
        for (int v = 0; v < Vectors; ++v) {
            const V value = b.relu ? Vec::max(acc[o][v], Vec::zero()) : acc[o][v];
            Vec::store(y + v * lanes, value, v == Vectors - 1 ? last : all);
        }
    }
}

// One group's outputs over the band's pixels: blocks of Outputs channels (then single ones) by
// Vectors vectors of pixels (then single, the last one masked to the band's end).
template <class Vec, int Outputs, int Vectors>
void band_group(const Band& b, std::int64_t group) {
    constexpr int lanes = Vec::lanes;
    const typename Vec::Mask all = Vec::lanes_between(0, lanes);
    const std::int64_t wide = b.pixels / (Vectors * lanes) * (Vectors * lanes);
    const auto columns = [&](auto one_output, std::int64_t o) {
        for (std::int64_t p = 0; p < wide; p += Vectors * lanes) one_output(o, p, Vectors);
        for (std::int64_t p = wide; p < b.pixels; p += lanes) one_output(o, p, 1);
    };
    std::int64_t o = 0;
    for (; o + Outputs <= b.out_per_group; o += Outputs) {
        columns(
            [&](std::int64_t first, std::int64_t p, int vectors) {
                if (vectors == Vectors)
                    band_block<Vec, Outputs, Vectors>(b, group, first, p, all);
                else
                    band_block<Vec, Outputs, 1>(b, group, first, p, Vec::lanes_between(0, b.pixels - p));
            },
            o);
    }
    for (; o < b.out_per_group; ++o) {
        columns(
            [&](std::int64_t first, std::int64_t p, int vectors) {
                if (vectors == Vectors)
                    band_block<Vec, 1, Vectors>(b, group, first, p, all);
                else
                    band_block<Vec, 1, 1>(b, group, first, p, Vec::lanes_between(0, b.pixels - p));
            },
            o);
    }
}

template <class Vec, int Outputs, int Vectors>
void forward_band(const Band& b) {
    for (std::int64_t group = 0; group < b.groups; ++group) band_group<Vec, Outputs, Vectors>(b, group);
}


// Outputs x Inputs weights of one group: their sums over the band's pixels stay in registers, one
// vector of lanes each, while the pixels stream through (each loaded dy vector feeds Inputs
// multiply-adds, each x vector Outputs); then each vector's lanes are added up in registers in a
// fixed tree order (Vec::sum: a few shuffles; adding them one by one through memory had cost as
// many instructions as the band's multiply-adds at IGC's band widths). A last partial vector is
// loaded under a mask, which reads its missing lanes as zeros.
template <class Vec, int Outputs, int Inputs>
void weight_grad_block(const WeightGradBand& b, std::int64_t group, std::int64_t first_out,
                       std::int64_t first_in) {
    using V = typename Vec::V;
    constexpr int lanes = Vec::lanes;
    const std::int64_t o0 = group * b.out_per_group + first_out;
    const std::int64_t i0 = group * b.in_per_group + first_in;
    const float* x_plane[Inputs];
    const float* dy_plane[Outputs];
#pragma GCC unroll 8
    for (int i = 0; i < Inputs; ++i) x_plane[i] = b.input + b.input_offset[i0 + i];
#pragma GCC unroll 8
    for (int o = 0; o < Outputs; ++o) dy_plane[o] = b.grad_output + b.grad_output_offset[o0 + o];
    V acc[Outputs][Inputs];
#pragma GCC unroll 8
    for (int o = 0; o < Outputs; ++o) {
#pragma GCC unroll 8
        for (int i = 0; i < Inputs; ++i) acc[o][i] = Vec::zero();
    }
    const auto step = [&](std::int64_t p, typename Vec::Mask m) {
        V x[Inputs];
#pragma GCC unroll 8
        for (int i = 0; i < Inputs; ++i) x[i] = Vec::load(x_plane[i] + p, m);
#pragma GCC unroll 8
        for (int o = 0; o < Outputs; ++o) {
            const V dy = Vec::load(dy_plane[o] + p, m);
#pragma GCC unroll 8
            for (int i = 0; i < Inputs; ++i) acc[o][i] = Vec::fma(dy, x[i], acc[o][i]);
        }
    };
    // Whole vectors, then the last one under its mask: no mask in the loop's registers.
    const typename Vec::Mask all = Vec::lanes_between(0, lanes);
    const std::int64_t whole = b.pixels / lanes * lanes;
    for (std::int64_t p = 0; p < whole; p += lanes) step(p, all);
    if (whole < b.pixels) step(whole, Vec::lanes_between(0, b.pixels - whole));
#pragma GCC unroll 8
    for (int o = 0; o < Outputs; ++o) {
#pragma GCC unroll 8
        for (int i = 0; i < Inputs; ++i)
            b.grad_weight[(o0 + o) * b.in_per_group + first_in + i] += Vec::sum(acc[o][i]);
    }
}

// Every group's weights in blocks of Outputs x Inputs, the edges in blocks of one.
template <class Vec, int Outputs, int Inputs>
void weight_grad_band(const WeightGradBand& b) {
    for (std::int64_t group = 0; group < b.groups; ++group) {
        std::int64_t o = 0;
        for (; o + Outputs <= b.out_per_group; o += Outputs) {
            std::int64_t i = 0;
            for (; i + Inputs <= b.in_per_group; i += Inputs)
                weight_grad_block<Vec, Outputs, Inputs>(b, group, o, i);
            for (; i < b.in_per_group; ++i) weight_grad_block<Vec, Outputs, 1>(b, group, o, i);
        }
        for (; o < b.out_per_group; ++o) {
            std::int64_t i = 0;
            for (; i + Inputs <= b.in_per_group; i += Inputs)
                weight_grad_block<Vec, 1, Inputs>(b, group, o, i);
            for (; i < b.in_per_group; ++i) weight_grad_block<Vec, 1, 1>(b, group, o, i);
        }
    }
}

}  // namespace
}  // namespace weft::pointwise
