// CPU kernel for softmax: oneDNN's softmax (it subtracts the maximum along the axis before
// exponentiating), built once per node and executed per batch. Backward is the Jacobian-vector
// product dx = y ⊙ (dy − Σ_axis dy ⊙ y), from the output alone.
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "weft/cpu/cpu_device.h"
#include "weft/plugin.h"

namespace {

class SoftmaxCpu final : public weft::Kernel {
public:
    explicit SoftmaxCpu(const weft::KernelConfig& config) {
        weft::cpu::CpuDevice& device = weft::cpu::cpu_device(config.device);
        stream_ = device.stream();
        // Memory objects without a buffer: forward() only points them at the batch's tensors.
        src_ =
            weft::cpu::as_dnnl_memory(weft::TensorView{nullptr, config.inputs[0]}, device.engine());
        dst_ = weft::cpu::as_dnnl_memory(weft::TensorView{nullptr, config.outputs[0]},
                                         device.engine());
        const int axis = static_cast<int>(config.attrs.get_int("axis"));
        const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_inference, src_.get_desc(),
                                               axis);
        primitive_ =
            dnnl::softmax_forward(dnnl::softmax_forward::primitive_desc(desc, device.engine()));
        exec_args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
        // Rows along the axis: outer × axis × inner in row-major order.
        const weft::Shape& shape = config.inputs[0].shape;
        axis_ = shape[axis];
        outer_ = 1;
        inner_ = 1;
        for (int d = 0; d < axis; ++d) outer_ *= shape[d];
        for (int d = axis + 1; d < static_cast<int>(shape.size()); ++d) inner_ *= shape[d];
    }

    bool has_backward() const override { return true; }

    void backward(const weft::BackwardArgs& args) override {
        const float* y = args.outputs[0].as<const float>();
        const float* dy = args.grad_outputs[0].as<const float>();
        float* dx = args.grad_inputs[0].as<float>();
        for (std::int64_t o = 0; o < outer_; ++o)
            for (std::int64_t i = 0; i < inner_; ++i) {
                const std::int64_t base = o * axis_ * inner_ + i;
                double dot = 0;
                for (std::int64_t k = 0; k < axis_; ++k) dot += double(dy[base + k * inner_]) * y[base + k * inner_];
                for (std::int64_t k = 0; k < axis_; ++k) {
                    const std::int64_t at = base + k * inner_;
                    dx[at] = y[at] * static_cast<float>(dy[at] - dot);
                }
            }
    }

    void forward(const weft::ForwardArgs& args) override {
        src_.set_data_handle(args.inputs[0].data);
        dst_.set_data_handle(args.outputs[0].data);
        primitive_.execute(stream_, exec_args_);
        stream_.wait();
    }

private:
    dnnl::stream stream_;
    dnnl::memory src_;
    dnnl::memory dst_;
    dnnl::softmax_forward primitive_;
    std::unordered_map<int, dnnl::memory> exec_args_;
    std::int64_t outer_ = 1, axis_ = 1, inner_ = 1;
};

}  // namespace

WEFT_PLUGIN("softmax_cpu", "1.0") {
    weft::KernelFactory factory;
    factory.op = "softmax";
    factory.backend = "cpu";
    factory.name = "onednn";
    factory.priority = 0;
    factory.create = [](const weft::KernelConfig& config) -> std::unique_ptr<weft::Kernel> {
        return std::make_unique<SoftmaxCpu>(config);
    };
    registrar.add_kernel(std::move(factory));
}
