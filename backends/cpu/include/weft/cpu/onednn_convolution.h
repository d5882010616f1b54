// The one 2-D convolution of the CPU backend, on oneDNN: group_conv and pointwise_conv (and
// anything else that is a convolution) describe their geometry and run through this class, so
// there is a single place that decides layouts, reorders and workspace use.
//
// Built once when a graph is compiled (primitive descriptors, primitives, reorders, the
// workspace plan); `forward` then only binds buffers and executes. Backward-data and
// backward-weights primitives belong next to `forward`, built from the same forward primitive
// descriptor (oneDNN's hint), staging their tensors the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "weft/cpu/cpu_device.h"
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
    // `training` builds the forward_training variant, which later backward primitives need as
    // their hint. Throws weft::Error when the geometry is inconsistent or oneDNN refuses it.
    OnednnConvolution(const ConvolutionGeometry& geometry, CpuDevice& device, bool training);
    ~OnednnConvolution();
    OnednnConvolution(const OnednnConvolution&) = delete;
    OnednnConvolution& operator=(const OnednnConvolution&) = delete;

    const ConvolutionGeometry& geometry() const;
    // Scratch the caller provides to `forward`: oneDNN's scratchpad plus room for tensors in the
    // layouts the primitive computes in (64-byte aligned slices).
    std::size_t workspace_bytes() const;
    // oneDNN's implementation name (e.g. "jit:avx512_core"), for logs and benchmarks.
    std::string implementation() const;

    // `input` and `output` in the geometry's layouts, `weight` plain [out, C/groups, kh, kw],
    // `bias` [out] or null when the geometry has none. Allocates nothing.
    void forward(const float* input, const float* weight, const float* bias, float* output,
                 void* workspace);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace weft::cpu
