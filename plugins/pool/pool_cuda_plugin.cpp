// CUDA kernel for pool: its own kernels (pool_cuda.cu) for max, average (padding excluded) and
// global average over the window pool_geometry.h resolves. In training, max pooling keeps where
// each maximum came from (an int32 per output) in the node's saved memory for backward, which
// then needs neither the input nor the output.
#include <cstddef>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "pool_cuda.h"
#include "pool_geometry.h"
#include "weft/cuda/cuda_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

enum class Mode { max, avg, global_avg };

// The node's window on three axes: its spatial dimensions are the last of depth, height, width.
weft::pool::Planes planes_of(const weft::pool::PoolGeometry& g, const weft::TensorDesc& input) {
    weft::pool::Planes p;
    p.planes = input.shape[0] * input.shape[1];
    const std::size_t dims = input.shape.size() - 2;
    for (std::size_t d = 0; d < dims; ++d) {
        weft::pool::Axis& a = p.axis[3 - dims + d];
        a = weft::pool::Axis{input.shape[2 + d], g.output[2 + d], g.kernel[d], g.stride[d], g.padding[d]};
    }
    return p;
}

class PoolCuda final : public weft::Kernel {
public:
    explicit PoolCuda(const weft::KernelConfig& config) : device_(weft::cuda::cuda_device(config.device)) {
        const weft::pool::PoolGeometry g = weft::pool::pool_geometry(config.attrs, config.inputs[0]);
        mode_ = g.mode == "max" ? Mode::max : g.mode == "avg" ? Mode::avg : Mode::global_avg;
        planes_ = planes_of(g, config.inputs[0]);
        if (mode_ == Mode::max && planes_.in_items() > std::numeric_limits<std::int32_t>::max())
            throw weft::Error(fmt::format("node '{}': max pooling over planes of {} items; the cuda kernel keeps "
                                          "its argmax in int32 (at most 2^31 − 1 items)",
                                          config.node_name, planes_.in_items()));
        training_ = config.training;
    }

    std::size_t saved_bytes() const override {
        if (!training_ || mode_ != Mode::max) return 0;
        return static_cast<std::size_t>(planes_.planes * planes_.out_items()) * sizeof(std::int32_t);
    }

    void forward(const weft::ForwardArgs& args) override {
        const float* x = args.inputs[0].as<const float>();
        float* y = args.outputs[0].as<float>();
        switch (mode_) {
            case Mode::max: {
                auto* argmax = training_ ? static_cast<std::int32_t*>(args.saved) : nullptr;  // kept for backward
                weft::pool::max_forward(device_, planes_, x, y, argmax);
                break;
            }
            case Mode::avg: weft::pool::avg_forward(device_, planes_, x, y); break;
            case Mode::global_avg:
                weft::pool::global_avg_forward(device_, planes_.planes, planes_.in_items(), x, y);
                break;
        }
    }

    bool has_backward() const override { return training_; }

    void backward(const weft::BackwardArgs& args) override {
        const float* dy = args.grad_outputs[0].as<const float>();
        float* dx = args.grad_inputs[0].as<float>();
        switch (mode_) {
            case Mode::max:
                weft::pool::max_backward(device_, planes_, static_cast<const std::int32_t*>(args.saved), dy, dx);
                break;
            case Mode::avg: weft::pool::avg_backward(device_, planes_, dy, dx); break;
            case Mode::global_avg:
                weft::pool::global_avg_backward(device_, planes_.planes, planes_.in_items(), dy, dx);
                break;
        }
    }

private:
    weft::cuda::CudaDevice& device_;
    Mode mode_ = Mode::max;
    weft::pool::Planes planes_;
    bool training_ = false;
};

}  // namespace

WEFT_PLUGIN("pool_cuda", "1.0") { registrar.add_kernel(weft::cuda::cuda_kernel_factory<PoolCuda>("pool", "native")); }
