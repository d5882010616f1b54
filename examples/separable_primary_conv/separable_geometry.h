// What one separable_group_conv node computes, in numbers: shared by the schema (shape rule,
// parameters, cost) and the kernels, so the two cannot disagree. README.md has the definition.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/attributes.h"
#include "weft/checked_arithmetic.h"
#include "weft/error.h"
#include "weft/tensor.h"

namespace separable {

inline constexpr std::int64_t kTaps = 3;  // the 3×1 and 1×3 kernels

struct Geometry {
    std::int64_t batch = 1;
    std::int64_t in_channels = 1;
    std::int64_t height = 1;
    std::int64_t width = 1;
    std::int64_t out_channels = 1;
    std::int64_t groups = 1;
    std::int64_t stride_h = 1;
    std::int64_t stride_w = 1;
    std::int64_t padding_h = 1;
    std::int64_t padding_w = 1;

    std::int64_t in_per_group() const { return in_channels / groups; }
    std::int64_t out_per_group() const { return out_channels / groups; }
    std::int64_t out_height() const { return (height + 2 * padding_h - kTaps) / stride_h + 1; }
    std::int64_t out_width() const { return (width + 2 * padding_w - kTaps) / stride_w + 1; }

    // x [N, C, H, W] -> 3×1 (stride_h, padding_h) -> t [N, out, Ho, W] -> 1×3 (stride_w, padding_w) -> y.
    weft::Shape intermediate_shape() const { return {batch, out_channels, out_height(), width}; }
    weft::Shape output_shape() const { return {batch, out_channels, out_height(), out_width()}; }
    weft::Shape vertical_weight_shape() const { return {out_channels, in_per_group(), kTaps, 1}; }
    weft::Shape horizontal_weight_shape() const { return {out_channels, out_per_group(), 1, kTaps}; }

    std::int64_t vertical_fan_in() const { return in_per_group() * kTaps; }
    std::int64_t horizontal_fan_in() const { return out_per_group() * kTaps; }
    // Every output of each stage costs one multiply-add per input it sees (the paper's "FLOPs").
    std::int64_t macs() const {
        return weft::checked_product({batch, out_channels, out_height(), width, vertical_fan_in()}) +
               weft::checked_product({batch, out_channels, out_height(), out_width(), horizontal_fan_in()});
    }
};

// s or [height, width] for stride and padding.
inline std::vector<std::int64_t> axis_pair(const weft::Attributes& attrs, const char* name) {
    std::vector<std::int64_t> values = attrs.get_ints(name);
    if (values.size() == 1) values.push_back(values[0]);
    if (values.size() != 2)
        throw weft::Error(std::string(name) + " should be one value or [height, width], got " +
                          std::to_string(values.size()) + " values");
    return values;
}

// The geometry of a node, or weft::Error saying what does not fit (core adds node and place).
inline Geometry geometry_of(const weft::TensorDesc& input, const weft::Attributes& attrs) {
    if (input.rank() != 4) throw weft::Error("expects an input [N, C, H, W], got " + input.str());
    Geometry g;
    g.batch = input.shape[0];
    g.in_channels = input.shape[1];
    g.height = input.shape[2];
    g.width = input.shape[3];
    g.out_channels = attrs.get_int("out_channels");
    g.groups = attrs.get_int("groups");
    const auto stride = axis_pair(attrs, "stride");
    const auto padding = axis_pair(attrs, "padding");
    g.stride_h = stride[0];
    g.stride_w = stride[1];
    g.padding_h = padding[0];
    g.padding_w = padding[1];
    if (g.in_channels < 1 || g.in_channels % g.groups != 0)
        throw weft::Error("in_channels " + std::to_string(g.in_channels) + " is not divisible by groups " +
                          std::to_string(g.groups));
    if (g.out_channels % g.groups != 0)
        throw weft::Error("out_channels " + std::to_string(g.out_channels) + " is not divisible by groups " +
                          std::to_string(g.groups));
    if (g.height + 2 * g.padding_h < kTaps || g.width + 2 * g.padding_w < kTaps)
        throw weft::Error("the output would be empty: input " + input.str() + " with padding [" +
                          std::to_string(g.padding_h) + ", " + std::to_string(g.padding_w) +
                          "] is smaller than the 3-tap kernels");
    return g;
}

}  // namespace separable
