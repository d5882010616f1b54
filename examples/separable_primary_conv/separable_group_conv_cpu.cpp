// separable_group_conv on the CPU. Two kernels:
//   onednn    — two oneDNN convolutions (3×1, then 1×3) on the engine and stream of weft's CPU
//               backend (weft/cpu/cpu_device.h); the intermediate lives in the node's workspace.
//               Priority 0: chosen by default.
//   reference — the definition as plain loops (README.md, "What it computes"). Priority -1: only
//               used when forced, `--kernel separable_group_conv=reference`, to check the other.
// Both are built when the graph is compiled and allocate nothing in forward().
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

#include "separable_geometry.h"
#include "weft/cpu/cpu_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr std::size_t kAlignment = 64;

std::size_t aligned(std::size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// The geometry of the node, after checking that the graph holds what these kernels compute.
separable::Geometry checked_geometry(const weft::KernelConfig& config) {
    const weft::TensorDesc& input = config.inputs.at(0);
    if (input.dtype != weft::DType::f32 || input.layout != weft::Layout::row_major ||
        config.outputs.at(0).layout != weft::Layout::row_major)
        throw weft::Error("the cpu separable_group_conv computes row-major f32 only, got input " + input.str());
    const separable::Geometry g = separable::geometry_of(input, config.attrs);
    if (config.outputs.at(0).shape != g.output_shape() || config.params.at(0).desc.shape != g.vertical_weight_shape() ||
        config.params.at(1).desc.shape != g.horizontal_weight_shape())
        throw weft::Error("the cpu separable_group_conv computes " + weft::shape_str(g.output_shape()) +
                          ", but the graph expects " + config.outputs[0].str());
    return g;
}

// ----------------------------------------------------------------------------------------------
// oneDNN

// weft's weights [out, in/groups, kh, kw] are, byte for byte, oneDNN's grouped goihw.
memory::desc grouped_weights(std::int64_t out, std::int64_t in_per_group, std::int64_t groups, std::int64_t kh,
                             std::int64_t kw) {
    return memory::desc({groups, out / groups, in_per_group, kh, kw}, memory::data_type::f32, Tag::goihw);
}

memory::desc plain(const weft::Shape& shape) {
    return memory::desc(weft::cpu::to_dnnl_dims(shape), memory::data_type::f32, Tag::nchw);
}

// One convolution on plain layouts, its scratchpad provided by the caller (the workspace).
class PlainConvolution {
public:
    PlainConvolution(dnnl::engine& engine, const memory::desc& src, const memory::desc& weights,
                     const memory::desc& dst, const memory::dims& strides, const memory::dims& padding) {
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        const auto kind = dnnl::prop_kind::forward_inference;
        const auto algorithm = dnnl::algorithm::convolution_direct;
#if DNNL_VERSION_MAJOR >= 3
        const dnnl::convolution_forward::primitive_desc pd(engine, kind, algorithm, src, weights, dst, strides,
                                                           padding, padding, attr);
#else
        const dnnl::convolution_forward::primitive_desc pd(
            dnnl::convolution_forward::desc(kind, algorithm, src, weights, dst, strides, padding, padding), attr,
            engine);
#endif
        primitive_ = dnnl::convolution_forward(pd);
        src_ = memory(src, engine, DNNL_MEMORY_NONE);
        weights_ = memory(weights, engine, DNNL_MEMORY_NONE);
        dst_ = memory(dst, engine, DNNL_MEMORY_NONE);
        scratchpad_bytes_ = pd.scratchpad_desc().get_size();
        if (scratchpad_bytes_ > 0) scratchpad_ = memory(pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    }

    std::size_t scratchpad_bytes() const { return scratchpad_bytes_; }

    // The const_casts only undo the const of read-only inputs: oneDNN memory has no read-only handle.
    void run(dnnl::stream& stream, const float* src, const float* weights, float* dst, void* scratchpad) {
        src_.set_data_handle(const_cast<float*>(src));
        weights_.set_data_handle(const_cast<float*>(weights));
        dst_.set_data_handle(dst);
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst_}};
        if (scratchpad_bytes_ > 0) {
            scratchpad_.set_data_handle(scratchpad);
            args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad_);
        }
        primitive_.execute(stream, args);
    }

private:
    dnnl::convolution_forward primitive_;
    memory src_, weights_, dst_, scratchpad_;
    std::size_t scratchpad_bytes_ = 0;
};

class SeparableGroupConvOnednn final : public weft::Kernel {
public:
    explicit SeparableGroupConvOnednn(const weft::KernelConfig& config)
        : SeparableGroupConvOnednn(checked_geometry(config), weft::cpu::cpu_device(config.device)) {}

    // Workspace: [intermediate t][scratchpad of the 3×1][scratchpad of the 1×3], 64-byte aligned.
    std::size_t workspace_bytes() const override {
        return vertical_offset_ + aligned(vertical_.scratchpad_bytes()) + aligned(horizontal_.scratchpad_bytes());
    }

    void forward(const weft::ForwardArgs& args) override {
        auto* workspace = static_cast<std::byte*>(args.workspace);
        auto* intermediate = reinterpret_cast<float*>(workspace);
        std::byte* vertical_scratch = workspace + vertical_offset_;
        std::byte* horizontal_scratch = vertical_scratch + aligned(vertical_.scratchpad_bytes());
        dnnl::stream& stream = device_.stream();
        vertical_.run(stream, args.inputs[0].as<const float>(), args.params[0].as<const float>(), intermediate,
                      vertical_scratch);
        horizontal_.run(stream, intermediate, args.params[1].as<const float>(), args.outputs[0].as<float>(),
                        horizontal_scratch);
        stream.wait();
    }

private:
    SeparableGroupConvOnednn(const separable::Geometry& g, weft::cpu::CpuDevice& device)
        : device_(device),
          // 3×1 per partition: in/groups -> out/groups channels, rows strided and padded.
          vertical_(device.engine(), plain({g.batch, g.in_channels, g.height, g.width}),
                    grouped_weights(g.out_channels, g.in_per_group(), g.groups, separable::kTaps, 1),
                    plain(g.intermediate_shape()), {g.stride_h, 1}, {g.padding_h, 0}),
          // 1×3 per partition: out/groups -> out/groups channels, columns strided and padded.
          horizontal_(device.engine(), plain(g.intermediate_shape()),
                      grouped_weights(g.out_channels, g.out_per_group(), g.groups, 1, separable::kTaps),
                      plain(g.output_shape()), {1, g.stride_w}, {0, g.padding_w}),
          vertical_offset_(aligned(static_cast<std::size_t>(weft::shape_numel(g.intermediate_shape())) * sizeof(float))) {}

    weft::cpu::CpuDevice& device_;
    PlainConvolution vertical_;
    PlainConvolution horizontal_;
    std::size_t vertical_offset_;
};

// ----------------------------------------------------------------------------------------------
// Reference loops

class SeparableGroupConvReference final : public weft::Kernel {
public:
    explicit SeparableGroupConvReference(const weft::KernelConfig& config) : g_(checked_geometry(config)) {}

    std::size_t workspace_bytes() const override {
        return static_cast<std::size_t>(weft::shape_numel(g_.intermediate_shape())) * sizeof(float);
    }

    void forward(const weft::ForwardArgs& args) override {
        auto* t = static_cast<float*>(args.workspace);
        vertical(args.inputs[0].as<const float>(), args.params[0].as<const float>(), t);
        horizontal(t, args.params[1].as<const float>(), args.outputs[0].as<float>());
    }

private:
    // t[n, o, i, x] = sum over c in o's partition, k < 3: W_v[o, c, k, 0] · x[n, c, i·sh + k - ph, x]
    void vertical(const float* x, const float* w, float* t) const {
        const std::int64_t H = g_.height, W = g_.width, Ho = g_.out_height(), Cg = g_.in_per_group(),
                           Og = g_.out_per_group();
        for (std::int64_t n = 0; n < g_.batch; ++n)
            for (std::int64_t o = 0; o < g_.out_channels; ++o)
                for (std::int64_t i = 0; i < Ho; ++i)
                    for (std::int64_t col = 0; col < W; ++col) {
                        float sum = 0.f;
                        for (std::int64_t c = 0; c < Cg; ++c)
                            for (std::int64_t k = 0; k < separable::kTaps; ++k) {
                                const std::int64_t row = i * g_.stride_h + k - g_.padding_h;
                                if (row < 0 || row >= H) continue;
                                const std::int64_t channel = (o / Og) * Cg + c;
                                sum += w[(o * Cg + c) * separable::kTaps + k] *
                                       x[((n * g_.in_channels + channel) * H + row) * W + col];
                            }
                        t[((n * g_.out_channels + o) * Ho + i) * W + col] = sum;
                    }
    }

    // y[n, o, i, j] = sum over m in o's partition, k < 3: W_h[o, m, 0, k] · t[n, m, i, j·sw + k - pw]
    void horizontal(const float* t, const float* w, float* y) const {
        const std::int64_t W = g_.width, Ho = g_.out_height(), Wo = g_.out_width(), Og = g_.out_per_group();
        for (std::int64_t n = 0; n < g_.batch; ++n)
            for (std::int64_t o = 0; o < g_.out_channels; ++o)
                for (std::int64_t i = 0; i < Ho; ++i)
                    for (std::int64_t j = 0; j < Wo; ++j) {
                        float sum = 0.f;
                        for (std::int64_t m = 0; m < Og; ++m)
                            for (std::int64_t k = 0; k < separable::kTaps; ++k) {
                                const std::int64_t col = j * g_.stride_w + k - g_.padding_w;
                                if (col < 0 || col >= W) continue;
                                const std::int64_t channel = (o / Og) * Og + m;
                                sum += w[(o * Og + m) * separable::kTaps + k] *
                                       t[((n * g_.out_channels + channel) * Ho + i) * W + col];
                            }
                        y[((n * g_.out_channels + o) * Ho + i) * Wo + j] = sum;
                    }
    }

    separable::Geometry g_;
};

}  // namespace

WEFT_PLUGIN("separable_group_conv_cpu", "1.0.0") {
    registrar.add_kernel(weft::kernel_factory<SeparableGroupConvOnednn>("separable_group_conv", "cpu", "onednn"));
    // Below the oneDNN kernel: used when forced (--kernel separable_group_conv=reference).
    registrar.add_kernel(weft::kernel_factory<SeparableGroupConvReference>("separable_group_conv", "cpu", "reference",
                                                                          /*priority=*/-1));
}
