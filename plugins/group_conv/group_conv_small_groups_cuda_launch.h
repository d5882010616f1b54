// Launching the small-group CUDA kernels (group_conv_small_groups_cuda_kernels.cu) on a stream: what the
// plugin's kernel calls, without CUDA code of its own.
#pragma once

#include <cuda_runtime.h>

#include "group_conv_small_groups_cuda_plan.h"

namespace weft::small_groups_cuda {

// The plan's convolution of `input` (forward: then bias and ReLU as the plan says; dL/dx: `input` is
// dL/dy, `weight` the forward weight, `bias` null) into `output`.
void launch_direct_convolution(const ForwardPlan& plan, const float* input, const float* weight,
                               const float* bias, float* output, cudaStream_t stream);

// dL/dW, and dL/db when `grad_bias` is not null, from the forward input and dL/dy; `partial` holds
// plan.partial_floats floats (the kernel's workspace). Overwrites both gradients.
void launch_weight_gradient(const WeightGradPlan& plan, const float* input, const float* grad_output,
                            float* partial, float* grad_weight, float* grad_bias, cudaStream_t stream);

}  // namespace weft::small_groups_cuda
