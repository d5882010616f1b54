// The one cuDNN convolution of the CUDA backend: group_conv and pointwise_conv (and anything else
// that is a convolution) describe their geometry and run through this class, as the CPU backend's
// run through OnednnConvolution (weft/cpu/onednn_convolution.h).
//
// Built once when a graph is compiled: descriptors for the graph's NCHW float32 tensors and the
// grouped filter (cudnnSetConvolutionGroupCount), float32 FMA math — cuDNN's default math type lets
// Ampere and later GPUs compute float32 convolutions in TF32, whose 10-bit mantissa does not match
// the CPU — and, for each direction it will run, an algorithm from the process-wide
// ConvolutionAlgorithmCache. On a miss every algorithm is timed once on scratch buffers
// (cudnnFind*AlgorithmEx) and the fastest deterministic one within kMaxWorkspaceBytes is kept.
// forward() and the backward calls then only launch on the device's stream; nothing is allocated
// and nothing waits for the GPU.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "weft/convolution.h"
#include "weft/cuda/convolution_algorithm_cache.h"
#include "weft/kernel.h"

namespace weft::cuda {

class CudaDevice;

class CudnnConvolution {
public:
    // The most workspace an algorithm may ask for; the executor shares one workspace between all
    // nodes, so a greedy algorithm would cost every graph its memory.
    static constexpr std::size_t kMaxWorkspaceBytes = std::size_t{256} << 20;

    // `training` also chooses the backward algorithms. Throws weft::Error when a size does not fit
    // cuDNN's int, when cuDNN refuses the geometry or has no algorithm for it, and when a training
    // convolution asks for fused_relu (an inference-only rewrite: backward would need the ReLU's
    // mask).
    CudnnConvolution(const ConvolutionGeometry& geometry, CudaDevice& device, bool training,
                     ConvolutionAlgorithmCache& cache = ConvolutionAlgorithmCache::process_wide());
    ~CudnnConvolution();
    CudnnConvolution(const CudnnConvolution&) = delete;
    CudnnConvolution& operator=(const CudnnConvolution&) = delete;

    const ConvolutionGeometry& geometry() const;
    // The largest workspace of the directions it runs (they run one at a time).
    std::size_t workspace_bytes() const;
    // The algorithms chosen, for logs and benchmarks: "forward 1, backward data 1, backward filter 3".
    std::string algorithms() const;

    // `input` and `output` NCHW on the device, `weight` [out, C/groups, kh, kw], `bias` [out] or
    // null when the geometry has none; then the fused ReLU if the geometry has one.
    void forward(const float* input, const float* weight, const float* bias, float* output, void* workspace);

    bool has_backward() const;  // built for training
    // dL/dx from dL/dy; overwrites `grad_input`. Throws weft::Error unless built for training.
    void backward_data(const float* grad_output, const float* weight, float* grad_input, void* workspace);
    // dL/dW and dL/db ([out], required exactly when the geometry has a bias); overwrites both.
    void backward_weights(const float* input, const float* grad_output, float* grad_weight, float* grad_bias,
                          void* workspace);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// KernelFactory::declines of the cuDNN kernels: every node but a training one with fused_relu.
std::string cudnn_convolution_declines(const KernelConfig& config);

// The weft kernel every cuDNN-backed convolution operator uses (group_conv, pointwise_conv):
// params[0] is the weight [out, C/groups, kh, kw], params[1] the bias when the node has one.
class CudnnConvolutionKernel final : public Kernel {
public:
    explicit CudnnConvolutionKernel(const KernelConfig& config);

    std::size_t workspace_bytes() const override;
    void forward(const ForwardArgs& args) override;
    bool has_backward() const override;
    void backward(const BackwardArgs& args) override;

private:
    CudnnConvolution convolution_;
};

}  // namespace weft::cuda
