// A group_conv node's attributes and tensors as the CPU backend's ConvolutionGeometry: the one
// reading of the schema that both CPU kernels (oneDNN and small groups) share.
#pragma once

#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "weft/cpu/onednn_convolution.h"
#include "weft/error.h"
#include "weft/kernel.h"

namespace weft::group_conv {

inline cpu::ConvolutionGeometry group_conv_geometry(const KernelConfig& config) {
    const TensorDesc& input = config.inputs.at(0);
    if (input.dtype != DType::f32) {
        throw Error(fmt::format("the cpu group_conv computes f32 only, got input {}", input.str()));
    }
    const Attributes& attrs = config.attrs;
    const auto axis_pair = [&](const char* name) {
        const std::vector<std::int64_t> values = attrs.get_ints(name);
        return std::pair{values.front(), values.back()};  // k or [kh, kw]; the schema checked
    };
    cpu::ConvolutionGeometry geometry;
    geometry.batch = input.shape.at(0);
    geometry.in_channels = input.shape.at(1);
    geometry.in_height = input.shape.at(2);
    geometry.in_width = input.shape.at(3);
    geometry.out_channels = attrs.get_int("out_channels");
    geometry.groups = attrs.get_int("groups");
    std::tie(geometry.kernel_h, geometry.kernel_w) = axis_pair("kernel");
    std::tie(geometry.stride_h, geometry.stride_w) = axis_pair("stride");
    std::tie(geometry.padding_h, geometry.padding_w) = axis_pair("padding");
    std::tie(geometry.dilation_h, geometry.dilation_w) = axis_pair("dilation");
    geometry.bias = attrs.get_bool("bias");
    geometry.fused_relu = attrs.get_bool("fused_relu");
    geometry.input_layout = input.layout;
    geometry.output_layout = config.outputs.at(0).layout;
    return geometry;
}

// Throws unless the kernel's geometry computes the output and weight shapes the graph expects.
inline void check_group_conv_shapes(const cpu::ConvolutionGeometry& geometry,
                                    const KernelConfig& config) {
    if (geometry.output_shape() != config.outputs.at(0).shape ||
        geometry.weight_shape() != config.params.at(0).desc.shape) {
        throw Error(fmt::format(
            "the cpu group_conv computes {} with weight {}, but the graph expects {} with weight {}",
            shape_str(geometry.output_shape()), shape_str(geometry.weight_shape()),
            config.outputs[0].str(), config.params[0].desc.str()));
    }
}

}  // namespace weft::group_conv
