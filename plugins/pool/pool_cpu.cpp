// CPU kernel for pool: oneDNN pooling (max, or avg excluding padding; global_avg is avg with the
// window spanning the whole map), built once per node and executed per batch. In training, max
// pooling keeps oneDNN's workspace (where each maximum came from) in the node's saved memory for
// backward, which then needs neither the input nor the output.

#include <fmt/format.h>

#include "pool_geometry.h"
#include "weft/cpu/onednn_kernel.h"
#include "weft/plugin.h"

namespace {

class PoolCpu final : public weft::cpu::OnednnKernel {
public:
    explicit PoolCpu(const weft::KernelConfig& config)
        : OnednnKernel(config),
          src_(unbound(config.inputs[0])),
          dst_(unbound(config.outputs[0])),
          training_(config.training),
          geometry_(weft::pool::pool_geometry(config.attrs, config.inputs[0])),
          // oneDNN's pooling keeps the thread count it was built for: one per team (PerTeam).
          primitives_(weft::cpu::cpu_device(config.device), [this] { return build(); }) {
        exec_args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
        if (!training_) return;
        // Gradient memory has the same layouts as the forward's src and dst.
        diff_src_ = unbound(src_.get_desc());
        diff_dst_ = unbound(dst_.get_desc());
        backward_args_ = {{DNNL_ARG_DIFF_DST, diff_dst_}, {DNNL_ARG_DIFF_SRC, diff_src_}};
        // Max pooling's argmax (avg needs none): written by forward, read by backward.
        const dnnl::memory::desc argmax = primitives_.most().forward_pd.workspace_desc();
        saved_bytes_ = argmax.get_size();
        if (saved_bytes_ > 0) {
            argmax_ = unbound(argmax);
            exec_args_.emplace(DNNL_ARG_WORKSPACE, argmax_);
            backward_args_.emplace(DNNL_ARG_WORKSPACE, argmax_);
        }
    }

    std::size_t saved_bytes() const override { return saved_bytes_; }

    void forward(const weft::ForwardArgs& args) override {
        if (saved_bytes_ > 0) argmax_.set_data_handle(args.saved);
        execute(primitives_.now().forward, exec_args_,
                {{&src_, args.inputs[0].data}, {&dst_, args.outputs[0].data}});
    }

    bool has_backward() const override { return training_; }

    void backward(const weft::BackwardArgs& args) override {
        if (saved_bytes_ > 0) argmax_.set_data_handle(args.saved);
        execute(primitives_.now().backward, backward_args_,
                {{&diff_dst_, args.grad_outputs[0].data}, {&diff_src_, args.grad_inputs[0].data}});
    }

private:
    struct Primitives {
        dnnl::pooling_forward::primitive_desc forward_pd;
        dnnl::pooling_forward forward;
        dnnl::pooling_backward backward;  // training only
    };

    Primitives build() {
        const weft::pool::PoolGeometry& g = geometry_;
        const auto algorithm = g.mode == "max" ? dnnl::algorithm::pooling_max
                                               : dnnl::algorithm::pooling_avg_exclude_padding;
        const dnnl::memory::dims strides(g.stride.begin(), g.stride.end());
        const dnnl::memory::dims kernel(g.kernel.begin(), g.kernel.end());
        const dnnl::memory::dims padding(g.padding.begin(), g.padding.end());
        const auto kind = training_ ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
        const dnnl::pooling_forward::desc desc(kind, algorithm, src_.get_desc(), dst_.get_desc(), strides,
                                               kernel, padding, padding);
        Primitives p;
        p.forward_pd = dnnl::pooling_forward::primitive_desc(desc, engine());
        p.forward = dnnl::pooling_forward(p.forward_pd);
        if (training_) {
            const dnnl::pooling_backward::desc backward_desc(algorithm, src_.get_desc(), dst_.get_desc(),
                                                             strides, kernel, padding, padding);
            p.backward = dnnl::pooling_backward(
                dnnl::pooling_backward::primitive_desc(backward_desc, engine(), p.forward_pd));
        }
        return p;
    }

    dnnl::memory src_;
    dnnl::memory dst_;
    bool training_;
    weft::pool::PoolGeometry geometry_;
    weft::cpu::PerTeam<Primitives> primitives_;
    ExecArgs exec_args_;
    std::size_t saved_bytes_ = 0;
    dnnl::memory argmax_;  // max pooling's argmax (oneDNN's "workspace"), in the node's saved memory
    // Training only.
    dnnl::memory diff_src_;
    dnnl::memory diff_dst_;
    ExecArgs backward_args_;
};

}  // namespace

WEFT_PLUGIN("pool_cpu", "1.0") { registrar.add_kernel(weft::kernel_factory<PoolCpu>("pool", "cpu", "onednn")); }
