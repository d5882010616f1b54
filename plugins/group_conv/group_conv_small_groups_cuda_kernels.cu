// The small-group CUDA convolution: IGC's primary group convolutions (paper Sec. 3.1: L partitions
// of M channels, e.g. 24 groups of 2, 4 or 8 channels at 32, 16 and 8 pixels) on the graph's NCHW
// float32 tensors, forward and backward. cuDNN runs such a convolution as many tiny dense ones; at
// 2-16 channels a group there is almost no arithmetic per byte, so the kernel is designed to move
// each byte once and keep the multiply-adds in registers.
//
// Forward (direct_convolution_kernel). A block computes a tile of output pixels of one image for one
// or more consecutive groups (more when the plane is small, so a block has at least four warps):
//  - Phase 1 stages the tile's input window with its halo (and zeros where it hangs over the edge)
//    into shared memory, a few threads per row, one or four columns each (float4 loads where the row
//    is 16-byte aligned), and the groups' weights as [group][in][tap][out rounded to 2^k], zero-padded.
//  - Phase 2: thread (tx, ty, gz) computes output column tx, rows ty + i·threads_y for
//    i < rows_per_thread, for every output channel of its group: rows x channels accumulators (32) in
//    registers, while the group's (in x kh x kw) taps stream through. Per tap it reads one broadcast
//    weight vector (float4 loads of shared memory) and one input word per row.
//  - Shared memory is laid out so a warp's reads hit 32 distinct banks: a window row is split by
//    column phase (column j at j mod stride, position j / stride), so lanes of consecutive output
//    columns read consecutive words at any stride, and the row, channel and group pitches are padded
//    (by the planner, group_conv_small_groups_cuda_plan.cpp) so the rows and groups a warp spans
//    start in different banks.
//  - Output stores: consecutive lanes write consecutive columns (whole rows of narrow planes).
//  - Any kernel size, stride, padding and dilation; the bias seeds the accumulators, the fused ReLU
//    clamps them on the way out.
//
// dL/dx is the same kernel on dL/dy: the transposed convolution is a stride-1 convolution with each
// group's kernel turned 180 degrees and its input and output channels swapped (done while staging
// the weights, nothing stored), padded by dilation·(k - 1) - padding. At stride s the kernel reads
// dL/dy as if s - 1 zeros lay between its pixels (staging writes them; nothing is materialised in
// global memory) — the gather formulation, at the price of 1 - 1/s² of the multiply-adds landing on
// zeros, which only the stride-2 convolutions that open a stage pay.
//
// dL/dW and dL/db (weight_gradient_kernel, sum_chunks_kernel): per group a (out x pixels) by
// (pixels x in·taps) product over all images, a reduction over N·Ho·Wo. A work item is up to 4 output
// channels x one input channel x up to 9 taps (36 sums in registers); a block holds all items of its
// group (up to 256 threads: items x pixel lanes) and walks a chunk of tiles — images x output rows —
// staging the input window and dL/dy once per tile for all its items. Lane l of an item takes every
// lanes-th pixel. At the end the lanes' sums are added in lane order into a per-chunk partial sum,
// and a second kernel adds the chunks in chunk order: two stages, no atomics, the same order every
// run (for a given plan, which depends on the GPU's multiprocessor count).
//
// Nothing is allocated per call: plans are made when the node is compiled, the partial sums live in
// the workspace, every launch goes to the device's stream and nothing waits for it.
#include <cstdint>

#include "group_conv_small_groups_cuda_body.h"
#include "group_conv_small_groups_cuda_launch.h"
#include "weft/cuda/cuda_check.h"

namespace weft::small_groups_cuda {
namespace {

template <int OutBlock>
__global__ void __launch_bounds__(kMaxThreads)
    direct_convolution_kernel(const ForwardPlan plan, const float* __restrict__ input,
                              const float* __restrict__ weight, const float* __restrict__ bias,
                              float* __restrict__ output, bool vector_loads) {
    extern __shared__ float4 shared_words[];
    float* shared = reinterpret_cast<float*>(shared_words);
    const int thread = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    const ForwardBlock block = forward_block(plan, static_cast<int>(blockIdx.x));
    stage_forward_tile(plan, block, input, weight, shared, thread, threads, vector_loads);
    __syncthreads();
    convolve_tile<OutBlock, rows_per_thread_for(OutBlock)>(plan, block, shared, bias, output, thread);
}

template <int OutBlock, int TapBlock>
__global__ void __launch_bounds__(kMaxThreads)
    weight_gradient_kernel(const WeightGradPlan plan, const float* __restrict__ input,
                           const float* __restrict__ grad_output, float* __restrict__ partial,
                           bool vector_input, bool vector_grad_output) {
    extern __shared__ float4 shared_words[];
    float* shared = reinterpret_cast<float*>(shared_words);
    const int thread = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    const WeightGradBlock block = weight_gradient_block(plan, static_cast<int>(blockIdx.x));
    WeightGradThread<OutBlock, TapBlock> sums;
    begin_weight_gradient(plan, block, thread, sums);
    for (int index = block.first_tile; index < block.end_tile; ++index) {
        const WeightGradTile tile = weight_gradient_tile(plan, index);
        stage_weight_gradient_tile(plan, block, tile, input, grad_output, shared, thread, threads,
                                   vector_input, vector_grad_output);
        __syncthreads();
        accumulate_weight_gradient(plan, tile, shared, sums);
        __syncthreads();  // before the next tile overwrites what the slowest thread still reads
    }
    store_lane_sums(plan, sums, shared, thread);
    __syncthreads();
    sum_lanes(plan, block, shared, partial, thread, threads);
}

__global__ void sum_chunks_kernel(const WeightGradPlan plan, const float* __restrict__ partial,
                                  float* __restrict__ grad_weight, float* __restrict__ grad_bias) {
    sum_chunks(plan, partial, grad_weight, grad_bias,
               static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x));
}

}  // namespace

void launch_direct_convolution(const ForwardPlan& plan, const float* input, const float* weight,
                               const float* bias, float* output, cudaStream_t stream) {
    const bool vector_loads = window_vector_loads(plan.conv, input);
    const auto blocks = static_cast<unsigned>(plan.blocks), threads = static_cast<unsigned>(plan.threads);
    with_out_block(plan.out_block, [&](auto out_block) {
        direct_convolution_kernel<decltype(out_block)::value>
            <<<blocks, threads, plan.shared_bytes, stream>>>(plan, input, weight, bias, output, vector_loads);
    });
    WEFT_CUDA_CHECK_LAUNCH("the small-groups direct convolution kernel");
}

void launch_weight_gradient(const WeightGradPlan& plan, const float* input, const float* grad_output,
                            float* partial, float* grad_weight, float* grad_bias, cudaStream_t stream) {
    const DirectConvolution& c = plan.conv;
    const bool vector_input = window_vector_loads(c, input);
    const bool vector_grad_output = grad_output_vector_loads(c, grad_output);
    const auto blocks = static_cast<unsigned>(plan.blocks), threads = static_cast<unsigned>(plan.threads);
    with_weight_gradient_blocks(plan.out_block, plan.tap_block, [&](auto out_block, auto tap_block) {
        weight_gradient_kernel<decltype(out_block)::value, decltype(tap_block)::value>
            <<<blocks, threads, plan.shared_bytes, stream>>>(plan, input, grad_output, partial, vector_input,
                                                             vector_grad_output);
    });
    WEFT_CUDA_CHECK_LAUNCH("the small-groups weight-gradient kernel");
    constexpr unsigned kSumThreads = 256;
    const auto sums = static_cast<unsigned>(plan.weights + c.groups * c.out_per_group);
    sum_chunks_kernel<<<(sums + kSumThreads - 1) / kSumThreads, kSumThreads, 0, stream>>>(
        plan, partial, grad_weight, grad_bias);
    WEFT_CUDA_CHECK_LAUNCH("the small-groups chunk-sum kernel");
}

}  // namespace weft::small_groups_cuda
