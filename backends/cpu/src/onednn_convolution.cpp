#include "weft/cpu/onednn_convolution.h"

#include <cstddef>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft::cpu {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

constexpr std::size_t kWorkspaceAlignment = 64;

// Slices of the caller's workspace, handed out once when the convolution is built.
class WorkspacePlan {
public:
    std::size_t reserve(std::size_t bytes) {
        const std::size_t offset = end_;
        end_ += (bytes + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment;
        return offset;
    }
    std::size_t bytes() const { return end_; }

private:
    std::size_t end_ = 0;
};

enum class StagingDirection { into_primitive, out_of_primitive };

// A tensor as the caller holds it and as a primitive reads or writes it. When the layouts
// differ, the primitive's copy lives in a workspace slice and a reorder (built here, once) moves
// the data across; when they agree both name one oneDNN memory and nothing moves.
class StagedTensor {
public:
    StagedTensor() = default;
    StagedTensor(const memory::desc& caller_md, const memory::desc& primitive_md,
                 const dnnl::engine& engine, WorkspacePlan& workspace, StagingDirection direction)
        : caller_(caller_md, engine, DNNL_MEMORY_NONE) {
        if (primitive_md == caller_md) {
            primitive_ = caller_;
            return;
        }
        primitive_ = memory(primitive_md, engine, DNNL_MEMORY_NONE);
        workspace_offset_ = workspace.reserve(primitive_md.get_size());
        reorder_ = direction == StagingDirection::into_primitive
                       ? dnnl::reorder(caller_, primitive_)
                       : dnnl::reorder(primitive_, caller_);
    }

    // The const_cast only undoes the const of the caller's read-only inputs: oneDNN memory
    // has no read-only handle, and the reorders and primitives only read them.
    void bind(const float* caller_data, void* workspace) {
        caller_.set_data_handle(const_cast<float*>(caller_data));
        if (reorder_) {
            primitive_.set_data_handle(static_cast<std::byte*>(workspace) + workspace_offset_);
        }
    }
    void stage_in(dnnl::stream& stream) {
        if (reorder_) reorder_->execute(stream, caller_, primitive_);
    }
    void stage_out(dnnl::stream& stream) {
        if (reorder_) reorder_->execute(stream, primitive_, caller_);
    }
    const memory& for_primitive() const { return primitive_; }

private:
    memory caller_;
    memory primitive_;
    std::optional<dnnl::reorder> reorder_;
    std::size_t workspace_offset_ = 0;
};

Tag activation_tag(Layout layout) {
    return layout == Layout::channels_last ? Tag::nhwc : Tag::nchw;
}

// oneDNN's direct convolution kernels (jit, brgconv) want channels-last activations; on NCHW
// they fall back to im2col + GEMM, which measured 1.2-3.4x slower on the IGC shapes (3x3 group
// convolutions with few channels per group) even after paying for the two reorders. A 1x1
// convolution on NCHW already *is* a GEMM, and there the reorders cost more than they save.
Tag primitive_activation_tag(const ConvolutionGeometry& geometry) {
    const bool one_by_one = geometry.kernel_h == 1 && geometry.kernel_w == 1;
    const bool graph_is_nchw =
        geometry.input_layout == Layout::row_major && geometry.output_layout == Layout::row_major;
    return one_by_one && graph_is_nchw ? Tag::nchw : Tag::nhwc;
}

// Weights as the graph stores them, [out, C/groups, kh, kw]; oneDNN spells a grouped kernel
// [groups, out/groups, C/groups, kh, kw], which is the same memory.
memory::desc caller_weight_md(const ConvolutionGeometry& g) {
    if (g.groups == 1) {
        return {{g.out_channels, g.in_channels, g.kernel_h, g.kernel_w},
                memory::data_type::f32,
                Tag::oihw};
    }
    return {{g.groups, g.out_channels / g.groups, g.in_channels / g.groups, g.kernel_h, g.kernel_w},
            memory::data_type::f32,
            Tag::goihw};
}

void check_geometry(const ConvolutionGeometry& g) {
    const bool positive = g.batch > 0 && g.in_channels > 0 && g.in_height > 0 && g.in_width > 0 &&
                          g.out_channels > 0 && g.groups > 0 && g.kernel_h > 0 && g.kernel_w > 0 &&
                          g.stride_h > 0 && g.stride_w > 0 && g.padding_h >= 0 &&
                          g.padding_w >= 0 && g.dilation_h > 0 && g.dilation_w > 0;
    if (!positive) throw Error(fmt::format("invalid convolution {}", g.str()));
    if (g.in_channels % g.groups != 0 || g.out_channels % g.groups != 0) {
        throw Error(fmt::format("convolution {}: channels are not divisible by groups", g.str()));
    }
    if (g.out_height() <= 0 || g.out_width() <= 0) {
        throw Error(fmt::format("convolution {} has an empty output", g.str()));
    }
}

std::int64_t output_extent(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                           std::int64_t padding, std::int64_t dilation) {
    const std::int64_t room = in + 2 * padding - (dilation * (kernel - 1) + 1);
    return room < 0 ? 0 : room / stride + 1;
}

dnnl::convolution_forward::primitive_desc describe_forward(const ConvolutionGeometry& g,
                                                           const dnnl::engine& engine,
                                                           bool training) {
    const auto f32 = memory::data_type::f32;
    const Tag activations = primitive_activation_tag(g);
    const memory::desc input_md(to_dnnl_dims(g.input_shape()), f32, activations);
    const memory::desc output_md(to_dnnl_dims(g.output_shape()), f32, activations);
    // `any` lets oneDNN block the weights for its kernel; forward reorders them per call, which
    // keeps the parameters plain and shared with training updates at a cost of one small copy.
    const memory::desc weight_md(caller_weight_md(g).dims(), f32, Tag::any);
    const memory::dims strides{g.stride_h, g.stride_w};
    const memory::dims dilation{g.dilation_h - 1, g.dilation_w - 1};
    const memory::dims padding{g.padding_h, g.padding_w};
    const auto kind =
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const auto algorithm = dnnl::algorithm::convolution_direct;

    const auto desc =
        g.bias ? dnnl::convolution_forward::desc(kind, algorithm, input_md, weight_md,
                                                 memory::desc({g.out_channels}, f32, Tag::x),
                                                 output_md, strides, dilation, padding, padding)
               : dnnl::convolution_forward::desc(kind, algorithm, input_md, weight_md, output_md,
                                                 strides, dilation, padding, padding);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // scratch comes from our workspace
    if (g.fused_relu) {
        dnnl::post_ops post_ops;
        post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        attr.set_post_ops(post_ops);
    }
    return {desc, attr, engine};
}

}  // namespace

std::int64_t ConvolutionGeometry::out_height() const {
    return output_extent(in_height, kernel_h, stride_h, padding_h, dilation_h);
}
std::int64_t ConvolutionGeometry::out_width() const {
    return output_extent(in_width, kernel_w, stride_w, padding_w, dilation_w);
}
Shape ConvolutionGeometry::input_shape() const { return {batch, in_channels, in_height, in_width}; }
Shape ConvolutionGeometry::output_shape() const {
    return {batch, out_channels, out_height(), out_width()};
}
Shape ConvolutionGeometry::weight_shape() const {
    return {out_channels, groups > 0 ? in_channels / groups : 0, kernel_h, kernel_w};
}
std::string ConvolutionGeometry::str() const {
    return fmt::format(
        "{} -> {} (kernel {}x{}, stride {}x{}, padding {}x{}, dilation {}x{}, groups {}{})",
        shape_str(input_shape()), out_channels, kernel_h, kernel_w, stride_h, stride_w, padding_h,
        padding_w, dilation_h, dilation_w, groups, bias ? ", bias" : "");
}

struct OnednnConvolution::Impl {
    ConvolutionGeometry geometry;
    dnnl::stream stream;
    // Kept for the backward primitives, which oneDNN builds with the forward one as a hint.
    dnnl::convolution_forward::primitive_desc forward_desc;
    dnnl::convolution_forward forward;
    StagedTensor input, weight, bias, output;
    memory scratchpad;
    std::size_t scratchpad_offset = 0;
    std::unordered_map<int, memory> forward_args;
    WorkspacePlan workspace;
};

OnednnConvolution::OnednnConvolution(const ConvolutionGeometry& geometry, CpuDevice& device,
                                     bool training)
    : impl_(std::make_unique<Impl>()) {
    check_geometry(geometry);
    Impl& state = *impl_;
    state.geometry = geometry;
    state.stream = device.stream();
    const dnnl::engine& engine = device.engine();
    const auto f32 = memory::data_type::f32;
    try {
        state.forward_desc = describe_forward(geometry, engine, training);
        state.forward = dnnl::convolution_forward(state.forward_desc);

        const memory::desc caller_input(to_dnnl_dims(geometry.input_shape()), f32,
                                        activation_tag(geometry.input_layout));
        const memory::desc caller_output(to_dnnl_dims(geometry.output_shape()), f32,
                                         activation_tag(geometry.output_layout));
        state.input = StagedTensor(caller_input, state.forward_desc.src_desc(), engine,
                                   state.workspace, StagingDirection::into_primitive);
        state.weight = StagedTensor(caller_weight_md(geometry), state.forward_desc.weights_desc(),
                                    engine, state.workspace, StagingDirection::into_primitive);
        state.output = StagedTensor(caller_output, state.forward_desc.dst_desc(), engine,
                                    state.workspace, StagingDirection::out_of_primitive);
        state.forward_args = {{DNNL_ARG_SRC, state.input.for_primitive()},
                              {DNNL_ARG_WEIGHTS, state.weight.for_primitive()},
                              {DNNL_ARG_DST, state.output.for_primitive()}};
        if (geometry.bias) {
            const memory::desc bias_md({geometry.out_channels}, f32, Tag::x);
            state.bias = StagedTensor(bias_md, state.forward_desc.bias_desc(), engine,
                                      state.workspace, StagingDirection::into_primitive);
            state.forward_args.emplace(DNNL_ARG_BIAS, state.bias.for_primitive());
        }
        const memory::desc scratchpad_md = state.forward_desc.scratchpad_desc();
        if (scratchpad_md.get_size() > 0) {
            state.scratchpad = memory(scratchpad_md, engine, DNNL_MEMORY_NONE);
            state.scratchpad_offset = state.workspace.reserve(scratchpad_md.get_size());
            state.forward_args.emplace(DNNL_ARG_SCRATCHPAD, state.scratchpad);
        }
    } catch (const dnnl::error& e) {
        throw Error(
            fmt::format("oneDNN cannot build the convolution {}: {}", geometry.str(), e.what()));
    }
}

OnednnConvolution::~OnednnConvolution() = default;

const ConvolutionGeometry& OnednnConvolution::geometry() const { return impl_->geometry; }

std::size_t OnednnConvolution::workspace_bytes() const { return impl_->workspace.bytes(); }

std::string OnednnConvolution::implementation() const {
    return impl_->forward_desc.impl_info_str();
}

void OnednnConvolution::forward(const float* input, const float* weight, const float* bias,
                                float* output, void* workspace) {
    Impl& state = *impl_;
    if (state.geometry.bias && bias == nullptr) {
        throw Error(fmt::format("convolution {} was given no bias", state.geometry.str()));
    }
    state.input.bind(input, workspace);
    state.weight.bind(weight, workspace);
    if (state.geometry.bias) state.bias.bind(bias, workspace);
    state.output.bind(output, workspace);
    if (state.scratchpad) {
        state.scratchpad.set_data_handle(static_cast<std::byte*>(workspace) +
                                         state.scratchpad_offset);
    }

    state.input.stage_in(state.stream);
    state.weight.stage_in(state.stream);
    if (state.geometry.bias) state.bias.stage_in(state.stream);
    state.forward.execute(state.stream, state.forward_args);
    state.output.stage_out(state.stream);
}

}  // namespace weft::cpu
