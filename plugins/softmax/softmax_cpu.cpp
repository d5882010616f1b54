// CPU kernel for softmax: oneDNN's softmax (it subtracts the maximum along the axis before
// exponentiating), built once per node and executed per batch.
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
