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
        : OnednnKernel(config), src_(unbound(config.inputs[0])), dst_(unbound(config.outputs[0])) {
        const weft::pool::PoolGeometry g = weft::pool::pool_geometry(config.attrs, config.inputs[0]);
        const auto algorithm = g.mode == "max" ? dnnl::algorithm::pooling_max
                                               : dnnl::algorithm::pooling_avg_exclude_padding;
        const dnnl::memory::dims strides(g.stride.begin(), g.stride.end());
        const dnnl::memory::dims kernel(g.kernel.begin(), g.kernel.end());
        const dnnl::memory::dims padding(g.padding.begin(), g.padding.end());
        const auto kind = config.training ? dnnl::prop_kind::forward_training
                                          : dnnl::prop_kind::forward_inference;
        const dnnl::pooling_forward::desc desc(kind, algorithm, src_.get_desc(), dst_.get_desc(),
                                               strides, kernel, padding, padding);
        const dnnl::pooling_forward::primitive_desc forward_pd(desc, engine());
        primitive_ = dnnl::pooling_forward(forward_pd);
        exec_args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
        if (!config.training) return;

        training_ = true;
        // Gradient memory has the same layouts as the forward's src and dst.
        diff_src_ = unbound(src_.get_desc());
        diff_dst_ = unbound(dst_.get_desc());
        const dnnl::pooling_backward::desc backward_desc(algorithm, diff_src_.get_desc(),
                                                         diff_dst_.get_desc(), strides, kernel,
                                                         padding, padding);
        backward_ = dnnl::pooling_backward(
            dnnl::pooling_backward::primitive_desc(backward_desc, engine(), forward_pd));
        backward_args_ = {{DNNL_ARG_DIFF_DST, diff_dst_}, {DNNL_ARG_DIFF_SRC, diff_src_}};
        // Max pooling's argmax (avg needs none): written by forward, read by backward.
        saved_bytes_ = forward_pd.workspace_desc().get_size();
        if (saved_bytes_ > 0) {
            argmax_ = unbound(forward_pd.workspace_desc());
            exec_args_.emplace(DNNL_ARG_WORKSPACE, argmax_);
            backward_args_.emplace(DNNL_ARG_WORKSPACE, argmax_);
        }
    }

    std::size_t saved_bytes() const override { return saved_bytes_; }

    void forward(const weft::ForwardArgs& args) override {
        if (saved_bytes_ > 0) argmax_.set_data_handle(args.saved);
        execute(primitive_, exec_args_, {{&src_, args.inputs[0].data}, {&dst_, args.outputs[0].data}});
    }

    bool has_backward() const override { return training_; }

    void backward(const weft::BackwardArgs& args) override {
        if (saved_bytes_ > 0) argmax_.set_data_handle(args.saved);
        execute(backward_, backward_args_,
                {{&diff_dst_, args.grad_outputs[0].data}, {&diff_src_, args.grad_inputs[0].data}});
    }

private:
    dnnl::memory src_;
    dnnl::memory dst_;
    dnnl::pooling_forward primitive_;
    ExecArgs exec_args_;
    bool training_ = false;
    std::size_t saved_bytes_ = 0;
    dnnl::memory argmax_;  // max pooling's argmax (oneDNN's "workspace"), in the node's saved memory
    // Training only.
    dnnl::memory diff_src_;
    dnnl::memory diff_dst_;
    dnnl::pooling_backward backward_;
    ExecArgs backward_args_;
};

}  // namespace

WEFT_PLUGIN("pool_cpu", "1.0") { registrar.add_kernel(weft::kernel_factory<PoolCpu>("pool", "cpu", "onednn")); }
