// The one 2-D convolution of the CPU backend, on oneDNN: group_conv and pointwise_conv (and
// anything else that is a convolution) describe their geometry and run through this class, so
// there is a single place that decides layouts, reorders and workspace use.
//
// Built once when a graph is compiled (primitive descriptors, primitives, reorders, the
// workspace plan); `forward` then only binds buffers and executes. When built for training, the
// backward-data and backward-weights primitives are built beside it from the same forward
// primitive descriptor (oneDNN's hint) and stage their tensors the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "weft/convolution.h"
#include "weft/cpu/cpu_device.h"
#include "weft/kernel.h"
#include "weft/tensor.h"

namespace weft::cpu {

// What one convolution computes is core's ConvolutionGeometry (weft/convolution.h): the same
// reading of the attributes and output-size rule the schemas use.
using weft::ConvolutionGeometry;

class OnednnConvolution {
public:
    // `training` builds the forward_training variant and the backward primitives it hints.
    // Throws weft::Error when the geometry is inconsistent, when oneDNN refuses it, or when a
    // training convolution asks for fused_relu (an inference-only rewrite: backward would need
    // the ReLU's mask, which the fused primitive does not keep).
    OnednnConvolution(const ConvolutionGeometry& geometry, CpuDevice& device, bool training);
    ~OnednnConvolution();
    OnednnConvolution(const OnednnConvolution&) = delete;
    OnednnConvolution& operator=(const OnednnConvolution&) = delete;

    const ConvolutionGeometry& geometry() const;
    // Scratch the caller provides to `forward` and the backward calls: oneDNN's scratchpads plus
    // room for tensors in the layouts the primitives compute in (64-byte aligned slices). The
    // directions run one at a time, so their slices overlap; this is the larger of the two.
    std::size_t workspace_bytes() const;
    // oneDNN's implementation name (e.g. "jit:avx512_core"), for logs and benchmarks.
    std::string implementation() const;

    // `input` and `output` NCHW, `weight` plain [out, C/groups, kh, kw],
    // `bias` [out] or null when the geometry has none. Allocates nothing.
    void forward(const float* input, const float* weight, const float* bias, float* output,
                 void* workspace);

    // Built for training: the backward calls below are available.
    bool has_backward() const;
    // dL/dx from dL/dy (both NCHW) and the plain weight. Overwrites
    // `grad_input`; allocates nothing. Throws weft::Error unless built for training.
    void backward_data(const float* grad_output, const float* weight, float* grad_input,
                       void* workspace);
    // dL/dW (plain [out, C/groups, kh, kw]) and dL/db ([out], required exactly when the geometry
    // has a bias) from the forward input and dL/dy. Overwrites both; allocates nothing.
    void backward_weights(const float* input, const float* grad_output, float* grad_weight,
                          float* grad_bias, void* workspace);

    struct Impl;  // the primitives, their arguments and the workspace plan, for one team

private:
    static std::shared_ptr<Impl> build(const ConvolutionGeometry& geometry, CpuDevice& device, bool training);

    // Built again for each thread team it runs with (PerTeam): oneDNN's convolutions keep the
    // thread count they were built for.
    std::unique_ptr<PerTeam<std::shared_ptr<Impl>>> teams_;
};

// The weft kernel every oneDNN-backed convolution operator uses (group_conv, pointwise_conv):
// params[0] is the weight [out, C/groups, kh, kw], params[1] the bias when the node has one.
// Reads its node with convolution_geometry(config), so schema and kernel agree by construction.
class ConvolutionKernel final : public Kernel {
public:
    explicit ConvolutionKernel(const KernelConfig& config);

    std::size_t workspace_bytes() const override;
    void forward(const ForwardArgs& args) override;
    bool has_backward() const override;
    void backward(const BackwardArgs& args) override;

private:
    OnednnConvolution convolution_;
};

}  // namespace weft::cpu
