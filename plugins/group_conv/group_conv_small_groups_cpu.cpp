// group_conv on the CPU for groups of few channels: a direct convolution on the graph's NCHW
// tensors. IGC's primary group convolutions (paper Sec. 3.1: L partitions of M channels, e.g.
// 24 groups of 2) leave oneDNN a dense convolution per group so small that its blocked kernels
// mostly move data; here each group's (C/groups x kh x kw) taps stream through output vectors
// held in registers, with no reorder and nothing allocated per batch.
//
// It outranks the oneDNN kernel (priority 10) and runs that kernel itself for nodes it does not
// serve: groups wider than 16 channels, or tensors held channels-last. A kernel created for
// training runs the oneDNN convolution for forward and backward alike: this file has no backward
// of its own, and one convolution for both directions keeps the gradients those of the forward
// that ran.
//
// Vector code is chosen when the kernel is created: AVX-512, else AVX2, else a portable loop;
// WEFT_SMALL_GROUPS_ISA=avx512|avx2|portable forces one (tests run each in turn).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "group_conv_geometry.h"
#include "group_conv_small_groups.h"
#include "weft/cpu/onednn_convolution.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

using weft::small_groups::Geometry;
using weft::small_groups::Tile;
using weft::small_groups::TileKernel;

// Channels per group up to which this kernel computes the node itself.
constexpr std::int64_t kMaxChannelsPerGroup = 16;

enum class Isa { avx512, avx2, portable };

std::string_view isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx512: return "avx512";
        case Isa::avx2: return "avx2";
        case Isa::portable: return "portable";
    }
    return "?";
}

bool cpu_supports(Isa isa) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (isa) {
        case Isa::avx512:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
        case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case Isa::portable: return true;
    }
    return false;
#else
    return isa == Isa::portable;
#endif
}

// The best path this CPU runs, unless WEFT_SMALL_GROUPS_ISA names one.
Isa chosen_isa() {
    const char* forced = std::getenv("WEFT_SMALL_GROUPS_ISA");
    if (forced == nullptr || *forced == '\0') {
        for (Isa isa : {Isa::avx512, Isa::avx2}) {
            if (cpu_supports(isa)) return isa;
        }
        return Isa::portable;
    }
    for (Isa isa : {Isa::avx512, Isa::avx2, Isa::portable}) {
        if (forced != isa_name(isa)) continue;
        if (!cpu_supports(isa)) {
            throw weft::Error(fmt::format(
                "WEFT_SMALL_GROUPS_ISA={}: this CPU does not support that instruction set", forced));
        }
        return isa;
    }
    throw weft::Error(fmt::format(
        "WEFT_SMALL_GROUPS_ISA={}: expected avx512, avx2 or portable", forced));
}

bool serves(const weft::cpu::ConvolutionGeometry& conv) {
    return conv.input_layout == weft::Layout::row_major &&
           conv.output_layout == weft::Layout::row_major &&
           conv.in_channels / conv.groups <= kMaxChannelsPerGroup &&
           conv.out_channels / conv.groups <= kMaxChannelsPerGroup;
}

Geometry small_groups_geometry(const weft::cpu::ConvolutionGeometry& conv) {
    Geometry g;
    g.in_channels = conv.in_channels, g.height = conv.in_height, g.width = conv.in_width;
    g.out_channels = conv.out_channels;
    g.out_height = conv.out_height(), g.out_width = conv.out_width();
    g.groups = conv.groups;
    g.in_per_group = conv.in_channels / conv.groups;
    g.out_per_group = conv.out_channels / conv.groups;
    g.kernel_h = conv.kernel_h, g.kernel_w = conv.kernel_w;
    g.stride_h = conv.stride_h, g.stride_w = conv.stride_w;
    g.padding_h = conv.padding_h, g.padding_w = conv.padding_w;
    g.dilation_h = conv.dilation_h, g.dilation_w = conv.dilation_w;
    g.relu = conv.fused_relu;
    return g;
}

// Eq. 1 for one image and one group, scalar: each tap adds a scaled input row segment to an
// output row, over the columns where the tap lands inside the input. Any stride and dilation.
void convolve_group_portable(const Geometry& g, const float* input, const float* weight,
                             const float* bias, float* output) {
    const std::int64_t out_plane = g.out_height * g.out_width;
    for (std::int64_t o = 0; o < g.out_per_group; ++o) {
        float* y = output + o * out_plane;
        std::fill(y, y + out_plane, bias ? bias[o] : 0.f);
        for (std::int64_t c = 0; c < g.in_per_group; ++c) {
            const float* x = input + c * g.height * g.width;
            for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
                for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
                    const float w = weight[((o * g.in_per_group + c) * g.kernel_h + ky) *
                                               g.kernel_w + kx];
                    const std::int64_t shift = kx * g.dilation_w - g.padding_w;
                    // Output columns whose input column ox * stride + shift is in [0, width).
                    const std::int64_t first =
                        std::max<std::int64_t>(0, (-shift + g.stride_w - 1) / g.stride_w);
                    const std::int64_t last = std::min<std::int64_t>(
                        g.out_width, shift >= g.width ? 0 : (g.width - 1 - shift) / g.stride_w + 1);
                    for (std::int64_t oy = 0; oy < g.out_height; ++oy) {
                        const std::int64_t iy = oy * g.stride_h + ky * g.dilation_h - g.padding_h;
                        if (iy < 0 || iy >= g.height) continue;
                        const float* x_row = x + iy * g.width + shift;
                        float* y_row = y + oy * g.out_width;
                        for (std::int64_t ox = first; ox < last; ++ox) {
                            y_row[ox] += w * x_row[ox * g.stride_w];
                        }
                    }
                }
            }
        }
        if (g.relu) {
            for (std::int64_t i = 0; i < out_plane; ++i) y[i] = std::max(y[i], 0.f);
        }
    }
}

class GroupConvSmallGroups final : public weft::Kernel {
public:
    explicit GroupConvSmallGroups(const weft::KernelConfig& config)
        : threads_(weft::cpu::cpu_device(config.device).threads()) {
        const weft::cpu::ConvolutionGeometry conv = weft::group_conv::group_conv_geometry(config);
        weft::group_conv::check_group_conv_shapes(conv, config);
        batch_ = conv.batch;
        has_bias_ = conv.bias;
        // Training: this kernel's forward (the slow case of oneDNN's), oneDNN's backward.
        if (config.training || !serves(conv)) {
            onednn_ = std::make_unique<weft::cpu::OnednnConvolution>(
                conv, weft::cpu::cpu_device(config.device), config.training);
            if (!serves(conv)) return;
        }
        own_forward_ = true;
        geometry_ = small_groups_geometry(conv);
        zero_row_.assign(static_cast<std::size_t>(geometry_.width), 0.f);
        geometry_.zero_row = zero_row_.data();
        plan_tiles(chosen_isa());
    }

    std::size_t workspace_bytes() const override {
        return onednn_ ? onednn_->workspace_bytes() : 0;
    }

    void forward(const weft::ForwardArgs& args) override {
        const float* input = args.inputs[0].as<const float>();
        const float* weight = args.params[0].as<const float>();
        const float* bias = has_bias_ ? args.params[1].as<const float>() : nullptr;
        float* output = args.outputs[0].as<float>();
        if (!own_forward_) {
            onednn_->forward(input, weight, bias, output, args.workspace);
            return;
        }
        const Geometry& g = geometry_;
        const std::int64_t items = batch_ * g.groups;
        const int threads = threads_;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
        for (std::int64_t item = 0; item < items; ++item) {
            const std::int64_t n = item / g.groups, group = item % g.groups;
            const std::int64_t first_out = group * g.out_per_group;
            const float* x = input + (n * g.in_channels + group * g.in_per_group) * g.height * g.width;
            const float* w = weight + first_out * g.in_per_group * g.kernel_h * g.kernel_w;
            const float* b = bias ? bias + first_out : nullptr;
            float* y = output + (n * g.out_channels + first_out) * g.out_height * g.out_width;
            if (blocks_.empty()) {
                convolve_group_portable(g, x, w, b, y);
            } else {
                convolve_group_in_tiles(x, w, b, y);
            }
        }
    }

    bool has_backward() const override { return onednn_ && onednn_->has_backward(); }

    void backward(const weft::BackwardArgs& args) override {
        if (!has_backward()) weft::Kernel::backward(args);  // throws: built for inference
        const float* grad_output = args.grad_outputs[0].as<const float>();
        float* grad_bias = has_bias_ ? args.grad_params[1].as<float>() : nullptr;
        onednn_->backward_data(grad_output, args.params[0].as<const float>(),
                               args.grad_inputs[0].as<float>(), args.workspace);
        onednn_->backward_weights(args.inputs[0].as<const float>(), grad_output,
                                  args.grad_params[0].as<float>(), grad_bias, args.workspace);
    }

private:
    // Splits a group's output channels into blocks of 8, 4, 2, 1, each with its tile function.
    // Leaves blocks_ empty (the portable loop) where the ISA has no tile for this geometry.
    void plan_tiles(Isa isa) {
        if (isa == Isa::portable) return;
        for (std::int64_t done = 0; done < geometry_.out_per_group;) {
            int block = 8;
            while (block > geometry_.out_per_group - done) block /= 2;
            const TileKernel tile = isa == Isa::avx512
                                        ? weft::small_groups::avx512_tile_kernel(geometry_, block)
                                        : weft::small_groups::avx2_tile_kernel(geometry_, block);
            if (tile.run == nullptr) {  // e.g. a horizontal stride above 2
                blocks_.clear();
                return;
            }
            blocks_.push_back(tile);
            done += block;
        }
    }

    void convolve_group_in_tiles(const float* x, const float* w, const float* b, float* y) const {
        const Geometry& g = geometry_;
        const std::int64_t out_plane = g.out_height * g.out_width;
        const std::int64_t weights_per_out = g.in_per_group * g.kernel_h * g.kernel_w;
        std::int64_t first = 0;  // the block's first output channel within the group
        for (const TileKernel& block : blocks_) {
            Tile tile{x, w + first * weights_per_out, b ? b + first : nullptr,
                      y + first * out_plane, 0, 0};
            for (std::int64_t row = 0; row < g.out_height; row += block.rows) {
                // A last partial tile overlaps the one before it rather than running short.
                tile.out_y = std::min(row, g.out_height - block.rows);
                for (tile.out_x = 0; tile.out_x < g.out_width; tile.out_x += block.lanes) {
                    block.run(g, tile);
                }
            }
            first += block.block;
        }
    }

    int threads_;
    bool own_forward_ = false;  // false: oneDNN computes the forward too
    std::int64_t batch_ = 0;
    bool has_bias_ = false;
    Geometry geometry_;
    std::vector<float> zero_row_;
    std::vector<TileKernel> blocks_;  // empty: the portable loop
    // Training, and nodes this kernel does not serve.
    std::unique_ptr<weft::cpu::OnednnConvolution> onednn_;
};

}  // namespace

WEFT_PLUGIN("group_conv_small_groups_cpu", "0.1.0") {
    weft::KernelFactory factory;
    factory.op = "group_conv";
    factory.backend = "cpu";
    factory.name = "small_groups";
    factory.priority = 10;  // above the oneDNN kernel (0), which it runs for nodes it leaves
    factory.create = [](const weft::KernelConfig& config) -> std::unique_ptr<weft::Kernel> {
        return std::make_unique<GroupConvSmallGroups>(config);
    };
    registrar.add_kernel(std::move(factory));
}
