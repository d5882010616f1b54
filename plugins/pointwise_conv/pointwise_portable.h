// The band functions of pointwise_band.h in plain C++, for CPUs without the vector paths (and
// when WEFT_SMALL_GROUPS_ISA=portable forces them). Host code: include from host files only.
#pragma once

#include <algorithm>
#include <cstdint>

#include "pointwise_band.h"

namespace weft::pointwise {

// The same sums as the vector paths, in the same order per output (input channels ascending),
// one pixel at a time.
inline void forward_band_portable(const Band& b) {
    for (std::int64_t group = 0; group < b.groups; ++group) {
        for (std::int64_t o = 0; o < b.out_per_group; ++o) {
            const std::int64_t q = group * b.out_per_group + o;
            const float* w = b.weight + q * b.in_per_group;
            float* y = b.output + b.destination[q] * b.out_plane;
            for (std::int64_t p = 0; p < b.pixels; ++p) {
                float sum = b.bias ? b.bias[q] : 0.f;
                for (std::int64_t j = 0; j < b.in_per_group; ++j)
                    sum += w[j] * b.band[b.source_offset[group * b.in_per_group + j] + p];
                y[p] = b.relu ? std::max(sum, 0.f) : sum;
            }
        }
    }
}

inline void weight_grad_band_portable(const WeightGradBand& b) {
    for (std::int64_t o = 0; o < b.groups * b.out_per_group; ++o) {
        const std::int64_t first_in = o / b.out_per_group * b.in_per_group;
        const float* dy = b.grad_output + b.grad_output_offset[o];
        for (std::int64_t i = 0; i < b.in_per_group; ++i) {
            const float* x = b.input + b.input_offset[first_in + i];
            float sum = 0.f;
            for (std::int64_t p = 0; p < b.pixels; ++p) sum += dy[p] * x[p];
            b.grad_weight[o * b.in_per_group + i] += sum;
        }
    }
}

}  // namespace weft::pointwise
