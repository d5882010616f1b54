// pointwise_conv on the CPU: the backend's one oneDNN convolution with a 1x1 kernel.
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "weft/cpu/onednn_convolution.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

using weft::cpu::ConvolutionGeometry;

ConvolutionGeometry pointwise_conv_geometry(const weft::KernelConfig& config) {
    const weft::TensorDesc& input = config.inputs.at(0);
    if (input.dtype != weft::DType::f32) {
        throw weft::Error(
            fmt::format("the cpu pointwise_conv computes f32 only, got input {}", input.str()));
    }
    const std::vector<std::int64_t> stride = config.attrs.get_ints("stride");  // s or [sh, sw]
    ConvolutionGeometry geometry;
    geometry.batch = input.shape.at(0);
    geometry.in_channels = input.shape.at(1);
    geometry.in_height = input.shape.at(2);
    geometry.in_width = input.shape.at(3);
    geometry.out_channels = config.attrs.get_int("out_channels");
    geometry.groups = config.attrs.get_int("groups");
    geometry.stride_h = stride.front();
    geometry.stride_w = stride.back();
    geometry.bias = config.attrs.get_bool("bias");
    geometry.input_layout = input.layout;
    geometry.output_layout = config.outputs.at(0).layout;
    return geometry;  // kernel 1x1, no padding, no dilation: the geometry's defaults
}

std::unique_ptr<weft::Kernel> create_pointwise_conv_kernel(const weft::KernelConfig& config) {
    const ConvolutionGeometry geometry = pointwise_conv_geometry(config);
    // The schema and this kernel must agree on what the node computes.
    if (geometry.output_shape() != config.outputs.at(0).shape ||
        geometry.weight_shape() != config.params.at(0).desc.shape) {
        throw weft::Error(fmt::format(
            "the cpu pointwise_conv computes {} with weight {}, but the graph expects {} with weight {}",
            weft::shape_str(geometry.output_shape()), weft::shape_str(geometry.weight_shape()),
            config.outputs[0].str(), config.params[0].desc.str()));
    }
    return std::make_unique<weft::cpu::ConvolutionKernel>(geometry, config);
}

}  // namespace

WEFT_PLUGIN("pointwise_conv_cpu", "0.1.0") {
    weft::KernelFactory factory;
    factory.op = "pointwise_conv";
    factory.backend = "cpu";
    factory.name = "onednn";
    factory.priority = 0;
    factory.create = create_pointwise_conv_kernel;
    registrar.add_kernel(std::move(factory));
}
