// CPU kernel "direct" for batch_norm: plain loops over NCHW, one channel per OpenMP task, for
// training above all. oneDNN 2.6 has only its generic implementation for plain (NCHW) batch
// norm, and with a fused ReLU it is slower still; here a channel's N·H·W values are read twice
// forward (statistics, then normalise) and twice backward, in contiguous H·W runs. A fused
// ReLU keeps nothing: backward has the input, the batch statistics and the (not yet updated)
// scale and shift, so it recomputes which outputs were positive.
// The onednn kernel stays registered as the reference (tests compare the two).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "weft/cpu/cpu_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

// g where the ReLU's input was positive, else 0, in integer arithmetic: GCC will not vectorise
// a float comparison feeding a select here, but does vectorise this (a positive float's bits
// are a positive integer).
inline float relu_masked(float g, float pre) {
    std::int32_t p, v;
    std::memcpy(&p, &pre, sizeof p);
    std::memcpy(&v, &g, sizeof v);
    v &= -static_cast<std::int32_t>(p > 0);
    float out;
    std::memcpy(&out, &v, sizeof out);
    return out;
}

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
        if (group_) sums_.resize(2 * static_cast<std::size_t>(channels_));
    }

    // Training: per channel the batch mean and 1/sqrt(var + eps).
    std::size_t saved_bytes() const override { return training_ ? 2 * static_cast<std::size_t>(channels_) * sizeof(float) : 0; }

    void forward(const weft::ForwardArgs& args) override {
        const Forward f{args.inputs[0].as<const float>(),
                        args.outputs[0].as<float>(),
                        args.params[0].as<const float>(),
                        args.params[1].as<const float>(),
                        args.params[2].as<float>(),
                        args.params[3].as<float>(),
                        training_ ? static_cast<float*>(args.saved) : nullptr};
        team_ = device_.threads_now();
        if (group_) {
            forward_over_group(f);
            return;
        }
        // One pass over the channels: each task computes its channel's statistics and normalises.
#pragma omp parallel for num_threads(team_) schedule(dynamic, 1) if (team_ > 1)
        for (std::int64_t c = 0; c < channels_; ++c) {
            if (training_) {
                const double mean = channel_sum(f.x, c) / double(count_);
                keep_statistics(f, c, mean, channel_squares(f.x, c, float(mean)) / double(count_));
            }
            normalise(f, c);
        }
    }

    bool has_backward() const override { return training_; }

    // With x̂ = (x − μ)·inv and g the incoming gradient (masked by the fused ReLU):
    // dγ = Σ g·x̂, dβ = Σ g, dx = γ·inv/M · (M·g − Σg − x̂·Σ g·x̂).
    void backward(const weft::BackwardArgs& args) override {
        const Backward b{args.inputs[0].as<const float>(),
                         args.grad_outputs[0].as<const float>(),
                         args.grad_inputs[0].as<float>(),
                         args.params[0].as<const float>(),
                         args.params[1].as<const float>(),
                         args.grad_params[0].as<float>(),
                         args.grad_params[1].as<float>(),
                         static_cast<const float*>(args.saved),
                         channels_};
        team_ = device_.threads_now();
        if (group_) {
            backward_over_group(b);
        } else {
#pragma omp parallel for num_threads(team_) schedule(dynamic, 1) if (team_ > 1)
            for (std::int64_t c = 0; c < channels_; ++c) {
                const GradientSums sums = gradient_sums(b, c);
                parameter_gradients(b, c, sums);
                input_gradient(b, c, sums);
            }
        }
        // The running statistics are state, not learned.
        std::fill_n(args.grad_params[2].as<float>(), channels_, 0.f);
        std::fill_n(args.grad_params[3].as<float>(), channels_, 0.f);
    }

private:
    struct Forward {
        const float* x;
        float* y;
        const float *gamma, *beta;
        float *running_mean, *running_var;
        float* saved;  // training: mean, then 1/sqrt(var + eps), per channel
    };
    struct Backward {
        const float* x;
        const float* dy;
        float* dx;
        const float *gamma, *beta;
        float *dgamma, *dbeta;
        const float* saved;  // what forward kept
        std::int64_t channels;
        const float* mean() const { return saved; }
        const float* inv_std() const { return saved + channels; }
    };
    // Σ g and Σ g·(x − μ) over a channel (g masked by the fused ReLU).
    struct GradientSums {
        double g = 0, g_x = 0;
    };

    const float* plane(const float* t, std::int64_t n, std::int64_t c) const {
        return t + (n * channels_ + c) * plane_;
    }
    float* plane(float* t, std::int64_t n, std::int64_t c) const { return t + (n * channels_ + c) * plane_; }

    // Σ x over this process's batch, in float per plane and in double across planes.
    double channel_sum(const float* x, std::int64_t c) const {
        double sum = 0;
        for (std::int64_t n = 0; n < batch_; ++n) {
            const float* p = plane(x, n, c);
            float part = 0;
#pragma omp simd reduction(+ : part)
            for (std::int64_t i = 0; i < plane_; ++i) part += p[i];
            sum += part;
        }
        return sum;
    }

    // Σ (x − mean)² over this process's batch: the variance's second pass, exact where E[x²] − μ²
    // would cancel.
    double channel_squares(const float* x, std::int64_t c, float mean) const {
        double squares = 0;
        for (std::int64_t n = 0; n < batch_; ++n) {
            const float* p = plane(x, n, c);
            float part = 0;
#pragma omp simd reduction(+ : part)
            for (std::int64_t i = 0; i < plane_; ++i) part += (p[i] - mean) * (p[i] - mean);
            squares += part;
        }
        return squares;
    }

    // The batch statistics kept for backward and folded into the running ones (unbiased variance).
    void keep_statistics(const Forward& f, std::int64_t c, double mean, double var) const {
        const float unbias = count_ > 1 ? float(count_) / float(count_ - 1) : 1.f;
        f.saved[c] = static_cast<float>(mean);
        f.saved[channels_ + c] = static_cast<float>(1.0 / std::sqrt(var + eps_));
        f.running_mean[c] = momentum_ * f.running_mean[c] + (1.f - momentum_) * static_cast<float>(mean);
        const float batch_var = unbias * static_cast<float>(var);
        f.running_var[c] = momentum_ * f.running_var[c] + (1.f - momentum_) * batch_var;
    }

    // y = x·scale + shift (then the fused ReLU), with the batch's statistics in training and the
    // running ones in inference.
    void normalise(const Forward& f, std::int64_t c) const {
        float m, inv;
        if (training_) {
            m = f.saved[c];
            inv = f.saved[channels_ + c];
        } else {
            m = f.running_mean[c];
            inv = static_cast<float>(1.0 / std::sqrt(double(f.running_var[c]) + eps_));
        }
        const float scale = f.gamma[c] * inv, shift = f.beta[c] - m * scale;
        for (std::int64_t n = 0; n < batch_; ++n) {
            const float* p = plane(f.x, n, c);
            float* q = plane(f.y, n, c);
            if (relu_) {
#pragma omp simd
                for (std::int64_t i = 0; i < plane_; ++i) q[i] = std::max(p[i] * scale + shift, 0.f);
            } else {
#pragma omp simd
                for (std::int64_t i = 0; i < plane_; ++i) q[i] = p[i] * scale + shift;
            }
        }
    }

    // Statistics over every process's batch: the sums are exchanged between the passes, so the
    // channels are walked three times (sum, squares about the global mean, normalise) with two
    // exchanges of 8·C bytes between them.
    void forward_over_group(const Forward& f) {
        double* sums = sums_.data();
#pragma omp parallel for num_threads(team_) schedule(dynamic, 1) if (team_ > 1)
        for (std::int64_t c = 0; c < channels_; ++c) sums[c] = channel_sum(f.x, c);
        group_->sum(std::span<double>(sums, static_cast<std::size_t>(channels_)));
#pragma omp parallel for num_threads(team_) schedule(dynamic, 1) if (team_ > 1)
        for (std::int64_t c = 0; c < channels_; ++c) {
            sums[c] /= double(count_);
            sums[channels_ + c] = channel_squares(f.x, c, static_cast<float>(sums[c]));
        }
        group_->sum(std::span<double>(sums + channels_, static_cast<std::size_t>(channels_)));
#pragma omp parallel for num_threads(team_) schedule(dynamic, 1) if (team_ > 1)
        for (std::int64_t c = 0; c < channels_; ++c) {
            keep_statistics(f, c, sums[c], sums[channels_ + c] / double(count_));
            normalise(f, c);
        }
    }

    GradientSums gradient_sums(const Backward& b, std::int64_t c) const {
        const float m = b.mean()[c], inv = b.inv_std()[c];
        // The fused ReLU passed the gradient where its input x·scale + shift was positive.
        const float scale = b.gamma[c] * inv, shift = b.beta[c] - m * scale;
        GradientSums sums;
        for (std::int64_t n = 0; n < batch_; ++n) {
            const float* p = plane(b.x, n, c);
            const float* g = plane(b.dy, n, c);
            float sg = 0, sgx = 0;
            if (relu_) {
#pragma omp simd reduction(+ : sg, sgx)
                for (std::int64_t i = 0; i < plane_; ++i) {
                    const float gi = relu_masked(g[i], p[i] * scale + shift);
                    sg += gi;
                    sgx += gi * (p[i] - m);
                }
            } else {
#pragma omp simd reduction(+ : sg, sgx)
                for (std::int64_t i = 0; i < plane_; ++i) {
                    sg += g[i];
                    sgx += g[i] * (p[i] - m);
                }
            }
            sums.g += sg;
            sums.g_x += sgx;
        }
        return sums;
    }

    // dγ = Σ g·x̂ and dβ = Σ g from this process's own sums.
    void parameter_gradients(const Backward& b, std::int64_t c, const GradientSums& own) const {
        b.dgamma[c] = static_cast<float>(own.g_x) * b.inv_std()[c];
        b.dbeta[c] = static_cast<float>(own.g);
    }

    // dx from the channel's sums over every image its statistics came from.
    void input_gradient(const Backward& b, std::int64_t c, const GradientSums& sums) const {
        const float m = b.mean()[c], inv = b.inv_std()[c];
        const float scale = b.gamma[c] * inv, shift = b.beta[c] - m * scale;
        const float sg = static_cast<float>(sums.g);
        const float c2 = inv * (static_cast<float>(sums.g_x) * inv);  // inv · Σ g·x̂
        const float k = b.gamma[c] * inv / float(count_), fcount = float(count_);
        for (std::int64_t n = 0; n < batch_; ++n) {
            const float* p = plane(b.x, n, c);
            const float* g = plane(b.dy, n, c);
            float* q = plane(b.dx, n, c);
            if (relu_) {
#pragma omp simd
                for (std::int64_t i = 0; i < plane_; ++i) {
                    const float gi = relu_masked(g[i], p[i] * scale + shift);
                    q[i] = k * (fcount * gi - sg - (p[i] - m) * c2);
                }
            } else {
#pragma omp simd
                for (std::int64_t i = 0; i < plane_; ++i) q[i] = k * (fcount * g[i] - sg - (p[i] - m) * c2);
            }
        }
    }

    // dγ and dβ are this process's own sums: data-parallel training averages parameter
    // gradients over the processes afterwards, as it does every other parameter's. dx needs the
    // sums over the whole batch, since every image moved the mean and variance all images saw.
    void backward_over_group(const Backward& b) {
        double* sums = sums_.data();
#pragma omp parallel for num_threads(team_) schedule(dynamic, 1) if (team_ > 1)
        for (std::int64_t c = 0; c < channels_; ++c) {
            const GradientSums own = gradient_sums(b, c);
            parameter_gradients(b, c, own);
            sums[c] = own.g;
            sums[channels_ + c] = own.g_x;
        }
        group_->sum(std::span<double>(sums, 2 * static_cast<std::size_t>(channels_)));
#pragma omp parallel for num_threads(team_) schedule(dynamic, 1) if (team_ > 1)
        for (std::int64_t c = 0; c < channels_; ++c)
            input_gradient(b, c, GradientSums{sums[c], sums[channels_ + c]});
    }

    bool training_;
    weft::cpu::CpuDevice& device_;
    int team_ = 1;  // this call's threads (CpuDevice::threads_now)
    weft::Collective* group_;  // training over several processes' batches (--sync-bn); else null
    std::int64_t batch_ = 0, channels_ = 0, plane_ = 0;
    std::int64_t count_ = 0;  // the values each channel's statistics are over
    double eps_ = 0;
    float momentum_ = 0;
    bool relu_ = false;
    std::vector<double> sums_;  // per channel, exchanged with the group
};

}  // namespace

WEFT_PLUGIN("batch_norm_direct_cpu", "1.0") {
    // Over oneDNN's generic plain-layout batch norm.
    registrar.add_kernel(weft::kernel_factory<BatchNormDirect>("batch_norm", "cpu", "direct", /*priority=*/10));
}
