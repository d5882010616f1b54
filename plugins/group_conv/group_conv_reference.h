// group_conv test support: one convolution case with every geometric choice spelled out, and a
// naive convolution written from the definition (paper Eq. 1) that every CPU kernel is held to.
#pragma once

#include <algorithm>
#include <cstdint>
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
