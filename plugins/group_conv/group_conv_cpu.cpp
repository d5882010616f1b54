// group_conv on the CPU: the backend's one oneDNN convolution, built when the graph is compiled.
#include <memory>
#include <utility>

#include "group_conv_geometry.h"
#include "weft/cpu/onednn_convolution.h"
#include "weft/plugin.h"

namespace {

std::unique_ptr<weft::Kernel> create_group_conv_kernel(const weft::KernelConfig& config) {
    const weft::cpu::ConvolutionGeometry geometry = weft::group_conv::group_conv_geometry(config);
    // The schema and this kernel must agree on what the node computes.
    weft::group_conv::check_group_conv_shapes(geometry, config);
    return std::make_unique<weft::cpu::ConvolutionKernel>(geometry, config);
}

}  // namespace

WEFT_PLUGIN("group_conv_cpu", "0.1.0") {
    weft::KernelFactory factory;
    factory.op = "group_conv";
    factory.backend = "cpu";
    factory.name = "onednn";
    factory.priority = 0;
    factory.create = create_group_conv_kernel;
    registrar.add_kernel(std::move(factory));
}
