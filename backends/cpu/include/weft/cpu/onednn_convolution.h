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

#include "weft/cpu/cpu_device.h"
#include "weft/kernel.h"
#include "weft/tensor.h"

namespace weft::cpu {

// What one convolution computes, in weft's terms: symmetric padding, dilation 1 = a dense
// kernel (oneDNN counts from 0), weights [out_channels, in_channels / groups, kernel_h, kernel_w].
struct ConvolutionGeometry {
    std::int64_t batch = 1;
    std::int64_t in_channels = 1;
    std::int64_t in_height = 1;
    std::int64_t in_width = 1;
    std::int64_t out_channels = 1;
    std::int64_t groups = 1;
    std::int64_t kernel_h = 1;
    std::int64_t kernel_w = 1;
    std::int64_t stride_h = 1;
    std::int64_t stride_w = 1;
    std::int64_t padding_h = 0;
    std::int64_t padding_w = 0;
    std::int64_t dilation_h = 1;
    std::int64_t dilation_w = 1;
    bool bias = false;
    bool fused_relu = false;  // applies max(0, ·) to the output as a oneDNN post-op
    // How the graph holds the input and the output; the convolution reorders internally when it
    // computes in another layout.
    Layout input_layout = Layout::row_major;
    Layout output_layout = Layout::row_major;

    std::int64_t out_height() const;
    std::int64_t out_width() const;
    Shape input_shape() const;   // [N, C, H, W]
    Shape output_shape() const;  // [N, out, Ho, Wo]
    Shape weight_shape() const;  // [out, C / groups, kh, kw]
    std::string str() const;     // for error messages and logs
};

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

    // `input` and `output` in the geometry's layouts, `weight` plain [out, C/groups, kh, kw],
    // `bias` [out] or null when the geometry has none. Allocates nothing.
    void forward(const float* input, const float* weight, const float* bias, float* output,
                 void* workspace);

    // Built for training: the backward calls below are available.
    bool has_backward() const;
    // dL/dx from dL/dy (both in the geometry's layouts) and the plain weight. Overwrites
    // `grad_input`; allocates nothing. Throws weft::Error unless built for training.
    void backward_data(const float* grad_output, const float* weight, float* grad_input,
                       void* workspace);
    // dL/dW (plain [out, C/groups, kh, kw]) and dL/db ([out], required exactly when the geometry
    // has a bias) from the forward input and dL/dy. Overwrites both; allocates nothing.
    void backward_weights(const float* input, const float* grad_output, float* grad_weight,
                          float* grad_bias, void* workspace);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The weft kernel every oneDNN-backed convolution operator uses: params[0] is the weight
// [out, C/groups, kh, kw], params[1] the bias when the geometry has one. The caller checks that
// the geometry computes the node's shapes before handing it over.
class ConvolutionKernel final : public Kernel {
public:
    ConvolutionKernel(const ConvolutionGeometry& geometry, const KernelConfig& config);

    std::size_t workspace_bytes() const override;
    void forward(const ForwardArgs& args) override;
    bool has_backward() const override;
    void backward(const BackwardArgs& args) override;

private:
    OnednnConvolution convolution_;
};

}  // namespace weft::cpu
