// CPU kernel for batch_norm: oneDNN batch normalisation with global (running) statistics and
// separate scale and shift, so weight, bias, running_mean and running_var are used where they lie.
#include <array>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "weft/cpu/cpu_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

// Row-major [N, C, d2, d3, ...] has the same memory as [N, C, d2·d3·…, 1], so one 4D primitive
// covers [N, C] (features) and [N, C, H, W] (images) alike.
weft::TensorDesc as_4d(const weft::TensorDesc& desc) {
    const weft::Shape spatial(desc.shape.begin() + 2, desc.shape.end());
    weft::TensorDesc view = desc;
    view.shape = {desc.shape[0], desc.shape[1], weft::shape_numel(spatial), 1};
    return view;
}

class BatchNormCpu final : public weft::Kernel {
public:
    explicit BatchNormCpu(const weft::KernelConfig& config) {
        // Training (batch statistics, running-statistics update with `momentum`, saved mean and
        // variance for backward) will be a forward_training primitive built here instead.
        if (config.training)
            throw weft::Error(
                fmt::format("node '{}': batch_norm training mode is not implemented on cpu yet "
                            "(inference only)",
                            config.node_name));
        if (config.params.size() != params_.size())
            throw weft::Error(fmt::format("node '{}': batch_norm expects 4 parameters, got {}",
                                          config.node_name, config.params.size()));
        weft::cpu::CpuDevice& device = weft::cpu::cpu_device(config.device);
        dnnl::engine& engine = device.engine();
        stream_ = device.stream();
        // Memory objects without a buffer: forward() only points them at the batch's tensors.
        src_ = unbound(as_4d(config.inputs[0]), engine);
        dst_ = unbound(as_4d(config.outputs[0]), engine);
        for (std::size_t i = 0; i < params_.size(); ++i)
            params_[i] = unbound(config.params[i].desc, engine);

        const auto flags = dnnl::normalization_flags::use_global_stats |
                           dnnl::normalization_flags::use_scale |
                           dnnl::normalization_flags::use_shift;
        const float eps = static_cast<float>(config.attrs.get_real("eps"));
        const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference,
                                                           src_.get_desc(), eps, flags);
        primitive_ = dnnl::batch_normalization_forward(
            dnnl::batch_normalization_forward::primitive_desc(desc, engine));
        // Parameter order is the schema's: weight, bias, running_mean, running_var.
        exec_args_ = {{DNNL_ARG_SRC, src_},         {DNNL_ARG_DST, dst_},
                      {DNNL_ARG_SCALE, params_[0]}, {DNNL_ARG_SHIFT, params_[1]},
                      {DNNL_ARG_MEAN, params_[2]},  {DNNL_ARG_VARIANCE, params_[3]}};
    }

    void forward(const weft::ForwardArgs& args) override {
        src_.set_data_handle(args.inputs[0].data);
        dst_.set_data_handle(args.outputs[0].data);
        for (std::size_t i = 0; i < params_.size(); ++i)
            params_[i].set_data_handle(args.params[i].data);
        primitive_.execute(stream_, exec_args_);
        stream_.wait();
    }

private:
    static dnnl::memory unbound(const weft::TensorDesc& desc, dnnl::engine& engine) {
        return weft::cpu::as_dnnl_memory(weft::TensorView{nullptr, desc}, engine);
    }

    dnnl::stream stream_;
    dnnl::memory src_;
    dnnl::memory dst_;
    std::array<dnnl::memory, 4> params_;  // weight, bias, running_mean, running_var
    dnnl::batch_normalization_forward primitive_;
    std::unordered_map<int, dnnl::memory> exec_args_;
};

}  // namespace

WEFT_PLUGIN("batch_norm_cpu", "1.0") {
    weft::KernelFactory factory;
    factory.op = "batch_norm";
    factory.backend = "cpu";
    factory.name = "onednn";
    factory.priority = 0;
    factory.create = [](const weft::KernelConfig& config) -> std::unique_ptr<weft::Kernel> {
        return std::make_unique<BatchNormCpu>(config);
    };
    registrar.add_kernel(std::move(factory));
}
