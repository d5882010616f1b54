// CPU kernel for pool: oneDNN pooling (max, or avg excluding padding; global_avg is avg with the
// window spanning the whole map), built once per node and executed per batch.
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
        // Training max pooling needs oneDNN's workspace (the argmax) kept for backward; that
        // arrives with training support.
        if (config.training)
            throw weft::Error(fmt::format(
                "node '{}': pool training mode is not implemented on cpu yet (inference only)",
                config.node_name));
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
        const dnnl::pooling_forward::desc desc(
            dnnl::prop_kind::forward_inference, algorithm, src_.get_desc(), dst_.get_desc(),
            dnnl::memory::dims(g.stride.begin(), g.stride.end()),
            dnnl::memory::dims(g.kernel.begin(), g.kernel.end()),
            dnnl::memory::dims(g.padding.begin(), g.padding.end()),
            dnnl::memory::dims(g.padding.begin(), g.padding.end()));
        primitive_ =
            dnnl::pooling_forward(dnnl::pooling_forward::primitive_desc(desc, device.engine()));
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
    dnnl::pooling_forward primitive_;
    std::unordered_map<int, dnnl::memory> exec_args_;
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
