// The secondary 1x1 group convolution of the fused IGC block, written once over a vector type
// `Vec` (group_conv's small_groups_vec_*.h) and instantiated by each ISA translation unit after
// its `#pragma GCC target`. As there, everything sits in an unnamed namespace and no std::
// function is called, so that each file keeps its own copy compiled for its own instructions.
#pragma once

#include <cstdint>

#include "igc_block_vector.h"

namespace weft::igc_block {
namespace {

// Outputs x Vectors accumulators stay in registers while the group's input channels stream
// through them: each loaded input vector feeds Outputs multiply-adds, each broadcast weight
// Vectors of them. The last vector is stored under `last` (the band's end); the others whole.
template <class Vec, int Outputs, int Vectors>
void secondary_block(const SecondaryBand& b, std::int64_t group, std::int64_t first_out, std::int64_t pixel,
                     typename Vec::Mask last) {
    using V = typename Vec::V;
    constexpr int lanes = Vec::lanes;
    const typename Vec::Mask all = Vec::lanes_between(0, lanes);
    const std::int64_t q0 = group * b.out_per_group + first_out;  // first secondary output channel
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
void secondary_group(const SecondaryBand& b, std::int64_t group) {
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
                    secondary_block<Vec, Outputs, Vectors>(b, group, first, p, all);
                else
                    secondary_block<Vec, Outputs, 1>(b, group, first, p, Vec::lanes_between(0, b.pixels - p));
            },
            o);
    }
    for (; o < b.out_per_group; ++o) {
        columns(
            [&](std::int64_t first, std::int64_t p, int vectors) {
                if (vectors == Vectors)
                    secondary_block<Vec, 1, Vectors>(b, group, first, p, all);
                else
                    secondary_block<Vec, 1, 1>(b, group, first, p, Vec::lanes_between(0, b.pixels - p));
            },
            o);
    }
}

template <class Vec, int Outputs, int Vectors>
void secondary(const SecondaryBand& b) {
    for (std::int64_t group = 0; group < b.groups; ++group) secondary_group<Vec, Outputs, Vectors>(b, group);
}

}  // namespace
}  // namespace weft::igc_block
