// CUDA kernel for add: its own summing kernel (add_cuda.cu) forward, in place over input 0 when
// the scheduler says so; backward hands the output gradient to every input as device copies.
#include <cstdint>
#include <vector>

#include "add_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"
#include "weft/plugin.h"

namespace {

class AddCuda final : public weft::Kernel {
public:
    explicit AddCuda(const weft::KernelConfig& config)
        : device_(weft::cuda::cuda_device(config.device)),
          elements_(config.outputs[0].numel()),
          inputs_(config.inputs.size()) {}

    void forward(const weft::ForwardArgs& args) override {
        for (std::size_t i = 0; i < inputs_.size(); ++i) inputs_[i] = args.inputs[i].as<const float>();
        weft::add::add_forward(device_, inputs_, args.outputs[0].as<float>(), elements_);
    }

    bool has_backward() const override { return true; }

    // d(Σ x_i)/dx_i = 1: every input receives the output gradient unchanged.
    void backward(const weft::BackwardArgs& args) override {
        const weft::TensorView& dy = args.grad_outputs[0];
        for (const weft::TensorView& dx : args.grad_inputs)
            if (dx.data != dy.data)
                WEFT_CUDA_CHECK(cudaMemcpyAsync(dx.data, dy.data, dy.desc.bytes(), cudaMemcpyDeviceToDevice,
                                                device_.stream()));
    }

private:
    weft::cuda::CudaDevice& device_;
    std::int64_t elements_;
    std::vector<const float*> inputs_;  // sized once; this batch's input pointers
};

}  // namespace

WEFT_PLUGIN("add_cuda", "1.0") { registrar.add_kernel(weft::cuda::cuda_kernel_factory<AddCuda>("add", "native")); }
