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

template <class Vec>
WeightGradKernel select_weight_grad(const Geometry& g) {
    WeightGradFunction run = nullptr;
    if (g.stride_w == 1) run = &accumulate_weight_grad<Vec, 1>;
    if (g.stride_w == 2) run = &accumulate_weight_grad<Vec, 2>;
    return WeightGradKernel{Vec::lanes, run};
}

}  // namespace
}  // namespace weft::small_groups
