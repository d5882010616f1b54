// What one 2-D convolution computes, in numbers, and the one output-size rule: shared by the
// schemas of convolution operators (group_conv, pointwise_conv, a plugin's own) and by every
// backend's kernels, so a shape rule is written once and schema and kernel cannot disagree.
// Part of the plugin SDK.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "weft/attributes.h"
#include "weft/kernel.h"
#include "weft/tensor.h"

namespace weft {

// The extent of one output axis: floor((input + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1,
// PyTorch's and oneDNN's rule (no ceil mode). Throws weft::Error naming `axis` when the output
// would be empty, and when any step overflows 64 bits (padding straight from a graph file).
std::int64_t convolution_output_extent(std::string_view axis, std::int64_t input, std::int64_t kernel,
                                       std::int64_t stride, std::int64_t padding, std::int64_t dilation);

// Symmetric padding; dilation 1 is a dense kernel; weights [out_channels, in_channels / groups,
// kernel_h, kernel_w]; activations NCHW.
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
    bool fused_relu = false;  // max(0, ·) applied to the output (an inference-only rewrite)

    std::int64_t in_per_group() const { return in_channels / groups; }
    std::int64_t out_per_group() const { return out_channels / groups; }
    std::int64_t out_height() const;  // convolution_output_extent, so it throws as that does
    std::int64_t out_width() const;
    Shape input_shape() const;   // [N, C, H, W]
    Shape output_shape() const;  // [N, out, Ho, Wo]
    Shape weight_shape() const;  // [out, C / groups, kh, kw]
    std::int64_t fan_in() const;  // C / groups · kh · kw: what each output sees
    std::int64_t macs() const;    // multiply-adds for the whole batch (the paper's "FLOPs")
    std::string str() const;      // for error messages and logs
    // Field by field: two nodes that compute the same convolution compare equal (a cache of
    // per-shape choices keys on this).
    bool operator==(const ConvolutionGeometry&) const = default;
};

// Reads a convolution node: `input` [N, C, H, W] and the attributes group_conv declares —
// out_channels, groups, kernel, stride, padding, dilation (each k or [kh, kw]), bias,
// fused_relu. An attribute the op does not declare keeps its 1×1 default (pointwise_conv has no
// kernel, padding or dilation). Throws weft::Error saying what does not fit: a rank other than 4,
// channels that do not divide by groups, an empty or overflowing output.
ConvolutionGeometry convolution_geometry(const Attributes& attrs, const TensorDesc& input);

// A kernel's reading of its node: the geometry above, checked against the shapes the graph gave
// the node (output and weight) and for f32 tensors, so a kernel never computes something other
// than what its schema promised. Throws weft::Error saying what differs.
ConvolutionGeometry convolution_geometry(const KernelConfig& config);

}  // namespace weft
