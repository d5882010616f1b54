// CUDA kernel for batch_norm: its own reductions and element-wise passes (batch_norm_cuda.cu),
// the arithmetic of the cpu's direct kernel. Inference normalises with the running statistics;
// training with the batch's own, kept in the node's saved memory (mean and 1/sqrt(var + eps)
// per channel) for backward, and folded into the running statistics. A fused ReLU keeps no mask:
// backward recomputes it from the input, the saved statistics and γ, β (not yet updated then).
// Under --sync-bn (KernelConfig::batch_group) the per-channel sums cross the host to be summed
// over the group, once in forward and once in backward.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "batch_norm_cuda.h"
#include "weft/cuda/cuda_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

using weft::batch_norm::BatchStatistics;
using weft::batch_norm::Parameters;

Parameters parameters(std::span<const weft::TensorView> params) {
    return Parameters{params[0].as<const float>(), params[1].as<const float>(), params[2].as<float>(),
                      params[3].as<float>()};
}

class BatchNormCuda final : public weft::Kernel {
public:
    explicit BatchNormCuda(const weft::KernelConfig& config)
        : device_(weft::cuda::cuda_device(config.device)),
          training_(config.training),
          group_(config.training ? config.batch_group : nullptr) {
        if (config.params.size() != 4)
            throw weft::Error(fmt::format("node '{}': batch_norm expects 4 parameters, got {}", config.node_name,
                                          config.params.size()));
        const weft::Shape& s = config.inputs[0].shape;
        const weft::Shape spatial(s.begin() + 2, s.end());
        geometry_ = weft::batch_norm::make_geometry(s[0], s[1], weft::shape_numel(spatial), device_);
        if (group_) geometry_.processes = group_->size();
        settings_.eps = config.attrs.get_real("eps");
        settings_.momentum = static_cast<float>(config.attrs.get_real("momentum"));
        settings_.relu = config.attrs.get_bool("fused_relu");
    }

    // The group's sums after the kernel's own scratch, 8-byte aligned as the scratch ends on floats.
    std::size_t workspace_bytes() const override {
        return exchanged_offset() + (group_ ? weft::batch_norm::exchanged_bytes(geometry_) : 0);
    }
    std::size_t saved_bytes() const override {
        return training_ ? 2 * static_cast<std::size_t>(geometry_.channels) * sizeof(float) : 0;
    }

    void forward(const weft::ForwardArgs& args) override {
        const float* x = args.inputs[0].as<const float>();
        float* y = args.outputs[0].as<float>();
        if (training_ && group_)
            weft::batch_norm::training_forward_over_group(device_, geometry_, settings_, x, y, parameters(args.params),
                                                          statistics(args.saved), args.workspace, *group_,
                                                          exchanged(args.workspace), host_);
        else if (training_)
            weft::batch_norm::training_forward(device_, geometry_, settings_, x, y, parameters(args.params),
                                               statistics(args.saved), args.workspace);
        else
            weft::batch_norm::inference_forward(device_, geometry_, settings_, x, y, parameters(args.params),
                                                args.workspace);
    }

    bool has_backward() const override { return training_; }

    void backward(const weft::BackwardArgs& args) override {
        const weft::batch_norm::Gradients grads{args.grad_inputs[0].as<float>(), args.grad_params[0].as<float>(),
                                                args.grad_params[1].as<float>(), args.grad_params[2].as<float>(),
                                                args.grad_params[3].as<float>()};
        const float* x = args.inputs[0].as<const float>();
        const float* dy = args.grad_outputs[0].as<const float>();
        if (group_)
            weft::batch_norm::backward_over_group(device_, geometry_, settings_, x, dy, parameters(args.params),
                                                  statistics(args.saved), grads, args.workspace, *group_,
                                                  exchanged(args.workspace), host_);
        else
            weft::batch_norm::backward(device_, geometry_, settings_, x, dy, parameters(args.params),
                                       statistics(args.saved), grads, args.workspace);
    }

private:
    BatchStatistics statistics(void* saved) const {
        auto* mean = static_cast<float*>(saved);
        return BatchStatistics{mean, mean + geometry_.channels};
    }

    std::size_t exchanged_offset() const {
        return (weft::batch_norm::workspace_bytes(geometry_, training_) + 7) / 8 * 8;
    }
    double* exchanged(void* workspace) const {
        return reinterpret_cast<double*>(static_cast<std::byte*>(workspace) + exchanged_offset());
    }

    weft::cuda::CudaDevice& device_;
    bool training_;
    weft::Collective* group_;   // --sync-bn: the processes the statistics are over; else null
    std::vector<double> host_;  // the group's sums on their way through the host
    weft::batch_norm::Geometry geometry_;
    weft::batch_norm::Settings settings_;
};

}  // namespace

WEFT_PLUGIN("batch_norm_cuda", "1.0") {
    registrar.add_kernel(weft::cuda::cuda_kernel_factory<BatchNormCuda>("batch_norm", "native"));
}
