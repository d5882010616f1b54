// CUDA kernel for softmax: its own warp-per-row kernels (softmax_cuda.cu) along the schema's axis;
// backward from the output alone, dx = y ⊙ (dy − Σ_axis dy ⊙ y).
#include <cstdint>

#include "softmax_cuda.h"
#include "weft/cuda/cuda_device.h"
#include "weft/plugin.h"

namespace {

weft::softmax::Rows rows_along(const weft::Shape& shape, std::int64_t axis) {
    weft::softmax::Rows rows;
    rows.length = shape[static_cast<std::size_t>(axis)];
    for (std::int64_t d = 0; d < axis; ++d) rows.outer *= shape[static_cast<std::size_t>(d)];
    for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < shape.size(); ++d) rows.inner *= shape[d];
    return rows;
}

class SoftmaxCuda final : public weft::Kernel {
public:
    explicit SoftmaxCuda(const weft::KernelConfig& config)
        : device_(weft::cuda::cuda_device(config.device)),
          rows_(rows_along(config.inputs[0].shape, config.attrs.get_int("axis"))) {}

    void forward(const weft::ForwardArgs& args) override {
        weft::softmax::softmax_forward(device_, rows_, args.inputs[0].as<const float>(), args.outputs[0].as<float>());
    }

    bool has_backward() const override { return true; }

    void backward(const weft::BackwardArgs& args) override {
        weft::softmax::softmax_backward(device_, rows_, args.outputs[0].as<const float>(),
                                        args.grad_outputs[0].as<const float>(), args.grad_inputs[0].as<float>());
    }

private:
    weft::cuda::CudaDevice& device_;
    weft::softmax::Rows rows_;
};

}  // namespace

WEFT_PLUGIN("softmax_cuda", "1.0") {
    registrar.add_kernel(weft::cuda::cuda_kernel_factory<SoftmaxCuda>("softmax", "native"));
}
