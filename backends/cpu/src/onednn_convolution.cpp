#include "weft/cpu/onednn_convolution.h"

#include <algorithm>
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

// oneDNN's scratchpad for one primitive, in a slice of the caller's workspace (the primitives
// are built with scratchpad_mode::user).
class Scratchpad {
public:
    Scratchpad() = default;
    Scratchpad(const memory::desc& md, const dnnl::engine& engine, WorkspacePlan& workspace) {
        if (md.get_size() == 0) return;
        memory_ = memory(md, engine, DNNL_MEMORY_NONE);
        workspace_offset_ = workspace.reserve(md.get_size());
    }
    void add_to(std::unordered_map<int, memory>& args) const {
        if (memory_) args.emplace(DNNL_ARG_SCRATCHPAD, memory_);
    }
    void bind(void* workspace) {
        if (memory_) {
            memory_.set_data_handle(static_cast<std::byte*>(workspace) + workspace_offset_);
        }
    }

private:
    memory memory_;
    std::size_t workspace_offset_ = 0;
};

// oneDNN's direct convolution kernels (jit, brgconv) want channels-last activations; on NCHW
// they fall back to im2col + GEMM, which measured 1.2-3.4x slower on the IGC shapes (3x3 group
// convolutions with few channels per group) even after paying for the two reorders. A 1x1
// convolution on NCHW already *is* a GEMM, and there the reorders cost more than they save.
Tag primitive_activation_tag(const ConvolutionGeometry& geometry) {
    const bool one_by_one = geometry.kernel_h == 1 && geometry.kernel_w == 1;
    return one_by_one ? Tag::nchw : Tag::nhwc;
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

// The memory descriptors every direction of one convolution is described with: activations in
// the layout the primitives compute in, weights left to oneDNN.
struct ConvolutionDescs {
    memory::desc input, output, weight, bias;
    memory::dims strides, dilation, padding;

    explicit ConvolutionDescs(const ConvolutionGeometry& g) {
        const auto f32 = memory::data_type::f32;
        const Tag activations = primitive_activation_tag(g);
        input = memory::desc(to_dnnl_dims(g.input_shape()), f32, activations);
        output = memory::desc(to_dnnl_dims(g.output_shape()), f32, activations);
        // `any` lets oneDNN block the weights for its kernel; each call reorders them, which
        // keeps the parameters plain and shared with training updates at a cost of one small
        // copy.
        weight = memory::desc(caller_weight_md(g).dims(), f32, Tag::any);
        bias = memory::desc({g.out_channels}, f32, Tag::x);
        strides = {g.stride_h, g.stride_w};
        dilation = {g.dilation_h - 1, g.dilation_w - 1};
        padding = {g.padding_h, g.padding_w};
    }
};

dnnl::primitive_attr user_scratchpad_attr() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // scratch comes from our workspace
    return attr;
}

dnnl::convolution_forward::primitive_desc describe_forward(const ConvolutionGeometry& g,
                                                           const dnnl::engine& engine,
                                                           bool training) {
    const ConvolutionDescs d(g);
    const auto kind =
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const auto algorithm = dnnl::algorithm::convolution_direct;

    const auto desc =
        g.bias ? dnnl::convolution_forward::desc(kind, algorithm, d.input, d.weight, d.bias,
                                                 d.output, d.strides, d.dilation, d.padding,
                                                 d.padding)
               : dnnl::convolution_forward::desc(kind, algorithm, d.input, d.weight, d.output,
                                                 d.strides, d.dilation, d.padding, d.padding);
    dnnl::primitive_attr attr = user_scratchpad_attr();
    if (g.fused_relu) {
        dnnl::post_ops post_ops;
        post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        attr.set_post_ops(post_ops);
    }
    return {desc, attr, engine};
}

dnnl::convolution_backward_data::primitive_desc describe_backward_data(
    const ConvolutionGeometry& g, const dnnl::engine& engine,
    const dnnl::convolution_forward::primitive_desc& hint) {
    const ConvolutionDescs d(g);
    const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.input,
                                                     d.weight, d.output, d.strides, d.dilation,
                                                     d.padding, d.padding);
    return {desc, user_scratchpad_attr(), engine, hint};
}

dnnl::convolution_backward_weights::primitive_desc describe_backward_weights(
    const ConvolutionGeometry& g, const dnnl::engine& engine,
    const dnnl::convolution_forward::primitive_desc& hint) {
    const ConvolutionDescs d(g);
    const auto algorithm = dnnl::algorithm::convolution_direct;
    const auto desc =
        g.bias ? dnnl::convolution_backward_weights::desc(algorithm, d.input, d.weight, d.bias,
                                                          d.output, d.strides, d.dilation,
                                                          d.padding, d.padding)
               : dnnl::convolution_backward_weights::desc(algorithm, d.input, d.weight, d.output,
                                                          d.strides, d.dilation, d.padding,
                                                          d.padding);
    return {desc, user_scratchpad_attr(), engine, hint};
}

}  // namespace

namespace {

// The two backward primitives of a training convolution. Each stages its own copies: a
// primitive may want dy or the weights in another layout than its sibling or the forward one.
struct BackwardPrimitives {
    dnnl::convolution_backward_data data;
    StagedTensor data_grad_output, data_weight, grad_input;
    Scratchpad data_scratchpad;
    std::unordered_map<int, memory> data_args;

    dnnl::convolution_backward_weights weights;
    StagedTensor weights_input, weights_grad_output, grad_weight, grad_bias;
    Scratchpad weights_scratchpad;
    std::unordered_map<int, memory> weights_args;

    // Backward runs after forward, never beside it, so its slices start at 0 again.
    WorkspacePlan workspace;
};

}  // namespace

struct OnednnConvolution::Impl {
    ConvolutionGeometry geometry;
    dnnl::stream stream;
    // The backward primitives are built with the forward one as oneDNN's hint.
    dnnl::convolution_forward::primitive_desc forward_desc;
    dnnl::convolution_forward forward;
    StagedTensor input, weight, bias, output;
    Scratchpad scratchpad;
    std::unordered_map<int, memory> forward_args;
    WorkspacePlan workspace;
    std::optional<BackwardPrimitives> backward;  // built for training only
};

namespace {

BackwardPrimitives build_backward(const ConvolutionGeometry& g, const dnnl::engine& engine,
                                  const dnnl::convolution_forward::primitive_desc& hint,
                                  const memory::desc& caller_input,
                                  const memory::desc& caller_output) {
    constexpr auto in = StagingDirection::into_primitive;
    constexpr auto out = StagingDirection::out_of_primitive;
    BackwardPrimitives b;
    WorkspacePlan& ws = b.workspace;

    const auto data_desc = describe_backward_data(g, engine, hint);
    b.data = dnnl::convolution_backward_data(data_desc);
    b.data_grad_output = StagedTensor(caller_output, data_desc.diff_dst_desc(), engine, ws, in);
    b.data_weight = StagedTensor(caller_weight_md(g), data_desc.weights_desc(), engine, ws, in);
    b.grad_input = StagedTensor(caller_input, data_desc.diff_src_desc(), engine, ws, out);
    b.data_scratchpad = Scratchpad(data_desc.scratchpad_desc(), engine, ws);
    b.data_args = {{DNNL_ARG_DIFF_DST, b.data_grad_output.for_primitive()},
                   {DNNL_ARG_WEIGHTS, b.data_weight.for_primitive()},
                   {DNNL_ARG_DIFF_SRC, b.grad_input.for_primitive()}};
    b.data_scratchpad.add_to(b.data_args);

    const auto weights_desc = describe_backward_weights(g, engine, hint);
    b.weights = dnnl::convolution_backward_weights(weights_desc);
    b.weights_input = StagedTensor(caller_input, weights_desc.src_desc(), engine, ws, in);
    b.weights_grad_output =
        StagedTensor(caller_output, weights_desc.diff_dst_desc(), engine, ws, in);
    b.grad_weight =
        StagedTensor(caller_weight_md(g), weights_desc.diff_weights_desc(), engine, ws, out);
    b.weights_scratchpad = Scratchpad(weights_desc.scratchpad_desc(), engine, ws);
    b.weights_args = {{DNNL_ARG_SRC, b.weights_input.for_primitive()},
                      {DNNL_ARG_DIFF_DST, b.weights_grad_output.for_primitive()},
                      {DNNL_ARG_DIFF_WEIGHTS, b.grad_weight.for_primitive()}};
    if (g.bias) {
        const memory::desc bias_md({g.out_channels}, memory::data_type::f32, Tag::x);
        b.grad_bias = StagedTensor(bias_md, weights_desc.diff_bias_desc(), engine, ws, out);
        b.weights_args.emplace(DNNL_ARG_DIFF_BIAS, b.grad_bias.for_primitive());
    }
    b.weights_scratchpad.add_to(b.weights_args);
    return b;
}

}  // namespace

namespace {

std::size_t workspace_of(const OnednnConvolution::Impl& impl) {
    const std::size_t backward = impl.backward ? impl.backward->workspace.bytes() : 0;
    return std::max(impl.workspace.bytes(), backward);
}

}  // namespace

OnednnConvolution::OnednnConvolution(const ConvolutionGeometry& geometry, CpuDevice& device,
                                     bool training) {
    check_geometry(geometry);
    if (training && geometry.fused_relu) {
        throw Error(fmt::format(
            "convolution {}: fused_relu is an inference-only rewrite and cannot be trained; "
            "build the training graph without the ReLU fusion pass",
            geometry.str()));
    }
    teams_ = std::make_unique<PerTeam<std::shared_ptr<Impl>>>(
        device, [geometry, &device, training] { return build(geometry, device, training); },
        [](const std::shared_ptr<Impl>& impl) { return workspace_of(*impl); });
}

std::shared_ptr<OnednnConvolution::Impl> OnednnConvolution::build(const ConvolutionGeometry& geometry,
                                                                  CpuDevice& device, bool training) {
    auto impl = std::make_shared<Impl>();
    Impl& state = *impl;
    state.geometry = geometry;
    state.stream = device.stream();
    const dnnl::engine& engine = device.engine();
    const auto f32 = memory::data_type::f32;
    try {
        state.forward_desc = describe_forward(geometry, engine, training);
        state.forward = dnnl::convolution_forward(state.forward_desc);

        // The graph holds activations NCHW (weft's only layout).
        const memory::desc caller_input(to_dnnl_dims(geometry.input_shape()), f32, Tag::nchw);
        const memory::desc caller_output(to_dnnl_dims(geometry.output_shape()), f32, Tag::nchw);
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
        state.scratchpad =
            Scratchpad(state.forward_desc.scratchpad_desc(), engine, state.workspace);
        state.scratchpad.add_to(state.forward_args);
        if (training) {
            state.backward.emplace(build_backward(geometry, engine, state.forward_desc,
                                                  caller_input, caller_output));
        }
    } catch (const dnnl::error& e) {
        throw Error(
            fmt::format("oneDNN cannot build the convolution {}: {}", geometry.str(), e.what()));
    }
    return impl;
}

OnednnConvolution::~OnednnConvolution() = default;

const ConvolutionGeometry& OnednnConvolution::geometry() const { return teams_->most()->geometry; }

std::size_t OnednnConvolution::workspace_bytes() const { return workspace_of(*teams_->most()); }

bool OnednnConvolution::has_backward() const { return teams_->most()->backward.has_value(); }

std::string OnednnConvolution::implementation() const {
    return teams_->most()->forward_desc.impl_info_str();
}

void OnednnConvolution::forward(const float* input, const float* weight, const float* bias,
                                float* output, void* workspace) {
    Impl& state = *teams_->now();  // asks the device for the team (CpuDevice::threads_now)
    if (state.geometry.bias && bias == nullptr) {
        throw Error(fmt::format("convolution {} was given no bias", state.geometry.str()));
    }
    state.input.bind(input, workspace);
    state.weight.bind(weight, workspace);
    if (state.geometry.bias) state.bias.bind(bias, workspace);
    state.output.bind(output, workspace);
    state.scratchpad.bind(workspace);

    state.input.stage_in(state.stream);
    state.weight.stage_in(state.stream);
    if (state.geometry.bias) state.bias.stage_in(state.stream);
    state.forward.execute(state.stream, state.forward_args);
    state.output.stage_out(state.stream);
}

namespace {

BackwardPrimitives& backward_primitives(std::optional<BackwardPrimitives>& backward,
                                        const ConvolutionGeometry& geometry) {
    if (!backward) {
        throw Error(fmt::format("convolution {} was built for inference and has no backward",
                                geometry.str()));
    }
    return *backward;
}

}  // namespace

void OnednnConvolution::backward_data(const float* grad_output, const float* weight,
                                      float* grad_input, void* workspace) {
    Impl& state = *teams_->now();  // asks the device for the team (CpuDevice::threads_now)
    BackwardPrimitives& b = backward_primitives(state.backward, state.geometry);
    b.data_grad_output.bind(grad_output, workspace);
    b.data_weight.bind(weight, workspace);
    b.grad_input.bind(grad_input, workspace);
    b.data_scratchpad.bind(workspace);

    b.data_grad_output.stage_in(state.stream);
    b.data_weight.stage_in(state.stream);
    b.data.execute(state.stream, b.data_args);
    b.grad_input.stage_out(state.stream);
}

void OnednnConvolution::backward_weights(const float* input, const float* grad_output,
                                         float* grad_weight, float* grad_bias, void* workspace) {
    Impl& state = *teams_->now();  // asks the device for the team (CpuDevice::threads_now)
    BackwardPrimitives& b = backward_primitives(state.backward, state.geometry);
    if (state.geometry.bias && grad_bias == nullptr) {
        throw Error(fmt::format("convolution {} was given nowhere to write dL/dbias",
                                state.geometry.str()));
    }
    b.weights_input.bind(input, workspace);
    b.weights_grad_output.bind(grad_output, workspace);
    b.grad_weight.bind(grad_weight, workspace);
    if (state.geometry.bias) b.grad_bias.bind(grad_bias, workspace);
    b.weights_scratchpad.bind(workspace);

    b.weights_input.stage_in(state.stream);
    b.weights_grad_output.stage_in(state.stream);
    b.weights.execute(state.stream, b.weights_args);
    b.grad_weight.stage_out(state.stream);
    if (state.geometry.bias) b.grad_bias.stage_out(state.stream);
}

ConvolutionKernel::ConvolutionKernel(const KernelConfig& config)
    : convolution_(convolution_geometry(config), cpu_device(config.device), config.training) {}

std::size_t ConvolutionKernel::workspace_bytes() const { return convolution_.workspace_bytes(); }

void ConvolutionKernel::forward(const ForwardArgs& args) {
    const float* bias = convolution_.geometry().bias ? args.params[1].as<const float>() : nullptr;
    convolution_.forward(args.inputs[0].as<const float>(), args.params[0].as<const float>(), bias,
                         args.outputs[0].as<float>(), args.workspace);
}

bool ConvolutionKernel::has_backward() const { return convolution_.has_backward(); }

void ConvolutionKernel::backward(const BackwardArgs& args) {
    const float* grad_output = args.grad_outputs[0].as<const float>();
    float* grad_bias = convolution_.geometry().bias ? args.grad_params[1].as<float>() : nullptr;
    convolution_.backward_data(grad_output, args.params[0].as<const float>(), args.grad_inputs[0].as<float>(),
                               args.workspace);
    convolution_.backward_weights(args.inputs[0].as<const float>(), grad_output, args.grad_params[0].as<float>(),
                                  grad_bias, args.workspace);
}

}  // namespace weft::cpu
