// CPU kernel for softmax_cross_entropy: one pass over each row with OpenMP across rows. The loss
// runs once per training step on a small [N, K] (64 × 10 on CIFAR), so plain loops are enough;
// what matters is accuracy, so every sum is taken in double.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "weft/cpu/cpu_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

// One row of logits seen from its largest entry x_m: the gaps x_m − x_k are all ≥ 0, so every
// exponential below is at most 1 and no logit, however large, can overflow.
struct RowStats {
    float max;
    std::int64_t argmax;
    // Σ_{k≠m} exp(x_k − x_m): the partition function minus its leading 1, so that
    // log Σ_k exp(x_k − x_m) = log1p(others) keeps its accuracy when one class dominates and the
    // loss is tiny (a plain log(1 + 1e-20) would round to 0 only after losing every digit).
    double others;
    double gap_sum;  // Σ_k (x_m − x_k), the uniform part of a smoothed target
};

RowStats row_stats(const float* x, std::int64_t classes) {
    RowStats s{x[0], 0, 0.0, 0.0};
    for (std::int64_t k = 1; k < classes; ++k) {
        if (x[k] > s.max) {
            s.max = x[k];
            s.argmax = k;
        }
    }
    for (std::int64_t k = 0; k < classes; ++k) {
        const double gap = static_cast<double>(s.max) - static_cast<double>(x[k]);
        if (k != s.argmax) s.others += std::exp(-gap);
        s.gap_sum += gap;
    }
    return s;
}

class SoftmaxCrossEntropyCpu final : public weft::Kernel {
public:
    explicit SoftmaxCrossEntropyCpu(const weft::KernelConfig& config)
        : rows_(config.inputs[0].shape[0]),
          classes_(config.inputs[0].shape[1]),  // [N, K] and [N, K, 1, 1] share one layout
          smoothing_(config.attrs.get_real("label_smoothing")),
          device_(weft::cpu::cpu_device(config.device)) {}

    // One double per row: the rows' losses are summed in a fixed order afterwards, so the result
    // does not depend on how OpenMP split the rows.
    std::size_t workspace_bytes() const override { return static_cast<std::size_t>(rows_) * sizeof(double); }

    void forward(const weft::ForwardArgs& args) override {
        const float* x = args.inputs[0].as<const float>();
        const std::int32_t* labels = args.inputs[1].as<const std::int32_t>();
        check_labels(labels);
        auto* row_loss = static_cast<double*>(args.workspace);
        const int threads = device_.threads_now();
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows_ * classes_ > 4096)
        for (std::int64_t n = 0; n < rows_; ++n) {
            const float* row = x + n * classes_;
            const RowStats s = row_stats(row, classes_);
            // Σ_k t_k (log Z − x_k) with log Z = x_m + log1p(others) and Σ_k t_k = 1:
            const double label_gap = static_cast<double>(s.max) - static_cast<double>(row[labels[n]]);
            row_loss[n] = (1.0 - smoothing_) * label_gap +
                          smoothing_ / static_cast<double>(classes_) * s.gap_sum + std::log1p(s.others);
        }
        double total = 0.0;
        for (std::int64_t n = 0; n < rows_; ++n) total += row_loss[n];
        args.outputs[0].as<float>()[0] = static_cast<float>(total / static_cast<double>(rows_));
    }

    bool has_backward() const override { return true; }

    // dL/dx_nk = (softmax(x_n)_k − t_nk) · dL_out / N, the softmax recomputed from the logits
    // (cheaper than keeping [N, K] probabilities from forward for a once-per-step loss).
    void backward(const weft::BackwardArgs& args) override {
        const float* x = args.inputs[0].as<const float>();
        const std::int32_t* labels = args.inputs[1].as<const std::int32_t>();
        check_labels(labels);
        float* dx = args.grad_inputs[0].as<float>();
        const double scale =
            static_cast<double>(args.grad_outputs[0].as<const float>()[0]) / static_cast<double>(rows_);
        const double uniform = smoothing_ / static_cast<double>(classes_);
        const int threads = device_.threads_now();
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows_ * classes_ > 4096)
        for (std::int64_t n = 0; n < rows_; ++n) {
            const float* row = x + n * classes_;
            const RowStats s = row_stats(row, classes_);
            const double partition = 1.0 + s.others;
            for (std::int64_t k = 0; k < classes_; ++k) {
                const double p = std::exp(static_cast<double>(row[k]) - static_cast<double>(s.max)) / partition;
                const double target = (k == labels[n] ? 1.0 - smoothing_ : 0.0) + uniform;
                dx[n * classes_ + k] = static_cast<float>((p - target) * scale);
            }
        }
        // Class indices are not differentiable; their gradient is defined as zero, written as
        // bytes because the buffer is i32. A caller may leave it out for a non-float input.
        if (args.grad_inputs.size() > 1 && args.grad_inputs[1].data != nullptr)
            std::memset(args.grad_inputs[1].data, 0, args.grad_inputs[1].desc.bytes());
    }

private:
    // A label outside [0, K) is a data problem (wrong class count, unmapped ids); indexing with it
    // would read another row's logit and return a plausible, wrong loss. Checked before the
    // parallel loops, which must not throw.
    void check_labels(const std::int32_t* labels) const {
        for (std::int64_t n = 0; n < rows_; ++n)
            if (labels[n] < 0 || labels[n] >= classes_)
                throw weft::Error(
                    fmt::format("label {} of row {} is outside the {} classes", labels[n], n, classes_));
    }

    std::int64_t rows_;
    std::int64_t classes_;
    double smoothing_;
    weft::cpu::CpuDevice& device_;
};

}  // namespace

WEFT_PLUGIN("softmax_cross_entropy_cpu", "1.0") {
    registrar.add_kernel(weft::kernel_factory<SoftmaxCrossEntropyCpu>("softmax_cross_entropy", "cpu", "loops"));
}
