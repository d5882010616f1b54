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
        : training_(config.training), threads_(weft::cpu::cpu_device(config.device).threads()) {
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
        float* mean = training_ ? static_cast<float*>(args.saved) : nullptr;
        float* inv_std = training_ ? mean + channels_ : nullptr;
        const std::int64_t count = batch_ * plane_;
        const float unbias = count > 1 ? float(count) / float(count - 1) : 1.f;
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1) if (threads_ > 1)
        for (std::int64_t c = 0; c < channels_; ++c) {
            float m, inv;
            if (training_) {
                double sum = 0;
                for (std::int64_t n = 0; n < batch_; ++n) {
                    const float* p = x + (n * channels_ + c) * plane_;
                    float part = 0;
#pragma omp simd reduction(+ : part)
                    for (std::int64_t i = 0; i < plane_; ++i) part += p[i];
                    sum += part;
                }
                m = static_cast<float>(sum / double(count));
                double squares = 0;
                for (std::int64_t n = 0; n < batch_; ++n) {
                    const float* p = x + (n * channels_ + c) * plane_;
                    float part = 0;
#pragma omp simd reduction(+ : part)
                    for (std::int64_t i = 0; i < plane_; ++i) part += (p[i] - m) * (p[i] - m);
                    squares += part;
                }
                const double var = squares / double(count);
                inv = static_cast<float>(1.0 / std::sqrt(var + eps_));
                mean[c] = m;
                inv_std[c] = inv;
                running_mean[c] = momentum_ * running_mean[c] + (1.f - momentum_) * m;
                running_var[c] = momentum_ * running_var[c] + (1.f - momentum_) * unbias * float(var);
            } else {
                m = running_mean[c];
                inv = static_cast<float>(1.0 / std::sqrt(double(running_var[c]) + eps_));
            }
            const float scale = gamma[c] * inv, shift = beta[c] - m * scale;
            for (std::int64_t n = 0; n < batch_; ++n) {
                const float* p = x + (n * channels_ + c) * plane_;
                float* q = y + (n * channels_ + c) * plane_;
                if (relu_) {
#pragma omp simd
                    for (std::int64_t i = 0; i < plane_; ++i) q[i] = std::max(p[i] * scale + shift, 0.f);
                } else {
#pragma omp simd
                    for (std::int64_t i = 0; i < plane_; ++i) q[i] = p[i] * scale + shift;
                }
            }
        }
    }

    bool has_backward() const override { return training_; }

    // With x̂ = (x − μ)·inv and g the incoming gradient (masked by the fused ReLU):
    // dγ = Σ g·x̂, dβ = Σ g, dx = γ·inv/M · (M·g − Σg − x̂·Σ g·x̂).
    void backward(const weft::BackwardArgs& args) override {
        const float* x = args.inputs[0].as<const float>();
        const float* dy = args.grad_outputs[0].as<const float>();
        float* dx = args.grad_inputs[0].as<float>();
        const float* gamma = args.params[0].as<const float>();
        float* dgamma = args.grad_params[0].as<float>();
        float* dbeta = args.grad_params[1].as<float>();
        const float* mean = static_cast<const float*>(args.saved);
        const float* inv_std = mean + channels_;
        const float* beta = args.params[1].as<const float>();
        const std::int64_t count = batch_ * plane_;
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1) if (threads_ > 1)
        for (std::int64_t c = 0; c < channels_; ++c) {
            const float m = mean[c], inv = inv_std[c];
            // The fused ReLU passed the gradient where its input x·scale + shift was positive.
            const float scale = gamma[c] * inv, shift = beta[c] - m * scale;
            const bool mask = relu_;
            double sum_g = 0, sum_gx = 0;
            for (std::int64_t n = 0; n < batch_; ++n) {
                const float* p = x + (n * channels_ + c) * plane_;
                const float* g = dy + (n * channels_ + c) * plane_;
                float a = 0, b = 0;
                if (mask) {
#pragma omp simd reduction(+ : a, b)
                    for (std::int64_t i = 0; i < plane_; ++i) {
                        const float gi = relu_masked(g[i], p[i] * scale + shift);
                        a += gi;
                        b += gi * (p[i] - m);
                    }
                } else {
#pragma omp simd reduction(+ : a, b)
                    for (std::int64_t i = 0; i < plane_; ++i) {
                        a += g[i];
                        b += g[i] * (p[i] - m);
                    }
                }
                sum_g += a;
                sum_gx += b;
            }
            const float sg = static_cast<float>(sum_g);
            const float sgx = static_cast<float>(sum_gx) * inv;  // Σ g·x̂
            dgamma[c] = sgx;
            dbeta[c] = sg;
            const float k = gamma[c] * inv / float(count);
            const float fcount = float(count), c2 = inv * sgx;
            for (std::int64_t n = 0; n < batch_; ++n) {
                const float* p = x + (n * channels_ + c) * plane_;
                const float* g = dy + (n * channels_ + c) * plane_;
                float* q = dx + (n * channels_ + c) * plane_;
                if (mask) {
#pragma omp simd
                    for (std::int64_t i = 0; i < plane_; ++i) {
                        const float gi = relu_masked(g[i], p[i] * scale + shift);
                        q[i] = k * (fcount * gi - sg - (p[i] - m) * c2);
                    }
                } else {
#pragma omp simd
                    for (std::int64_t i = 0; i < plane_; ++i)
                        q[i] = k * (fcount * g[i] - sg - (p[i] - m) * c2);
                }
            }
        }
        // The running statistics are state, not learned.
        std::fill_n(args.grad_params[2].as<float>(), channels_, 0.f);
        std::fill_n(args.grad_params[3].as<float>(), channels_, 0.f);
    }

private:
    bool training_;
    int threads_;
    std::int64_t batch_ = 0, channels_ = 0, plane_ = 0;
    double eps_ = 0;
    float momentum_ = 0;
    bool relu_ = false;
};

}  // namespace

WEFT_PLUGIN("batch_norm_direct_cpu", "1.0") {
    // Over oneDNN's generic plain-layout batch norm.
    registrar.add_kernel(weft::kernel_factory<BatchNormDirect>("batch_norm", "cpu", "direct", /*priority=*/10));
}
