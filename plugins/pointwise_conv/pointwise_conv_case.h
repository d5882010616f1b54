// pointwise_conv test support: one 1x1 group convolution with every choice spelled out, and random
// ones (shared by the CPU and CUDA kernels' tests).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "weft/attributes.h"
#include "weft/tensor.h"

namespace weft::testing {

struct PointwiseCase {
    std::int64_t batch = 1, in_channels = 1, height = 1, width = 1;
    std::int64_t out_channels = 1, groups = 1;
    std::int64_t stride_h = 1, stride_w = 1;
    bool bias = false;

    std::int64_t out_height() const { return (height - 1) / stride_h + 1; }
    std::int64_t out_width() const { return (width - 1) / stride_w + 1; }
    Shape input_shape() const { return {batch, in_channels, height, width}; }
    Shape weight_shape() const { return {out_channels, in_channels / groups, 1, 1}; }

    Attributes attrs() const {
        Attributes attrs;
        attrs.set("out_channels", out_channels);
        attrs.set("groups", groups);
        attrs.set("stride", std::vector<std::int64_t>{stride_h, stride_w});
        attrs.set("bias", bias);
        return attrs;
    }
    std::string str() const {
        return fmt::format(
            "input [{}, {}, {}, {}] -> {} channels, groups {}, stride {}x{}, bias {}", batch,
            in_channels, height, width, out_channels, groups, stride_h, stride_w, bias);
    }
};

// Batch 1-3, 1-6 groups of 1-max_per_group channels each side, planes up to 13x13, strides 1-3,
// bias or not.
inline PointwiseCase random_pointwise_case(std::mt19937_64& rng, std::int64_t max_per_group) {
    const auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    PointwiseCase c;
    c.batch = pick(1, 3);
    c.groups = pick(1, 6);
    c.in_channels = c.groups * pick(1, max_per_group);
    c.out_channels = c.groups * pick(1, max_per_group);
    c.height = pick(1, 13), c.width = pick(1, 13);
    c.stride_h = pick(1, 3), c.stride_w = pick(1, 3);
    c.bias = pick(0, 1) == 1;
    return c;
}

}  // namespace weft::testing
