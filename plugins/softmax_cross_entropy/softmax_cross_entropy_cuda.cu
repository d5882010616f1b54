// The CUDA kernels of softmax_cross_entropy: the cpu kernel's arithmetic, a warp per row. Each
// row is seen from its largest logit x_m (the first, if several), so every exponential is at most
// 1: log Σ_k exp(x_k − x_m) = log1p(Σ_{k≠m} exp(x_k − x_m)) keeps its digits when one class
// dominates, and everything from the gaps on is in double. The rows' losses go to the workspace
// and one block adds them in a fixed order, so the loss is the same on every run.
#include <cmath>

#include "softmax_cross_entropy_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/device_helpers.cuh"

namespace weft::softmax_cross_entropy {
namespace {

struct RowStats {
    float max;
    std::int64_t argmax;
    double others;   // Σ_{k≠argmax} exp(x_k − max)
    double gap_sum;  // Σ_k (max − x_k)
};

// The whole warp calls it for one row; every lane gets the result.
__device__ RowStats row_stats(const float* row, std::int64_t classes) {
    float best = row[0];
    std::int64_t best_k = 0;
    for (std::int64_t k = cuda::lane(); k < classes; k += 32)
        if (row[k] > best) best = row[k], best_k = k;
    // Across lanes: the larger logit, the smaller class on a tie (the cpu's first maximum).
    for (int offset = 16; offset > 0; offset /= 2) {
        const float other = __shfl_xor_sync(0xffffffffu, best, offset);
        const std::int64_t other_k = __shfl_xor_sync(0xffffffffu, best_k, offset);
        if (other > best || (other == best && other_k < best_k)) best = other, best_k = other_k;
    }
    double others = 0.0, gap_sum = 0.0;
    for (std::int64_t k = cuda::lane(); k < classes; k += 32) {
        const double gap = static_cast<double>(best) - static_cast<double>(row[k]);
        if (k != best_k) others += exp(-gap);
        gap_sum += gap;
    }
    return RowStats{best, best_k, cuda::warp_sum(others), cuda::warp_sum(gap_sum)};
}

__device__ inline bool is_class(std::int32_t label, std::int64_t classes) { return label >= 0 && label < classes; }

// Σ_k t_k (log Z − x_k) = (1 − ε)(x_m − x_label) + ε/K Σ_k (x_m − x_k) + log1p(others).
__global__ void row_losses_kernel(const float* __restrict__ logits, const std::int32_t* __restrict__ labels,
                                  Batch batch, double* __restrict__ row_loss) {
    for (std::int64_t n = cuda::first_warp(); n < batch.rows; n += cuda::warp_stride()) {
        const float* row = logits + n * batch.classes;
        const RowStats s = row_stats(row, batch.classes);
        if (cuda::lane() != 0) continue;
        const std::int32_t label = labels[n];
        if (!is_class(label, batch.classes)) {
            row_loss[n] = nan("");
            continue;
        }
        const double label_gap = static_cast<double>(s.max) - static_cast<double>(row[label]);
        row_loss[n] = (1.0 - batch.smoothing) * label_gap +
                      batch.smoothing / static_cast<double>(batch.classes) * s.gap_sum + log1p(s.others);
    }
}

// One block: the mean of the rows' losses, added in a fixed order.
__global__ void mean_kernel(const double* __restrict__ row_loss, std::int64_t rows, float* __restrict__ loss) {
    double sum = 0.0;
    for (std::int64_t n = threadIdx.x; n < rows; n += blockDim.x) sum += row_loss[n];
    sum = cuda::block_sum(sum);
    if (threadIdx.x == 0) loss[0] = static_cast<float>(sum / static_cast<double>(rows));
}

__global__ void gradient_kernel(const float* __restrict__ logits, const std::int32_t* __restrict__ labels, Batch batch,
                                const float* __restrict__ grad_loss, float* __restrict__ dx) {
    const double scale = static_cast<double>(grad_loss[0]) / static_cast<double>(batch.rows);
    const double uniform = batch.smoothing / static_cast<double>(batch.classes);
    for (std::int64_t n = cuda::first_warp(); n < batch.rows; n += cuda::warp_stride()) {
        const float* row = logits + n * batch.classes;
        float* out = dx + n * batch.classes;
        const RowStats s = row_stats(row, batch.classes);
        const std::int32_t label = labels[n];
        const bool valid = is_class(label, batch.classes);
        const double partition = 1.0 + s.others;
        for (std::int64_t k = cuda::lane(); k < batch.classes; k += 32) {
            const double p = exp(static_cast<double>(row[k]) - static_cast<double>(s.max)) / partition;
            const double target = (k == label ? 1.0 - batch.smoothing : 0.0) + uniform;
            out[k] = valid ? static_cast<float>((p - target) * scale) : nanf("");
        }
    }
}

}  // namespace

std::size_t workspace_bytes(const Batch& batch) { return static_cast<std::size_t>(batch.rows) * sizeof(double); }

void loss_forward(cuda::CudaDevice& device, const Batch& batch, const float* logits, const std::int32_t* labels,
                  float* loss, void* workspace) {
    auto* row_loss = static_cast<double*>(workspace);
    const cuda::LaunchShape shape = cuda::warp_rows_launch(batch.rows, device);
    row_losses_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(logits, labels, batch, row_loss);
    WEFT_CUDA_CHECK_LAUNCH("softmax_cross_entropy row_losses_kernel");
    mean_kernel<<<1, cuda::kThreadsPerBlock, 0, device.stream()>>>(row_loss, batch.rows, loss);
    WEFT_CUDA_CHECK_LAUNCH("softmax_cross_entropy mean_kernel");
}

void loss_backward(cuda::CudaDevice& device, const Batch& batch, const float* logits, const std::int32_t* labels,
                   const float* grad_loss, float* dx) {
    const cuda::LaunchShape shape = cuda::warp_rows_launch(batch.rows, device);
    gradient_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(logits, labels, batch, grad_loss, dx);
    WEFT_CUDA_CHECK_LAUNCH("softmax_cross_entropy gradient_kernel");
}

}  // namespace weft::softmax_cross_entropy
