// The CUDA kernels of softmax_cross_entropy, launched on the device's stream
// (softmax_cross_entropy_cuda.cu). Logits are [rows, classes] row-major, labels int32 [rows].
#pragma once

#include <cstdint>

#include "weft/cuda/cuda_device.h"

namespace weft::softmax_cross_entropy {

struct Batch {
    std::int64_t rows = 0, classes = 0;
    double smoothing = 0;  // ε: the target is (1 − ε)·onehot(label) + ε/K
};

// Scratch for loss_forward: one double per row.
std::size_t workspace_bytes(const Batch& batch);
// loss[0] = 1/N Σ_n Σ_k t_nk·(−log softmax(x_n)_k). A label outside [0, classes) makes its
// row's loss, and so the mean, NaN (the GPU cannot stop to throw).
void loss_forward(cuda::CudaDevice& device, const Batch& batch, const float* logits, const std::int32_t* labels,
                  float* loss, void* workspace);
// dx = (softmax(x) − t)·grad_loss[0]/N, grad_loss read on the device; NaN rows for bad labels.
void loss_backward(cuda::CudaDevice& device, const Batch& batch, const float* logits, const std::int32_t* labels,
                   const float* grad_loss, float* dx);

}  // namespace weft::softmax_cross_entropy
