// CPU kernel for pool: oneDNN pooling (max, or avg excluding padding; global_avg is avg with the
// window spanning the whole map), built once per node and executed per batch. In training, max
// pooling keeps oneDNN's workspace (where each maximum came from) in the node's saved memory for
// backward, which then needs neither the input nor the output.
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "pool_geometry.h"
#include "weft/cpu/cpu_device.h"
#include "weft/plugin.h"

namespace {

class PoolCpu final : public weft::Kernel {
public:
    explicit PoolCpu(const weft::KernelConfig& config) {
        const weft::pool::PoolGeometry g =
            weft::pool::pool_geometry(config.attrs, config.inputs[0]);
        weft::cpu::CpuDevice& device = weft::cpu::cpu_device(config.device);
        stream_ = device.stream();
        // Memory objects without a buffer: forward() only points them at the batch's tensors.
        src_ =
            weft::cpu::as_dnnl_memory(weft::TensorView{nullptr, config.inputs[0]}, device.engine());
        dst_ = weft::cpu::as_dnnl_memory(weft::TensorView{nullptr, config.outputs[0]},
                                         device.engine());
        const auto algorithm = g.mode == "max" ? dnnl::algorithm::pooling_max
                                               : dnnl::algorithm::pooling_avg_exclude_padding;
        const dnnl::memory::dims strides(g.stride.begin(), g.stride.end());
        const dnnl::memory::dims kernel(g.kernel.begin(), g.kernel.end());
        const dnnl::memory::dims padding(g.padding.begin(), g.padding.end());
        const auto kind = config.training ? dnnl::prop_kind::forward_training
                                          : dnnl::prop_kind::forward_inference;
        const dnnl::pooling_forward::desc desc(kind, algorithm, src_.get_desc(), dst_.get_desc(),
                                               strides, kernel, padding, padding);
        const dnnl::pooling_forward::primitive_desc forward_pd(desc, device.engine());
        primitive_ = dnnl::pooling_forward(forward_pd);
        exec_args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
        if (!config.training) return;

        training_ = true;
        // Gradient memory has the same layouts as the forward's src and dst.
        diff_src_ = dnnl::memory(src_.get_desc(), device.engine(), DNNL_MEMORY_NONE);
        diff_dst_ = dnnl::memory(dst_.get_desc(), device.engine(), DNNL_MEMORY_NONE);
        const dnnl::pooling_backward::desc backward_desc(algorithm, diff_src_.get_desc(),
                                                         diff_dst_.get_desc(), strides, kernel,
                                                         padding, padding);
        backward_ = dnnl::pooling_backward(
            dnnl::pooling_backward::primitive_desc(backward_desc, device.engine(), forward_pd));
        backward_args_ = {{DNNL_ARG_DIFF_DST, diff_dst_}, {DNNL_ARG_DIFF_SRC, diff_src_}};
        // Max pooling's argmax (avg needs none): written by forward, read by backward.
        saved_bytes_ = forward_pd.workspace_desc().get_size();
        if (saved_bytes_ > 0) {
            argmax_ =
                dnnl::memory(forward_pd.workspace_desc(), device.engine(), DNNL_MEMORY_NONE);
            exec_args_.emplace(DNNL_ARG_WORKSPACE, argmax_);
            backward_args_.emplace(DNNL_ARG_WORKSPACE, argmax_);
        }
    }

    std::size_t saved_bytes() const override { return saved_bytes_; }

    void forward(const weft::ForwardArgs& args) override {
        src_.set_data_handle(args.inputs[0].data);
        dst_.set_data_handle(args.outputs[0].data);
        if (saved_bytes_ > 0) argmax_.set_data_handle(args.saved);
        primitive_.execute(stream_, exec_args_);
        stream_.wait();
    }

    bool has_backward() const override { return training_; }

    void backward(const weft::BackwardArgs& args) override {
        diff_dst_.set_data_handle(const_cast<void*>(args.grad_outputs[0].data));
        diff_src_.set_data_handle(args.grad_inputs[0].data);
        if (saved_bytes_ > 0) argmax_.set_data_handle(args.saved);
        backward_.execute(stream_, backward_args_);
        stream_.wait();
    }

private:
    dnnl::stream stream_;
    dnnl::memory src_;
    dnnl::memory dst_;
    dnnl::pooling_forward primitive_;
    std::unordered_map<int, dnnl::memory> exec_args_;
    bool training_ = false;
    std::size_t saved_bytes_ = 0;
    dnnl::memory argmax_;  // max pooling's argmax (oneDNN's "workspace"), in the node's saved memory
    // Training only.
    dnnl::memory diff_src_;
    dnnl::memory diff_dst_;
    dnnl::pooling_backward backward_;
    std::unordered_map<int, dnnl::memory> backward_args_;
};

}  // namespace

WEFT_PLUGIN("pool_cpu", "1.0") {
    weft::KernelFactory factory;
    factory.op = "pool";
    factory.backend = "cpu";
    factory.name = "onednn";
    factory.priority = 0;
    factory.create = [](const weft::KernelConfig& config) -> std::unique_ptr<weft::Kernel> {
        return std::make_unique<PoolCpu>(config);
    };
    registrar.add_kernel(std::move(factory));
}
