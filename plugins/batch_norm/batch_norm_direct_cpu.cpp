// CPU kernel "direct" for batch_norm: plain loops over NCHW, for training above all. oneDNN 2.6
// has only its generic implementation for plain (NCHW) batch norm, and with a fused ReLU it is
// slower still. A fused ReLU keeps nothing: backward has the input, the batch statistics and the
// (not yet updated) scale and shift, so it recomputes which outputs were positive.
//
// Every pass walks the tensor in memory order, plane after plane (batch_norm_planes.h), and
// keeps what it sums per plane; the channels' sums are then added up plane by plane in image
// order, so the result does not depend on the threads. A channel's planes lie a whole image
// apart, and walking them channel by channel, as this kernel did before, left every plane's first
// lines to demand misses: the prefetchers do not cross the 4 KiB pages between planes.
//
// Statistics over a group of processes (--sync-bn) exchange the channels' sums between the
// passes; alone, the same arithmetic runs without the exchanges.
// The onednn kernel stays registered as the reference (tests compare the two).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "batch_norm_planes.h"
#include "weft/cpu/affine_items.h"
#include "weft/cpu/cpu_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

namespace bn = weft::batch_norm;

// A pass over a value costs about as much as this many multiply-adds of a convolution, for
// choosing how many threads a node's passes are worth (weft::cpu::team_for). An estimate, not
// measured on its own: a batch of 64 wakes every thread at every stage of IGC-L24M2-D20, a batch
// of 1 one thread.
constexpr std::int64_t kMacsPerValue = 8;
// Planes are handed to threads in runs of about this many values (16 KiB): a thread that falls
// behind has its runs taken over, and each run is contiguous memory.
constexpr std::int64_t kValuesPerItem = 4096;

class BatchNormDirect final : public weft::Kernel {
public:
    explicit BatchNormDirect(const weft::KernelConfig& config)
        : training_(config.training),
          device_(weft::cpu::cpu_device(config.device)),
          group_(config.training ? config.batch_group : nullptr) {
        if (config.params.size() != 4)
            throw weft::Error(fmt::format("node '{}': batch_norm expects 4 parameters, got {}", config.node_name,
                                          config.params.size()));
        const weft::Shape& s = config.inputs[0].shape;
        batch_ = s[0];
        channels_ = s[1];
        plane_ = 1;
        for (std::size_t d = 2; d < s.size(); ++d) plane_ *= s[d];
        eps_ = config.attrs.get_real("eps");
        momentum_ = static_cast<float>(config.attrs.get_real("momentum"));
        relu_ = config.attrs.get_bool("fused_relu");
        // Statistics over the group's batches: every process holds a batch of this shape.
        count_ = batch_ * plane_ * (group_ ? group_->size() : 1);
        planes_per_item_ = std::max<std::int64_t>(1, kValuesPerItem / std::max<std::int64_t>(plane_, 1));
        affine_.resize(static_cast<std::size_t>(channels_));
        terms_.resize(static_cast<std::size_t>(channels_));
        if (training_) sums_.resize(2 * static_cast<std::size_t>(channels_));
    }

    // Training: each plane's sums, forward's moments or backward's gradient sums (in the shared
    // workspace, so that the executor counts them before allocating anything).
    std::size_t workspace_bytes() const override {
        static_assert(sizeof(bn::PlaneMoments) == sizeof(bn::GradientSums));
        return training_ ? static_cast<std::size_t>(batch_ * channels_) * sizeof(bn::PlaneMoments) : 0;
    }

    // Training: per channel the batch mean and 1/sqrt(var + eps).
    std::size_t saved_bytes() const override { return training_ ? 2 * static_cast<std::size_t>(channels_) * sizeof(float) : 0; }

    void forward(const weft::ForwardArgs& args) override {
        const float* x = args.inputs[0].as<const float>();
        float* y = args.outputs[0].as<float>();
        const float* gamma = args.params[0].as<const float>();
        const float* beta = args.params[1].as<const float>();
        float* running_mean = args.params[2].as<float>();
        float* running_var = args.params[3].as<float>();
        team_ = team_now();
        if (training_) {
            float* saved = static_cast<float*>(args.saved);
            batch_statistics(x, static_cast<bn::PlaneMoments*>(args.workspace), saved, saved + channels_, running_mean,
                             running_var);
            for (std::int64_t c = 0; c < channels_; ++c)
                affine_[c] = affine(gamma[c], beta[c], saved[c], saved[channels_ + c]);
        } else {
            for (std::int64_t c = 0; c < channels_; ++c) {
                const auto inv = static_cast<float>(1.0 / std::sqrt(double(running_var[c]) + eps_));
                affine_[c] = affine(gamma[c], beta[c], running_mean[c], inv);
            }
        }
        for_each_plane([&](std::int64_t p) {
            bn::normalise_plane(x + p * plane_, y + p * plane_, plane_, affine_[p % channels_], relu_);
        });
    }

    bool has_backward() const override { return training_; }

    // With x̂ = (x − μ)·inv and g the incoming gradient (masked by the fused ReLU):
    // dγ = Σ g·x̂, dβ = Σ g, dx = γ·inv/M · (M·g − Σg − x̂·Σ g·x̂).
    // dγ and dβ are this process's own sums: data-parallel training averages parameter gradients
    // over the processes afterwards, as it does every other parameter's. dx needs the sums over
    // the whole batch, since every image moved the mean and variance all images saw.
    void backward(const weft::BackwardArgs& args) override {
        const float* x = args.inputs[0].as<const float>();
        const float* dy = args.grad_outputs[0].as<const float>();
        float* dx = args.grad_inputs[0].as<float>();
        const float* gamma = args.params[0].as<const float>();
        const float* beta = args.params[1].as<const float>();
        const float* mean = static_cast<const float*>(args.saved);
        const float* inv = mean + channels_;
        team_ = team_now();
        for (std::int64_t c = 0; c < channels_; ++c) affine_[c] = affine(gamma[c], beta[c], mean[c], inv[c]);
        bn::GradientSums* gradient_sums = static_cast<bn::GradientSums*>(args.workspace);
        for_each_plane([&](std::int64_t p) {
            const std::int64_t c = p % channels_;
            gradient_sums[p] =
                bn::plane_gradient_sums(x + p * plane_, dy + p * plane_, plane_, mean[c], affine_[c], relu_);
        });
        double* g = sums_.data();
        double* g_x = g + channels_;
        for (std::int64_t c = 0; c < channels_; ++c) {
            g[c] = g_x[c] = 0;
            for (std::int64_t n = 0; n < batch_; ++n) {
                g[c] += gradient_sums[n * channels_ + c].g;
                g_x[c] += gradient_sums[n * channels_ + c].g_x;
            }
            args.grad_params[0].as<float>()[c] = static_cast<float>(g_x[c]) * inv[c];
            args.grad_params[1].as<float>()[c] = static_cast<float>(g[c]);
        }
        if (group_) group_->sum(std::span<double>(sums_.data(), 2 * static_cast<std::size_t>(channels_)));
        for (std::int64_t c = 0; c < channels_; ++c) {
            const float sum_g_x = static_cast<float>(g_x[c]);
            terms_[c] = bn::InputGradient{gamma[c] * inv[c] / float(count_), float(count_),
                                          static_cast<float>(g[c]),
                                          inv[c] * (sum_g_x * inv[c])};  // c2 = inv · Σ g·x̂
        }
        for_each_plane([&](std::int64_t p) {
            const std::int64_t c = p % channels_;
            bn::input_gradient_plane(x + p * plane_, dy + p * plane_, dx + p * plane_, plane_, mean[c],
                                     affine_[c], relu_, terms_[c]);
        });
        // The running statistics are state, not learned.
        std::fill_n(args.grad_params[2].as<float>(), channels_, 0.f);
        std::fill_n(args.grad_params[3].as<float>(), channels_, 0.f);
    }

private:
    // y = x·scale + shift normalises with this mean and 1/sqrt(var + eps), then scales by γ and
    // shifts by β.
    static bn::Affine affine(float gamma, float beta, float mean, float inv) {
        const float scale = gamma * inv;
        return {scale, beta - mean * scale};
    }

    // This call's threads: as many of the device's as the node's passes are worth.
    int team_now() const {
        return weft::cpu::team_for(batch_ * channels_ * plane_ * kMacsPerValue, device_.threads_now());
    }

    // body(plane) for every plane n·C + c of the tensor, in runs of contiguous planes.
    template <class Body>
    void for_each_plane(Body&& body) const {
        const std::int64_t planes = batch_ * channels_;
        const std::int64_t items = (planes + planes_per_item_ - 1) / planes_per_item_;
        weft::cpu::for_each_item(team_, items, [&](std::int64_t item, int) {
            const std::int64_t end = std::min(planes, (item + 1) * planes_per_item_);
            for (std::int64_t p = item * planes_per_item_; p < end; ++p) body(p);
        });
    }

    // The batch mean and 1/sqrt(var + eps) per channel, kept for backward and folded into the
    // running statistics (unbiased variance). The planes' moments combine exactly: the channel's
    // Σ(x − μ)² is Σ over its planes of their own Σ(x − μₚ)² + H·W·(μₚ − μ)².
    void batch_statistics(const float* x, bn::PlaneMoments* moments, float* mean, float* inv, float* running_mean,
                          float* running_var) {
        for_each_plane([&](std::int64_t p) { moments[p] = bn::plane_moments(x + p * plane_, plane_); });
        double* sum = sums_.data();
        double* squares = sum + channels_;
        for (std::int64_t c = 0; c < channels_; ++c) {
            sum[c] = 0;
            for (std::int64_t n = 0; n < batch_; ++n) sum[c] += moments[n * channels_ + c].sum;
        }
        if (group_) group_->sum(std::span<double>(sum, static_cast<std::size_t>(channels_)));
        for (std::int64_t c = 0; c < channels_; ++c) {
            const double mu = sum[c] / double(count_);
            squares[c] = 0;
            for (std::int64_t n = 0; n < batch_; ++n) {
                const bn::PlaneMoments& m = moments[n * channels_ + c];
                const double offset = double(m.sum) / double(plane_) - mu;
                squares[c] += double(m.squares) + double(plane_) * offset * offset;
            }
            sum[c] = mu;
        }
        if (group_) group_->sum(std::span<double>(squares, static_cast<std::size_t>(channels_)));
        const float unbias = count_ > 1 ? float(count_) / float(count_ - 1) : 1.f;
        for (std::int64_t c = 0; c < channels_; ++c) {
            const double var = squares[c] / double(count_);
            mean[c] = static_cast<float>(sum[c]);
            inv[c] = static_cast<float>(1.0 / std::sqrt(var + eps_));
            running_mean[c] = momentum_ * running_mean[c] + (1.f - momentum_) * mean[c];
            running_var[c] = momentum_ * running_var[c] + (1.f - momentum_) * (unbias * static_cast<float>(var));
        }
    }

    bool training_;
    weft::cpu::CpuDevice& device_;
    int team_ = 1;  // this call's threads (team_for of CpuDevice::threads_now)
    weft::Collective* group_;  // training over several processes' batches (--sync-bn); else null
    std::int64_t batch_ = 0, channels_ = 0, plane_ = 0;
    std::int64_t count_ = 0;  // the values each channel's statistics are over
    std::int64_t planes_per_item_ = 1;
    double eps_ = 0;
    float momentum_ = 0;
    bool relu_ = false;
    std::vector<bn::Affine> affine_;                // per channel, this call's
    std::vector<bn::InputGradient> terms_;          // per channel, backward's
    std::vector<double> sums_;                      // per channel, exchanged with the group
};

}  // namespace

WEFT_PLUGIN("batch_norm_direct_cpu", "1.0") {
    // Over oneDNN's generic plain-layout batch norm.
    registrar.add_kernel(weft::kernel_factory<BatchNormDirect>("batch_norm", "cpu", "direct", /*priority=*/10));
}
