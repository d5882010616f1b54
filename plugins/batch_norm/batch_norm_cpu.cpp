// CPU kernel for batch_norm: oneDNN batch normalisation with separate scale and shift, so weight,
// bias, running_mean and running_var are used where they lie. Inference normalises with the
// running statistics; training with the batch's own (kept in the node's saved memory for backward), and
// folds them into the running statistics after each forward.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include <fmt/format.h>

#include "weft/cpu/onednn_kernel.h"
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

class BatchNormCpu final : public weft::cpu::OnednnKernel {
public:
    explicit BatchNormCpu(const weft::KernelConfig& config)
        : OnednnKernel(config), src_(unbound(as_4d(config.inputs[0]))), dst_(unbound(as_4d(config.outputs[0]))) {
        if (config.params.size() != params_.size())
            throw weft::Error(fmt::format("node '{}': batch_norm expects 4 parameters, got {}",
                                          config.node_name, config.params.size()));
        const dnnl::engine& engine = this->engine();
        for (std::size_t i = 0; i < params_.size(); ++i) params_[i] = unbound(config.params[i].desc);
        const float eps = static_cast<float>(config.attrs.get_real("eps"));
        if (config.attrs.get_bool("fused_relu")) relu_flag_ = dnnl::normalization_flags::fuse_norm_relu;
        if (config.training)
            build_training(config, engine, eps);
        else
            build_inference(engine, eps);
    }

    // Training keeps the batch mean and (biased) variance here between forward and backward.
    // With a fused ReLU, oneDNN's mask of the positive outputs follows the statistics.
    std::size_t saved_bytes() const override {
        return training_ ? mask_offset() + mask_bytes_ : 0;
    }

    void forward(const weft::ForwardArgs& args) override {
        src_.set_data_handle(args.inputs[0].data);
        dst_.set_data_handle(args.outputs[0].data);
        for (std::size_t i = 0; i < params_.size(); ++i)
            params_[i].set_data_handle(args.params[i].data);
        if (training_) {
            auto* statistics = static_cast<float*>(args.saved);
            mean_.set_data_handle(statistics);
            variance_.set_data_handle(statistics + channels_);
            if (mask_bytes_) mask_.set_data_handle(static_cast<std::byte*>(args.saved) + mask_offset());
        }
        execute(primitive_, exec_args_, {});
        if (training_)
            update_running_statistics(args.params, static_cast<const float*>(args.saved));
    }

    bool has_backward() const override { return training_; }

    // dx, dweight (gamma) and dbias (beta) from oneDNN, with the batch statistics of forward;
    // the running statistics are not learned, so their gradients are zero.
    void backward(const weft::BackwardArgs& args) override {
        auto* statistics = static_cast<float*>(args.saved);
        src_.set_data_handle(args.inputs[0].data);
        params_[0].set_data_handle(args.params[0].data);
        params_[1].set_data_handle(args.params[1].data);
        mean_.set_data_handle(statistics);
        variance_.set_data_handle(statistics + channels_);
        if (mask_bytes_) mask_.set_data_handle(static_cast<std::byte*>(args.saved) + mask_offset());
        diff_dst_.set_data_handle(args.grad_outputs[0].data);
        diff_src_.set_data_handle(args.grad_inputs[0].data);
        diff_scale_.set_data_handle(args.grad_params[0].data);
        diff_shift_.set_data_handle(args.grad_params[1].data);
        execute(backward_, backward_args_, {});
        for (std::size_t i = 2; i < params_.size(); ++i)
            std::fill_n(static_cast<float*>(args.grad_params[i].data), channels_, 0.f);
    }

private:
    void build_inference(const dnnl::engine& engine, float eps) {
        const auto flags = dnnl::normalization_flags::use_global_stats |
                           dnnl::normalization_flags::use_scale |
                           dnnl::normalization_flags::use_shift | relu_flag_;
        const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference,
                                                           src_.get_desc(), eps, flags);
        primitive_ = dnnl::batch_normalization_forward(
            dnnl::batch_normalization_forward::primitive_desc(desc, engine));
        // Parameter order is the schema's: weight, bias, running_mean, running_var.
        exec_args_ = {{DNNL_ARG_SRC, src_},         {DNNL_ARG_DST, dst_},
                      {DNNL_ARG_SCALE, params_[0]}, {DNNL_ARG_SHIFT, params_[1]},
                      {DNNL_ARG_MEAN, params_[2]},  {DNNL_ARG_VARIANCE, params_[3]}};
    }

    // Without use_global_stats, forward_training computes the batch mean and (biased) variance
    // and writes them out, to the saved memory; the backward primitive reads them back.
    void build_training(const weft::KernelConfig& config, const dnnl::engine& engine, float eps) {
        training_ = true;
        const weft::TensorDesc x = as_4d(config.inputs[0]);
        channels_ = x.shape[1];
        count_ = x.shape[0] * x.shape[2];  // elements per channel in the batch
        momentum_ = static_cast<float>(config.attrs.get_real("momentum"));
        const auto flags = dnnl::normalization_flags::use_scale |
                           dnnl::normalization_flags::use_shift | relu_flag_;
        const dnnl::batch_normalization_forward::primitive_desc forward_pd(
            dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_training,
                                                    src_.get_desc(), eps, flags),
            engine);
        primitive_ = dnnl::batch_normalization_forward(forward_pd);
        mean_ = dnnl::memory(forward_pd.mean_desc(), engine, DNNL_MEMORY_NONE);
        variance_ = dnnl::memory(forward_pd.variance_desc(), engine, DNNL_MEMORY_NONE);
        exec_args_ = {{DNNL_ARG_SRC, src_},         {DNNL_ARG_DST, dst_},
                      {DNNL_ARG_SCALE, params_[0]}, {DNNL_ARG_SHIFT, params_[1]},
                      {DNNL_ARG_MEAN, mean_},       {DNNL_ARG_VARIANCE, variance_}};
        mask_bytes_ = forward_pd.workspace_desc().get_size();
        if (mask_bytes_) {
            mask_ = dnnl::memory(forward_pd.workspace_desc(), engine, DNNL_MEMORY_NONE);
            exec_args_.emplace(DNNL_ARG_WORKSPACE, mask_);
        }

        diff_src_ = dnnl::memory(src_.get_desc(), engine, DNNL_MEMORY_NONE);
        diff_dst_ = dnnl::memory(dst_.get_desc(), engine, DNNL_MEMORY_NONE);
        diff_scale_ = dnnl::memory(params_[0].get_desc(), engine, DNNL_MEMORY_NONE);
        diff_shift_ = dnnl::memory(params_[1].get_desc(), engine, DNNL_MEMORY_NONE);
        const dnnl::batch_normalization_backward::desc backward_desc(
            dnnl::prop_kind::backward, diff_dst_.get_desc(), src_.get_desc(), eps, flags);
        backward_ = dnnl::batch_normalization_backward(
            dnnl::batch_normalization_backward::primitive_desc(backward_desc, engine, forward_pd));
        backward_args_ = {{DNNL_ARG_SRC, src_},
                          {DNNL_ARG_MEAN, mean_},
                          {DNNL_ARG_VARIANCE, variance_},
                          {DNNL_ARG_SCALE, params_[0]},
                          {DNNL_ARG_SHIFT, params_[1]},  // unread, but oneDNN asks for it
                          {DNNL_ARG_DIFF_DST, diff_dst_},
                          {DNNL_ARG_DIFF_SRC, diff_src_},
                          {DNNL_ARG_DIFF_SCALE, diff_scale_},
                          {DNNL_ARG_DIFF_SHIFT, diff_shift_}};
        if (mask_bytes_) backward_args_.emplace(DNNL_ARG_WORKSPACE, mask_);
    }

    std::size_t mask_offset() const { return (2 * static_cast<std::size_t>(channels_) * sizeof(float) + 63) / 64 * 64; }

    // running = momentum·running + (1 − momentum)·batch, with the unbiased batch variance
    // n/(n−1)·σ² as PyTorch and MXNet keep it.
    void update_running_statistics(std::span<const weft::TensorView> params,
                                   const float* statistics) const {
        auto* running_mean = static_cast<float*>(params[2].data);
        auto* running_var = static_cast<float*>(params[3].data);
        const float unbias =
            count_ > 1 ? static_cast<float>(count_) / static_cast<float>(count_ - 1) : 1.f;
        for (std::int64_t c = 0; c < channels_; ++c) {
            running_mean[c] = momentum_ * running_mean[c] + (1.f - momentum_) * statistics[c];
            running_var[c] = momentum_ * running_var[c] +
                             (1.f - momentum_) * unbias * statistics[channels_ + c];
        }
    }

    dnnl::memory src_;
    dnnl::memory dst_;
    std::array<dnnl::memory, 4> params_;  // weight, bias, running_mean, running_var
    dnnl::batch_normalization_forward primitive_;
    ExecArgs exec_args_;
    // Training only.
    bool training_ = false;
    std::int64_t channels_ = 0;
    std::int64_t count_ = 0;
    float momentum_ = 0.f;
    dnnl::normalization_flags relu_flag_ = static_cast<dnnl::normalization_flags>(0);
    std::size_t mask_bytes_ = 0;
    dnnl::memory mask_;  // fused ReLU: which outputs were positive, in the saved memory
    dnnl::memory mean_, variance_;  // the batch statistics, in the saved memory
    dnnl::memory diff_src_, diff_dst_, diff_scale_, diff_shift_;
    dnnl::batch_normalization_backward backward_;
    ExecArgs backward_args_;
};

}  // namespace

WEFT_PLUGIN("batch_norm_cpu", "1.0") {
    // oneDNN computes the statistics itself, over this process's batch only.
    registrar.add_kernel(weft::kernel_factory<BatchNormCpu>(
        "batch_norm", "cpu", "onednn", 0, [](const weft::KernelConfig& config) -> std::string {
            return config.batch_group
                       ? "statistics over several processes' batches (--sync-bn): the direct kernel's"
                       : "";
        }));
}
