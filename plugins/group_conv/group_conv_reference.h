// group_conv test support: one convolution case with every geometric choice spelled out, and a
// naive convolution written from the definition (paper Eq. 1) that every CPU kernel is held to.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "weft/attributes.h"
#include "weft/tensor.h"

namespace weft::testing {

// One convolution, with every geometric choice spelled out.
struct ConvCase {
    std::int64_t batch = 1, in_channels = 1, height = 1, width = 1;
    std::int64_t out_channels = 1, groups = 1;
    std::int64_t kernel_h = 1, kernel_w = 1;
    std::int64_t stride_h = 1, stride_w = 1;
    std::int64_t padding_h = 0, padding_w = 0;
    std::int64_t dilation_h = 1, dilation_w = 1;
    bool bias = false;
    bool fused_relu = false;

    std::int64_t out_height() const {
        return (height + 2 * padding_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1;
    }
    std::int64_t out_width() const {
        return (width + 2 * padding_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1;
    }
    Shape input_shape() const { return {batch, in_channels, height, width}; }
    Shape weight_shape() const { return {out_channels, in_channels / groups, kernel_h, kernel_w}; }

    Attributes attrs() const {
        Attributes attrs;
        attrs.set("out_channels", out_channels);
        attrs.set("groups", groups);
        attrs.set("kernel", std::vector<std::int64_t>{kernel_h, kernel_w});
        attrs.set("stride", std::vector<std::int64_t>{stride_h, stride_w});
        attrs.set("padding", std::vector<std::int64_t>{padding_h, padding_w});
        attrs.set("dilation", std::vector<std::int64_t>{dilation_h, dilation_w});
        attrs.set("bias", bias);
        attrs.set("fused_relu", fused_relu);
        return attrs;
    }
    std::string str() const {
        return fmt::format(
            "input [{}, {}, {}, {}] -> {} channels, groups {}, kernel {}x{}, stride {}x{}, "
            "padding {}x{}, dilation {}x{}, bias {}, fused_relu {}",
            batch, in_channels, height, width, out_channels, groups, kernel_h, kernel_w, stride_h,
            stride_w, padding_h, padding_w, dilation_h, dilation_w, bias, fused_relu);
    }
};

// How far random_conv_case ranges; each test picks what its kernel must cover.
struct RandomConvRanges {
    std::int64_t max_groups = 4;
    std::vector<std::int64_t> stride_h{1, 2};
    std::int64_t max_padding = 1;
    std::int64_t max_height = 21, max_width = 41;
    bool random_fused_relu = false;
};

// Groups of 1, 2, 3, 4, 8 or 16 channels, 3x3 / 3x1 / 1x3 / 1x1 / 5x5 kernels, horizontal
// stride up to 3 (the portable loop inside a vector path), sometimes dilation 2, odd sizes on
// both sides of the vector widths, batch up to 3; redrawn until the kernel fits the padded input.
inline ConvCase random_conv_case(std::mt19937_64& rng, const RandomConvRanges& ranges) {
    const auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    const auto one_of = [&](const std::vector<std::int64_t>& values) {
        return values[static_cast<std::size_t>(pick(0, std::int64_t(values.size()) - 1))];
    };
    static const std::pair<std::int64_t, std::int64_t> kernels[] = {{3, 3}, {3, 3}, {3, 1}, {1, 3}, {1, 1}, {5, 5}};
    ConvCase c;
    c.batch = pick(1, 3);
    c.groups = pick(1, ranges.max_groups);
    c.in_channels = c.groups * one_of({1, 2, 3, 4, 8, 16});
    c.out_channels = c.groups * one_of({1, 2, 3, 4, 8, 16});
    const auto [kh, kw] = kernels[static_cast<std::size_t>(pick(0, 5))];
    c.kernel_h = kh, c.kernel_w = kw;
    c.stride_h = one_of(ranges.stride_h), c.stride_w = one_of({1, 1, 2, 2, 3});
    c.padding_h = pick(0, ranges.max_padding), c.padding_w = pick(0, ranges.max_padding);
    c.dilation_h = one_of({1, 1, 1, 2}), c.dilation_w = one_of({1, 1, 1, 2});
    c.bias = pick(0, 1) == 1;
    if (ranges.random_fused_relu) c.fused_relu = pick(0, 1) == 1;
    do {
        c.height = pick(1, ranges.max_height), c.width = pick(1, ranges.max_width);
    } while (c.height + 2 * c.padding_h < c.dilation_h * (c.kernel_h - 1) + 1 ||
             c.width + 2 * c.padding_w < c.dilation_w * (c.kernel_w - 1) + 1);
    return c;
}

// `count` cases of random_conv_case drawn from one seed.
inline std::vector<ConvCase> random_conv_cases(std::uint64_t seed, int count, const RandomConvRanges& ranges) {
    std::mt19937_64 rng(seed);
    std::vector<ConvCase> cases;
    for (int i = 0; i < count; ++i) cases.push_back(random_conv_case(rng, ranges));
    return cases;
}

// A 3x3 convolution padded by 1 (IGC's primary convolution): `groups` groups of in -> out channels
// on a size x size plane.
inline ConvCase three_by_three_case(std::int64_t batch, std::int64_t groups, std::int64_t in_per_group,
                                    std::int64_t out_per_group, std::int64_t size, std::int64_t stride) {
    ConvCase c;
    c.batch = batch, c.groups = groups;
    c.in_channels = groups * in_per_group, c.out_channels = groups * out_per_group;
    c.height = c.width = size;
    c.kernel_h = c.kernel_w = 3, c.padding_h = c.padding_w = 1;
    c.stride_h = c.stride_w = stride;
    return c;
}

// The primary convolutions of IGC-L24M2 (24 groups of 2, 4, 8 channels at 32, 16, 8 pixels, and the
// stride-2 ones opening stages 2 and 3) and of IGC-L4M8 (4 groups of 8, 16, 32), those with at most
// `max_per_group` channels a group.
inline std::vector<ConvCase> igc_primary_convolutions(std::int64_t batch, std::int64_t max_per_group = 32) {
    std::vector<ConvCase> cases;
    for (const auto [groups, in, out, size, stride] :
         {std::array<std::int64_t, 5>{24, 2, 2, 32, 1}, {24, 2, 4, 32, 2}, {24, 4, 4, 16, 1}, {24, 4, 8, 16, 2},
          {24, 8, 8, 8, 1}, {4, 8, 8, 32, 1}, {4, 8, 16, 32, 2}, {4, 16, 16, 16, 1}, {4, 16, 32, 16, 2},
          {4, 32, 32, 8, 1}})
        if (in <= max_per_group && out <= max_per_group)
            cases.push_back(three_by_three_case(batch, groups, in, out, size, stride));
    return cases;
}

// Eq. 1 read literally: output channel o sees only the input channels of its own group,
// through a dense kernel. Zero padding, stride and dilation as usual; sums in double; then
// max(0, .) when the case fuses a ReLU.
inline Tensor reference_group_conv(const ConvCase& c, const Tensor& input, const Tensor& weight,
                            const Tensor* bias) {
    const std::int64_t in_per_group = c.in_channels / c.groups;
    const std::int64_t out_per_group = c.out_channels / c.groups;
    const std::int64_t out_h = c.out_height(), out_w = c.out_width();
    Tensor output(TensorDesc{DType::f32, {c.batch, c.out_channels, out_h, out_w}});
    const float* x = input.as<float>();
    const float* w = weight.as<float>();
    float* y = output.as<float>();
    for (std::int64_t n = 0; n < c.batch; ++n) {
        for (std::int64_t o = 0; o < c.out_channels; ++o) {
            const std::int64_t group = o / out_per_group;
            for (std::int64_t oy = 0; oy < out_h; ++oy) {
                for (std::int64_t ox = 0; ox < out_w; ++ox) {
                    double sum = bias ? bias->as<float>()[o] : 0.0;
                    for (std::int64_t i = 0; i < in_per_group; ++i) {
                        const std::int64_t channel = group * in_per_group + i;
                        for (std::int64_t ky = 0; ky < c.kernel_h; ++ky) {
                            const std::int64_t iy =
                                oy * c.stride_h - c.padding_h + ky * c.dilation_h;
                            if (iy < 0 || iy >= c.height) continue;
                            for (std::int64_t kx = 0; kx < c.kernel_w; ++kx) {
                                const std::int64_t ix =
                                    ox * c.stride_w - c.padding_w + kx * c.dilation_w;
                                if (ix < 0 || ix >= c.width) continue;
                                sum +=
                                    double(x[((n * c.in_channels + channel) * c.height + iy) *
                                                 c.width +
                                             ix]) *
                                    double(
                                        w[((o * in_per_group + i) * c.kernel_h + ky) * c.kernel_w +
                                          kx]);
                            }
                        }
                    }
                    y[((n * c.out_channels + o) * out_h + oy) * out_w + ox] =
                        float(c.fused_relu ? std::max(sum, 0.0) : sum);
                }
            }
        }
    }
    return output;
}

}  // namespace weft::testing
