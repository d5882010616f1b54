// CPU kernel for add: one oneDNN sum primitive over all inputs (scales 1), built once per node.
// oneDNN's sum allows dst to be src 0, which is how the node runs in place.
#include <cstring>
#include <vector>

#include "weft/cpu/onednn_kernel.h"
#include "weft/plugin.h"

namespace {

class AddCpu final : public weft::cpu::OnednnKernel {
public:
    explicit AddCpu(const weft::KernelConfig& config) : OnednnKernel(config), dst_(unbound(config.outputs[0])) {
        std::vector<dnnl::memory::desc> src_descs;
        for (const weft::TensorDesc& input : config.inputs) {
            srcs_.push_back(unbound(input));
            src_descs.push_back(srcs_.back().get_desc());
        }
        const std::vector<float> scales(srcs_.size(), 1.f);
        primitive_ = dnnl::sum(dnnl::sum::primitive_desc(dst_.get_desc(), scales, src_descs, engine()));
        for (std::size_t i = 0; i < srcs_.size(); ++i)
            exec_args_.emplace(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs_[i]);
        exec_args_.emplace(DNNL_ARG_DST, dst_);
    }

    void forward(const weft::ForwardArgs& args) override {
        // Any number of inputs: bound here, the output with the call.
        for (std::size_t i = 0; i < srcs_.size(); ++i) srcs_[i].set_data_handle(args.inputs[i].data);
        execute(primitive_, exec_args_, {{&dst_, args.outputs[0].data}});
    }

    bool has_backward() const override { return true; }

    // d(Σ x_i)/dx_i = 1: every input receives the output gradient unchanged.
    void backward(const weft::BackwardArgs& args) override {
        const weft::TensorView& dy = args.grad_outputs[0];
        for (const weft::TensorView& dx : args.grad_inputs)
            std::memcpy(dx.data, dy.data, dy.desc.bytes());
    }

private:
    dnnl::memory dst_;
    std::vector<dnnl::memory> srcs_;
    dnnl::sum primitive_;
    ExecArgs exec_args_;
};

}  // namespace

WEFT_PLUGIN("add_cpu", "1.0") { registrar.add_kernel(weft::kernel_factory<AddCpu>("add", "cpu", "onednn")); }
