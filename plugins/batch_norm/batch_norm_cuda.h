// The CUDA kernels of batch_norm, launched on the device's stream (batch_norm_cuda.cu).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "weft/collective.h"
#include "weft/cuda/cuda_device.h"

namespace weft::batch_norm {

// An [N, C, ...] tensor as N images of C channels of `plane` contiguous items, and how many
// blocks share the reduction of one channel (each a slice of the batch).
struct Geometry {
    std::int64_t batch = 0, channels = 0, plane = 0;
    int splits = 1;
    int processes = 1;  // whose batches of this shape the statistics are over (--sync-bn)
};
Geometry make_geometry(std::int64_t batch, std::int64_t channels, std::int64_t plane, const cuda::CudaDevice& device);

struct Parameters {
    const float* weight = nullptr;  // γ
    const float* bias = nullptr;    // β
    float* running_mean = nullptr;
    float* running_var = nullptr;
};

// What training forward keeps for backward (the node's saved memory): per channel the batch mean
// and 1/sqrt(var + eps).
struct BatchStatistics {
    float* mean = nullptr;
    float* inv_std = nullptr;
};

struct Gradients {
    float* x = nullptr;
    float* weight = nullptr;
    float* bias = nullptr;
    float* running_mean = nullptr;  // zeroed: state, not learned
    float* running_var = nullptr;
};

struct Settings {
    double eps = 0;
    float momentum = 0;  // running = momentum · running + (1 − momentum) · batch
    bool relu = false;   // the fused ReLU
};

// Scratch for one call of the functions below.
std::size_t workspace_bytes(const Geometry& g, bool training);

// y = (x − running_mean)/sqrt(running_var + eps)·γ + β (then ReLU).
void inference_forward(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x, float* y,
                       const Parameters& params, void* workspace);
// Normalises with the batch's own statistics, keeps them in `saved` and folds them into the
// running statistics (the variance unbiased, n/(n − 1)·σ²).
void training_forward(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x, float* y,
                      const Parameters& params, const BatchStatistics& saved, void* workspace);
// dx, dγ, dβ from x, dy and the statistics of training_forward (γ, β not yet updated); a fused
// ReLU's mask is recomputed from x.
void backward(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x, const float* dy,
              const Parameters& params, const BatchStatistics& saved, const Gradients& grads, void* workspace);

// Statistics over a group of processes' batches (--sync-bn): each per-channel sum is brought to
// the host, summed over `group` and taken back, once in forward and once in backward. g.processes
// is the group's size. `exchanged` is device memory for 4·channels doubles; `host` is scratch.
// The forward sums are shifted by the running mean, which every process of the group holds
// alike, so one exchange gives mean and variance.
std::size_t exchanged_bytes(const Geometry& g);
void training_forward_over_group(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x,
                                 float* y, const Parameters& params, const BatchStatistics& saved, void* workspace,
                                 Collective& group, double* exchanged, std::vector<double>& host);
// dγ and dβ from this process's own sums (training averages them over the processes), dx from
// the group's.
void backward_over_group(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x,
                         const float* dy, const Parameters& params, const BatchStatistics& saved,
                         const Gradients& grads, void* workspace, Collective& group, double* exchanged,
                         std::vector<double>& host);

}  // namespace weft::batch_norm
