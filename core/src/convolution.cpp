// The convolution arithmetic of weft/convolution.h: one reading of a convolution's attributes and
// one output-size rule, checked against overflow, for schemas and kernels alike.
#include "weft/convolution.h"

#include <fmt/format.h>

#include "weft/checked_arithmetic.h"
#include "weft/error.h"

namespace weft {
namespace {

struct AxisPair {
    std::int64_t h = 0;
    std::int64_t w = 0;
};

// An attribute given as one value for both axes or as [height, width]; `fallback` when the op
// does not declare it.
AxisPair axis_pair(const Attributes& attrs, std::string_view name, std::int64_t fallback) {
    if (!attrs.has(name)) return {fallback, fallback};
    const std::vector<std::int64_t> values = attrs.get_ints(name);
    if (values.size() == 1) return {values[0], values[0]};
    if (values.size() == 2) return {values[0], values[1]};
    throw Error(fmt::format("{} should be one value or [height, width], got {} values", name, values.size()));
}

}  // namespace

std::int64_t convolution_output_extent(std::string_view axis, std::int64_t input, std::int64_t kernel,
                                       std::int64_t stride, std::int64_t padding, std::int64_t dilation) {
    const std::string what = fmt::format("the output {} (padding {}, kernel {}, dilation {})", axis, padding,
                                         kernel, dilation);
    const std::int64_t kernel_extent = checked_add(checked_mul(dilation, kernel - 1, what), 1, what);
    const std::int64_t padded = checked_add(input, checked_mul(2, padding, what), what);
    const std::int64_t room = padded - kernel_extent;  // both non-negative: cannot overflow
    if (room < 0)
        throw Error(fmt::format("output {} would be empty: input {} {} with padding {} is smaller than the kernel "
                                "extent {} (kernel {}, dilation {})",
                                axis, axis, input, padding, kernel_extent, kernel, dilation));
    return room / stride + 1;
}

std::int64_t ConvolutionGeometry::out_height() const {
    return convolution_output_extent("height", in_height, kernel_h, stride_h, padding_h, dilation_h);
}
std::int64_t ConvolutionGeometry::out_width() const {
    return convolution_output_extent("width", in_width, kernel_w, stride_w, padding_w, dilation_w);
}
Shape ConvolutionGeometry::input_shape() const { return {batch, in_channels, in_height, in_width}; }
Shape ConvolutionGeometry::output_shape() const { return {batch, out_channels, out_height(), out_width()}; }
Shape ConvolutionGeometry::weight_shape() const {
    return {out_channels, groups > 0 ? in_channels / groups : 0, kernel_h, kernel_w};
}
std::int64_t ConvolutionGeometry::fan_in() const {
    return checked_product({in_per_group(), kernel_h, kernel_w}, "the fan-in");
}
std::int64_t ConvolutionGeometry::macs() const {
    return checked_product({batch, out_channels, out_height(), out_width(), fan_in()});
}
std::string ConvolutionGeometry::str() const {
    return fmt::format("{} -> {} (kernel {}x{}, stride {}x{}, padding {}x{}, dilation {}x{}, groups {}{})",
                       shape_str(input_shape()), out_channels, kernel_h, kernel_w, stride_h, stride_w, padding_h,
                       padding_w, dilation_h, dilation_w, groups, bias ? ", bias" : "");
}

ConvolutionGeometry convolution_geometry(const Attributes& attrs, const TensorDesc& input) {
    if (input.rank() != 4) throw Error(fmt::format("expects an input [N, C, H, W], got {}", input.str()));
    ConvolutionGeometry g;
    g.batch = input.shape[0];
    g.in_channels = input.shape[1];
    g.in_height = input.shape[2];
    g.in_width = input.shape[3];
    g.out_channels = attrs.get_int("out_channels");
    g.groups = attrs.has("groups") ? attrs.get_int("groups") : 1;
    if (g.in_channels < 1) throw Error(fmt::format("expects at least one input channel, got {}", input.str()));
    if (g.in_channels % g.groups != 0)
        throw Error(fmt::format("in_channels {} is not divisible by groups {}", g.in_channels, g.groups));
    if (g.out_channels % g.groups != 0)
        throw Error(fmt::format("out_channels {} is not divisible by groups {}", g.out_channels, g.groups));
    const AxisPair kernel = axis_pair(attrs, "kernel", 1), stride = axis_pair(attrs, "stride", 1),
                   padding = axis_pair(attrs, "padding", 0), dilation = axis_pair(attrs, "dilation", 1);
    g.kernel_h = kernel.h, g.kernel_w = kernel.w;
    g.stride_h = stride.h, g.stride_w = stride.w;
    g.padding_h = padding.h, g.padding_w = padding.w;
    g.dilation_h = dilation.h, g.dilation_w = dilation.w;
    g.bias = attrs.has("bias") && attrs.get_bool("bias");
    g.fused_relu = attrs.has("fused_relu") && attrs.get_bool("fused_relu");
    g.output_shape();  // throws when an axis would be empty or overflow
    return g;
}

ConvolutionGeometry convolution_geometry(const KernelConfig& config) {
    const TensorDesc& input = config.inputs.at(0);
    if (input.dtype != DType::f32)
        throw Error(fmt::format("the convolution kernels compute f32 only, got input {}", input.str()));
    const ConvolutionGeometry g = convolution_geometry(config.attrs, input);
    if (g.output_shape() != config.outputs.at(0).shape || g.weight_shape() != config.params.at(0).desc.shape)
        throw Error(fmt::format("the convolution computes {} with weight {}, but the graph expects {} with weight {}",
                                shape_str(g.output_shape()), shape_str(g.weight_shape()), config.outputs[0].str(),
                                config.params[0].desc.str()));
    return g;
}

}  // namespace weft
