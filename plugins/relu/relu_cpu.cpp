// CPU kernel for relu: oneDNN's eltwise_relu, built once per node and executed per batch; its
// backward is a plain mask loop.
#include <cstdint>

#include "weft/cpu/onednn_kernel.h"
#include "weft/plugin.h"

namespace {

class ReluCpu final : public weft::cpu::OnednnKernel {
public:
    // oneDNN's eltwise runs in place when src and dst share memory (KernelConfig::in_place).
    explicit ReluCpu(const weft::KernelConfig& config)
        : OnednnKernel(config), src_(unbound(config.inputs[0])), dst_(unbound(config.outputs[0])) {
        const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_relu,
                                               src_.get_desc(), /*alpha=*/0.f, /*beta=*/0.f);
        primitive_ = dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(desc, engine()));
        exec_args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
    }

    void forward(const weft::ForwardArgs& args) override {
        execute(primitive_, exec_args_, {{&src_, args.inputs[0].data}, {&dst_, args.outputs[0].data}});
    }

    bool has_backward() const override { return true; }

    // dx = dy·[y > 0]: the output decides the mask, so this works after an in-place forward.
    void backward(const weft::BackwardArgs& args) override {
        const float* y = static_cast<const float*>(args.outputs[0].data);
        const float* dy = static_cast<const float*>(args.grad_outputs[0].data);
        float* dx = static_cast<float*>(args.grad_inputs[0].data);
        const std::int64_t n = args.outputs[0].desc.numel();
        // Memory-bound: both cores and full vectors, or it costs as much as a convolution.
#pragma omp parallel for simd schedule(static)
        for (std::int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
    }

private:
    dnnl::memory src_;
    dnnl::memory dst_;
    dnnl::eltwise_forward primitive_;
    ExecArgs exec_args_;
};

}  // namespace

WEFT_PLUGIN("relu_cpu", "1.0") { registrar.add_kernel(weft::kernel_factory<ReluCpu>("relu", "cpu", "onednn")); }
