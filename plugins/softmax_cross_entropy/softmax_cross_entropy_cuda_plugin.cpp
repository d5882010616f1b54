// CUDA kernel for softmax_cross_entropy: its own warp-per-row kernels
// (softmax_cross_entropy_cuda.cu), the cpu kernel's arithmetic in double, label smoothing
// included. The loss stays on the device; backward reads dL/dloss there too, so nothing waits for
// the GPU. Labels are checked on the GPU: a label outside the classes makes the loss NaN, which
// the training loop stops at, rather than an error thrown here.
#include <cstdint>

#include "softmax_cross_entropy_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"
#include "weft/plugin.h"

namespace {

class SoftmaxCrossEntropyCuda final : public weft::Kernel {
public:
    explicit SoftmaxCrossEntropyCuda(const weft::KernelConfig& config)
        : device_(weft::cuda::cuda_device(config.device)),
          // [N, K] and [N, K, 1, 1] share one layout.
          batch_{config.inputs[0].shape[0], config.inputs[0].shape[1], config.attrs.get_real("label_smoothing")} {}

    std::size_t workspace_bytes() const override { return weft::softmax_cross_entropy::workspace_bytes(batch_); }

    void forward(const weft::ForwardArgs& args) override {
        weft::softmax_cross_entropy::loss_forward(device_, batch_, args.inputs[0].as<const float>(),
                                                  args.inputs[1].as<const std::int32_t>(), args.outputs[0].as<float>(),
                                                  args.workspace);
    }

    bool has_backward() const override { return true; }

    void backward(const weft::BackwardArgs& args) override {
        weft::softmax_cross_entropy::loss_backward(device_, batch_, args.inputs[0].as<const float>(),
                                                   args.inputs[1].as<const std::int32_t>(),
                                                   args.grad_outputs[0].as<const float>(),
                                                   args.grad_inputs[0].as<float>());
        // Class indices are not differentiable: their gradient is zero, as bytes (the buffer is i32).
        if (args.grad_inputs.size() > 1 && args.grad_inputs[1].data != nullptr)
            WEFT_CUDA_CHECK(cudaMemsetAsync(args.grad_inputs[1].data, 0, args.grad_inputs[1].desc.bytes(),
                                            device_.stream()));
    }

private:
    weft::cuda::CudaDevice& device_;
    weft::softmax_cross_entropy::Batch batch_;
};

}  // namespace

WEFT_PLUGIN("softmax_cross_entropy_cuda", "1.0") {
    registrar.add_kernel(
        weft::cuda::cuda_kernel_factory<SoftmaxCrossEntropyCuda>("softmax_cross_entropy", "native"));
}
