// CPU kernel for add: one oneDNN sum primitive over all inputs (scales 1), built once per node.
// oneDNN's sum allows dst to be src 0, which is how the node runs in place.
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "weft/cpu/cpu_device.h"
#include "weft/plugin.h"

namespace {

class AddCpu final : public weft::Kernel {
public:
    explicit AddCpu(const weft::KernelConfig& config) {
        weft::cpu::CpuDevice& device = weft::cpu::cpu_device(config.device);
        stream_ = device.stream();
        // Memory objects without a buffer: forward() only points them at the batch's tensors.
        std::vector<dnnl::memory::desc> src_descs;
        for (const weft::TensorDesc& input : config.inputs) {
            srcs_.push_back(
                weft::cpu::as_dnnl_memory(weft::TensorView{nullptr, input}, device.engine()));
            src_descs.push_back(srcs_.back().get_desc());
        }
        dst_ = weft::cpu::as_dnnl_memory(weft::TensorView{nullptr, config.outputs[0]},
                                         device.engine());
        const std::vector<float> scales(srcs_.size(), 1.f);
        primitive_ = dnnl::sum(
            dnnl::sum::primitive_desc(dst_.get_desc(), scales, src_descs, device.engine()));
        for (std::size_t i = 0; i < srcs_.size(); ++i)
            exec_args_.emplace(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs_[i]);
        exec_args_.emplace(DNNL_ARG_DST, dst_);
    }

    void forward(const weft::ForwardArgs& args) override {
        for (std::size_t i = 0; i < srcs_.size(); ++i)
            srcs_[i].set_data_handle(args.inputs[i].data);
        dst_.set_data_handle(args.outputs[0].data);
        primitive_.execute(stream_, exec_args_);
        stream_.wait();
    }

    bool has_backward() const override { return true; }

    // d(Σ x_i)/dx_i = 1: every input receives the output gradient unchanged.
    void backward(const weft::BackwardArgs& args) override {
        const weft::TensorView& dy = args.grad_outputs[0];
        for (const weft::TensorView& dx : args.grad_inputs)
            std::memcpy(dx.data, dy.data, dy.desc.bytes());
    }

private:
    dnnl::stream stream_;
    std::vector<dnnl::memory> srcs_;
    dnnl::memory dst_;
    dnnl::sum primitive_;
    std::unordered_map<int, dnnl::memory> exec_args_;
};

}  // namespace

WEFT_PLUGIN("add_cpu", "1.0") {
    weft::KernelFactory factory;
    factory.op = "add";
    factory.backend = "cpu";
    factory.name = "onednn";
    factory.priority = 0;
    factory.create = [](const weft::KernelConfig& config) -> std::unique_ptr<weft::Kernel> {
        return std::make_unique<AddCpu>(config);
    };
    registrar.add_kernel(std::move(factory));
}
