// group_conv on the GPU for groups of few channels, the twin of group_conv_small_groups_cpu.cpp:
// the direct convolution of group_conv_small_groups_cuda_kernels.cu on the graph's NCHW tensors,
// forward and, in training, backward (dL/dx through the same kernel, dL/dW and dL/db by a two-stage
// reduction). Its launch plans are made when the node is compiled.
//
// It outranks the cuDNN kernel (priority 10) and declines the nodes it does not serve (groups wider
// than 16 channels, fused_relu in training, a tile too large for shared memory), which the registry
// then gives to cuDNN.
#include <optional>
#include <string>

#include "group_conv_small_groups_cuda_launch.h"
#include "group_conv_small_groups_cuda_plan.h"
#include "weft/cuda/cuda_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

namespace sg = weft::small_groups_cuda;

std::string declines(const weft::KernelConfig& config) {
    return sg::small_groups_declines(weft::convolution_geometry(config.attrs, config.inputs.at(0)),
                                     config.training);
}

class GroupConvSmallGroupsCuda final : public weft::Kernel {
public:
    explicit GroupConvSmallGroupsCuda(const weft::KernelConfig& config)
        : stream_(weft::cuda::cuda_device(config.device).stream()) {
        const weft::ConvolutionGeometry geometry = weft::convolution_geometry(config);
        if (const std::string why = sg::small_groups_declines(geometry, config.training); !why.empty())
            throw weft::Error(why);
        has_bias_ = geometry.bias;
        forward_ = sg::plan_forward(sg::forward_convolution(geometry));
        if (config.training) {
            const int multiprocessors =
                weft::cuda::cuda_device(config.device).properties().multiProcessorCount;
            input_gradient_ = sg::plan_forward(sg::input_gradient_convolution(geometry));
            weight_gradient_ = sg::plan_weight_gradient(geometry, multiprocessors);
        }
    }

    // The weight gradient's per-chunk partial sums.
    std::size_t workspace_bytes() const override {
        return weight_gradient_ ? static_cast<std::size_t>(weight_gradient_->partial_floats) * sizeof(float)
                                : 0;
    }

    void forward(const weft::ForwardArgs& args) override {
        const float* bias = has_bias_ ? args.params[1].as<const float>() : nullptr;
        sg::launch_direct_convolution(forward_, args.inputs[0].as<const float>(),
                                      args.params[0].as<const float>(), bias, args.outputs[0].as<float>(),
                                      stream_);
    }

    bool has_backward() const override { return input_gradient_.has_value(); }

    void backward(const weft::BackwardArgs& args) override {
        if (!has_backward()) weft::Kernel::backward(args);  // throws: built for inference
        const float* grad_output = args.grad_outputs[0].as<const float>();
        float* grad_bias = has_bias_ ? args.grad_params[1].as<float>() : nullptr;
        sg::launch_direct_convolution(*input_gradient_, grad_output, args.params[0].as<const float>(),
                                      nullptr, args.grad_inputs[0].as<float>(), stream_);
        sg::launch_weight_gradient(*weight_gradient_, args.inputs[0].as<const float>(), grad_output,
                                   static_cast<float*>(args.workspace), args.grad_params[0].as<float>(),
                                   grad_bias, stream_);
    }

private:
    cudaStream_t stream_;
    bool has_bias_ = false;
    sg::ForwardPlan forward_;
    std::optional<sg::ForwardPlan> input_gradient_;  // training only
    std::optional<sg::WeightGradPlan> weight_gradient_;
};

}  // namespace

WEFT_PLUGIN("group_conv_small_groups_cuda", "0.1.0") {
    // Above the cuDNN kernel (0), which takes the nodes this one declines.
    registrar.add_kernel(
        weft::cuda::cuda_kernel_factory<GroupConvSmallGroupsCuda>("group_conv", "small_groups",
                                                                  /*priority=*/10, declines));
}
