// CPU kernel for softmax: oneDNN's softmax (it subtracts the maximum along the axis before
// exponentiating), built once per node and executed per batch. Backward is the Jacobian-vector
// product dx = y ⊙ (dy − Σ_axis dy ⊙ y), from the output alone.
#include <cstdint>

#include "weft/cpu/onednn_kernel.h"
#include "weft/plugin.h"

namespace {

class SoftmaxCpu final : public weft::cpu::OnednnKernel {
public:
    explicit SoftmaxCpu(const weft::KernelConfig& config)
        : OnednnKernel(config),
          src_(unbound(config.inputs[0])),
          dst_(unbound(config.outputs[0])),
          // oneDNN's softmax keeps the thread count it was built for: one per team (PerTeam).
          primitives_(weft::cpu::cpu_device(config.device),
                      [this, axis = static_cast<int>(config.attrs.get_int("axis"))] {
                          const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_inference,
                                                                 src_.get_desc(), axis);
                          return dnnl::softmax_forward(dnnl::softmax_forward::primitive_desc(desc, engine()));
                      }) {
        const int axis = static_cast<int>(config.attrs.get_int("axis"));
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
        execute(primitives_.now(), exec_args_, {{&src_, args.inputs[0].data}, {&dst_, args.outputs[0].data}});
    }

private:
    dnnl::memory src_;
    dnnl::memory dst_;
    weft::cpu::PerTeam<dnnl::softmax_forward> primitives_;
    ExecArgs exec_args_;
    std::int64_t outer_ = 1, axis_ = 1, inner_ = 1;
};

}  // namespace

WEFT_PLUGIN("softmax_cpu", "1.0") { registrar.add_kernel(weft::kernel_factory<SoftmaxCpu>("softmax", "cpu", "onednn")); }
