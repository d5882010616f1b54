// CUDA kernel for relu: its own element-wise kernels (relu_cuda.cu), in place when the scheduler
// says so (the same kernels serve both: each element is read before it is written).
#include <cstdint>

#include "relu_cuda.h"
#include "weft/cuda/cuda_device.h"
#include "weft/plugin.h"

namespace {

class ReluCuda final : public weft::Kernel {
public:
    explicit ReluCuda(const weft::KernelConfig& config)
        : device_(weft::cuda::cuda_device(config.device)), elements_(config.outputs[0].numel()) {}

    void forward(const weft::ForwardArgs& args) override {
        weft::relu::relu_forward(device_, args.inputs[0].as<const float>(), args.outputs[0].as<float>(), elements_);
    }

    bool has_backward() const override { return true; }

    // dx = dy·[y > 0]: the schema keeps the output, not the input, for backward.
    void backward(const weft::BackwardArgs& args) override {
        weft::relu::relu_backward(device_, args.outputs[0].as<const float>(), args.grad_outputs[0].as<const float>(),
                                  args.grad_inputs[0].as<float>(), elements_);
    }

private:
    weft::cuda::CudaDevice& device_;
    std::int64_t elements_;
};

}  // namespace

WEFT_PLUGIN("relu_cuda", "1.0") { registrar.add_kernel(weft::cuda::cuda_kernel_factory<ReluCuda>("relu", "native")); }
