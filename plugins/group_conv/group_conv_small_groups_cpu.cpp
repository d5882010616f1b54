// group_conv on the CPU for groups of few channels: a direct convolution on the graph's NCHW
// tensors. IGC's primary group convolutions (paper Sec. 3.1: L partitions of M channels, e.g.
// 24 groups of 2) leave oneDNN a dense convolution per group so small that its blocked kernels
// mostly move data; here each group's (C/groups x kh x kw) taps stream through output vectors
// held in registers, with no reorder and nothing allocated per batch.
//
// It outranks the oneDNN kernel (priority 10) and declines the nodes it does not serve (groups
// wider than 16 channels, but for a network's 3x3 stem; fused_relu in training), which the
// registry then gives to the next kernel — so profiles name the kernel that really ran each node.
// In training it computes the backward too: dL/dx at stride 1 as a convolution with the same
// tiles, dL/dW and dL/db directly, one output channel per thread at a time (oneDNN's backward for
// such groups runs at a few GFLOP/s). At strides above 1, dL/dx would need a transposed
// convolution; there it uses the backend's oneDNN convolution for that one direction, as a
// building block.
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
#include <omp.h>

#include "group_conv_small_groups.h"
#include "small_groups_host.h"
#include "small_groups_isa_choice.h"
#include "weft/cpu/affine_items.h"
#include "weft/cpu/onednn_convolution.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

using weft::small_groups::Geometry;
using weft::small_groups::Tile;
using weft::small_groups::TileKernel;
using weft::small_groups::WeightGradKernel;
using weft::small_groups::WeightGradTile;

// Channels per group up to which this kernel computes the node itself.
constexpr std::int64_t kMaxChannelsPerGroup = 16;
// And a network's stem: a 3x3 (or smaller) convolution of the few input channels of an image into
// up to 64, where the output blocks of 8 channels simply repeat. Measured faster than oneDNN's
// for the CIFAR IGC stems (3 -> 48: 4.0 against 6.0 ms at batch 64, 18.3 against 24.8 ms in a
// training step); ResNet-18's 7x7 stem at stride 2 was slower (44 against 27 ms) and stays there.
constexpr std::int64_t kMaxStemInputs = 4, kMaxStemOutputs = 64, kMaxStemKernel = 3;

using weft::small_groups::chosen_isa;
using weft::small_groups::convolve_group_portable;
using weft::small_groups::small_groups_geometry;
using weft::small_groups::Isa;

// Empty when this kernel computes the node; otherwise why not (KernelFactory::declines).
std::string declines(const weft::KernelConfig& config) {
    const weft::ConvolutionGeometry conv = weft::convolution_geometry(config.attrs, config.inputs.at(0));
    const bool small =
        conv.in_per_group() <= kMaxChannelsPerGroup && conv.out_per_group() <= kMaxChannelsPerGroup;
    const bool stem = conv.in_per_group() <= kMaxStemInputs && conv.out_per_group() <= kMaxStemOutputs &&
                      conv.kernel_h <= kMaxStemKernel && conv.kernel_w <= kMaxStemKernel;
    if (!small && !stem)
        return fmt::format("groups of {} input and {} output channels: at most {} each "
                           "(or a stem of at most {} into {} with a kernel of at most {}x{})",
                           conv.in_per_group(), conv.out_per_group(), kMaxChannelsPerGroup, kMaxStemInputs,
                           kMaxStemOutputs, kMaxStemKernel, kMaxStemKernel);
    if (config.training && conv.fused_relu)
        return "fused_relu is an inference-only rewrite (backward would need the ReLU's mask)";
    return {};
}

// Sec. 3.1's backward through dx: dL/dx is the forward convolution of dL/dy with each group's
// kernel turned 180 degrees and its input and output channels swapped, padded by
// dilation * (k - 1) - padding. At stride 1 that is a convolution this kernel computes; other
// strides would need the zeros of a transposed convolution, and stay with oneDNN.
bool backward_data_is_a_convolution(const Geometry& g) {
    return g.stride_h == 1 && g.stride_w == 1 &&
           g.padding_h <= g.dilation_h * (g.kernel_h - 1) &&
           g.padding_w <= g.dilation_w * (g.kernel_w - 1);
}

Geometry backward_data_geometry(const Geometry& g) {
    Geometry d = g;
    d.in_channels = g.out_channels, d.height = g.out_height, d.width = g.out_width;
    d.out_channels = g.in_channels, d.out_height = g.height, d.out_width = g.width;
    d.in_per_group = g.out_per_group, d.out_per_group = g.in_per_group;
    d.padding_h = g.dilation_h * (g.kernel_h - 1) - g.padding_h;
    d.padding_w = g.dilation_w * (g.kernel_w - 1) - g.padding_w;
    d.relu = false;
    return d;
}

// W[o, c, ky, kx] of each group as the backward-data convolution's weight
// [c, o, kh - 1 - ky, kw - 1 - kx].
void rotate_and_swap_weight(const Geometry& g, const float* weight, float* rotated) {
    const std::int64_t taps = g.kernel_h * g.kernel_w;
    for (std::int64_t group = 0; group < g.groups; ++group) {
        for (std::int64_t o = 0; o < g.out_per_group; ++o) {
            for (std::int64_t c = 0; c < g.in_per_group; ++c) {
                const float* from =
                    weight + ((group * g.out_per_group + o) * g.in_per_group + c) * taps;
                float* to = rotated + ((group * g.in_per_group + c) * g.out_per_group + o) * taps;
                for (std::int64_t tap = 0; tap < taps; ++tap) to[tap] = from[taps - 1 - tap];
            }
        }
    }
}

// WeightGradFunction for any stride, one column at a time (`lanes` = 1), over the columns
// where each tap lands inside the input, as in convolve_group_portable.
void accumulate_weight_grad_portable(const Geometry& g, const WeightGradTile& t) {
    if (t.bias != nullptr) {
        for (std::int64_t i = 0; i < g.out_height * g.out_width; ++i) *t.bias += t.grad_output[i];
    }
    for (std::int64_t c = 0; c < g.in_per_group; ++c) {
        const float* x = t.input + c * g.height * g.width;
        for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
            for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
                const std::int64_t shift = kx * g.dilation_w - g.padding_w;
                const std::int64_t first =
                    std::max<std::int64_t>(0, (-shift + g.stride_w - 1) / g.stride_w);
                const std::int64_t last = std::min<std::int64_t>(
                    g.out_width, shift >= g.width ? 0 : (g.width - 1 - shift) / g.stride_w + 1);
                float sum = 0.f;
                for (std::int64_t oy = 0; oy < g.out_height; ++oy) {
                    const std::int64_t iy = oy * g.stride_h + ky * g.dilation_h - g.padding_h;
                    if (iy < 0 || iy >= g.height) continue;
                    const float* x_row = x + iy * g.width + shift;
                    const float* dy_row = t.grad_output + oy * g.out_width;
                    for (std::int64_t ox = first; ox < last; ++ox) {
                        sum += dy_row[ox] * x_row[ox * g.stride_w];
                    }
                }
                t.taps[(c * g.kernel_h + ky) * g.kernel_w + kx] += sum;
            }
        }
    }
}

class GroupConvSmallGroups final : public weft::Kernel {
public:
    explicit GroupConvSmallGroups(const weft::KernelConfig& config)
        : device_(weft::cpu::cpu_device(config.device)), threads_(device_.threads()) {
        const weft::ConvolutionGeometry conv = weft::convolution_geometry(config);
        if (const std::string why = declines(config); !why.empty()) throw weft::Error(why);
        batch_ = conv.batch;
        has_bias_ = conv.bias;
        training_ = config.training;
        const Isa isa = chosen_isa();
        // The padded copy by default: over whole planes the copy's one sequential pass left the
        // tiles reading from the first-level cache, and the direct tiles' reads of the image made a
        // training step of IGC-L24M2-D20 10% slower (and RegConv-W16-D20's inference 3%).
        direct_ = weft::small_groups::direct_input(isa, /*direct=*/false);
        geometry_ = small_groups_geometry(conv);
        blocks_ = weft::small_groups::block_tiles(geometry_, isa, direct_);
        if (training_) {
            plan_backward(isa);
            if (!own_backward_data_)
                onednn_ =
                    std::make_unique<weft::cpu::OnednnConvolution>(conv, weft::cpu::cpu_device(config.device),
                                                                   /*training=*/true);
        }
        // The tiles read each (image, group)'s input itself (direct, AVX-512), with the rows
        // outside the image read from a zero image of a group's shape, or a padded copy of it made
        // by pad_ (see Tile).
        pad_ = isa == Isa::avx512 ? weft::small_groups::avx512_pad() : weft::small_groups::avx2_pad();
        if (pad_ == nullptr) {  // no vector ISA: the portable loop
            blocks_.clear();
            data_blocks_.clear();
        }
        const auto floats = [](const Geometry& p) { return p.in_per_group * p.height * p.width; };
        if (direct_) {
            zeros_.assign(static_cast<std::size_t>(std::max(floats(geometry_), floats(data_geometry_))), 0.f);
            tiles_geometry_ = geometry_, data_tiles_geometry_ = data_geometry_;
        } else {
            tiles_geometry_ = tiles_geometry(geometry_, blocks_);
            data_tiles_geometry_ = tiles_geometry(data_geometry_, data_blocks_);
            padded_floats_ = (std::max(floats(tiles_geometry_), floats(data_tiles_geometry_)) + 15) / 16 * 16;
            padded_inputs_.resize(static_cast<std::size_t>(threads_ * padded_floats_));
        }
    }

    std::size_t workspace_bytes() const override {
        return onednn_ ? onednn_->workspace_bytes() : 0;
    }

    void forward(const weft::ForwardArgs& args) override {
        const float* input = args.inputs[0].as<const float>();
        const float* weight = args.params[0].as<const float>();
        const float* bias = has_bias_ ? args.params[1].as<const float>() : nullptr;
        float* output = args.outputs[0].as<float>();
        convolve(geometry_, tiles_geometry_, blocks_, input, weight, bias, output);
    }

    bool has_backward() const override { return training_; }

    void backward(const weft::BackwardArgs& args) override {
        if (!has_backward()) weft::Kernel::backward(args);  // throws: built for inference
        const float* input = args.inputs[0].as<const float>();
        const float* weight = args.params[0].as<const float>();
        const float* grad_output = args.grad_outputs[0].as<const float>();
        float* grad_input = args.grad_inputs[0].as<float>();
        float* grad_weight = args.grad_params[0].as<float>();
        float* grad_bias = has_bias_ ? args.grad_params[1].as<float>() : nullptr;
        if (own_backward_data_) {
            // The weights change every step; turning them is cheap next to the convolution.
            rotate_and_swap_weight(geometry_, weight, rotated_weight_.data());
            convolve(data_geometry_, data_tiles_geometry_, data_blocks_, grad_output, rotated_weight_.data(),
                     nullptr, grad_input);
        } else {
            onednn_->backward_data(grad_output, weight, grad_input, args.workspace);
        }
        weight_gradient(input, grad_output, grad_weight, grad_bias);
    }

private:
    // Everything backward needs that does not change between steps: the backward-data
    // convolution and its tiles, and room for the turned weights and the weight-gradient sums.
    void plan_backward(Isa isa) {
        const Geometry& g = geometry_;
        if (backward_data_is_a_convolution(g)) {
            own_backward_data_ = true;
            data_geometry_ = backward_data_geometry(g);
            data_blocks_ = weft::small_groups::block_tiles(data_geometry_, isa, direct_);
            rotated_weight_.resize(
                static_cast<std::size_t>(g.out_channels * g.in_per_group * g.kernel_h * g.kernel_w));
        }
        const bool stream_rows = weft::small_groups::weight_grad_streams_rows();
        if (isa == Isa::avx512) weight_grad_ = weft::small_groups::avx512_weight_grad_kernel(g, stream_rows);
        if (isa == Isa::avx2) weight_grad_ = weft::small_groups::avx2_weight_grad_kernel(g, stream_rows);
        if (weight_grad_.run == nullptr) weight_grad_ = {1, &accumulate_weight_grad_portable};
        weight_grad_sums_.resize(
            static_cast<std::size_t>(threads_ * g.out_per_group * weight_grad_floats()));
    }

    // Per thread: a vector of partial sums for each tap of one output channel, and the bias.
    std::int64_t weight_grad_floats() const {
        return (geometry_.in_per_group * geometry_.kernel_h * geometry_.kernel_w + 1) *
               weight_grad_.lanes;
    }

    // The geometry the tiles run on: the padded copy of one (image, group)'s input. A default
    // (empty) geometry where the portable loop runs.
    static Geometry tiles_geometry(const Geometry& g, const std::vector<TileKernel>& blocks) {
        if (blocks.empty()) return Geometry{};
        return weft::small_groups::padded_geometry(g, g.out_height, blocks);
    }

    // Eq. 1 over the batch, one (image, group) per task, each thread taking the tasks of its own
    // share of the batch first (weft/cpu/affine_items.h): the images it reads are the ones its core
    // wrote in the node before, and a preempted thread's tasks are taken over by the others (each
    // task writes its own outputs, so the result is the same whoever computes it).
    void convolve(const Geometry& g, const Geometry& tiles, const std::vector<TileKernel>& blocks,
                  const float* input, const float* weight, const float* bias, float* output) const {
        const std::int64_t items = batch_ * g.groups;
        const std::int64_t macs =
            batch_ * g.out_channels * g.out_height * g.out_width * g.in_per_group * g.kernel_h * g.kernel_w;
        const int threads = weft::cpu::team_for(macs, device_.threads_now());  // batch 1: one, as a rule
        float* copies = padded_inputs_.data();  // per thread
        weft::cpu::for_each_item(threads, items, [&](std::int64_t item, int thread) {
            const std::int64_t n = item / g.groups, group = item % g.groups;
            const std::int64_t first_out = group * g.out_per_group;
            const float* x = input + (n * g.in_channels + group * g.in_per_group) * g.height * g.width;
            const float* w = weight + first_out * g.in_per_group * g.kernel_h * g.kernel_w;
            const float* b = bias ? bias + first_out : nullptr;
            float* y = output + (n * g.out_channels + first_out) * g.out_height * g.out_width;
            if (blocks.empty()) {
                convolve_group_portable(g, x, w, b, y);
            } else if (direct_) {
                convolve_group_in_tiles(g, blocks, x, w, b, y, zeros_.data());
            } else {
                float* copy = copies + thread * padded_floats_;
                pad_(weft::small_groups::padded_rows(g, tiles, x, copy, 0, g.out_height));
                convolve_group_in_tiles(tiles, blocks, copy, w, b, y, nullptr);
            }
        });
    }

    // `x` is the padded copy, or the image itself where `zeros` is given (direct tiles).
    static void convolve_group_in_tiles(const Geometry& g, const std::vector<TileKernel>& blocks,
                                        const float* x, const float* w, const float* b, float* y,
                                        const float* zeros) {
        const std::int64_t out_plane = g.out_height * g.out_width;
        const std::int64_t weights_per_out = g.in_per_group * g.kernel_h * g.kernel_w;
        std::int64_t first = 0;  // the block's first output channel within the group
        for (const TileKernel& block : blocks) {
            Tile tile{x, w + first * weights_per_out, b ? b + first : nullptr, y + first * out_plane,
                      0, 0, 0, zeros};
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

    // dL/dW and dL/db, one group per task, all images in order: each weight's sum is made by one
    // thread in a fixed order, so the gradient does not depend on the thread count. The group's
    // output channels take turns on each image, so its input planes come from memory once.
    void weight_gradient(const float* input, const float* grad_output, float* grad_weight,
                         float* grad_bias) {
        const Geometry& g = geometry_;
        const std::int64_t taps = g.in_per_group * g.kernel_h * g.kernel_w;
        const std::int64_t lanes = weight_grad_.lanes;
        const std::int64_t per_out = weight_grad_floats();
        const std::int64_t per_thread = g.out_per_group * per_out;
        const std::int64_t in_floats = g.in_per_group * g.height * g.width;
        const std::int64_t out_plane = g.out_height * g.out_width;
        float* all_sums = weight_grad_sums_.data();
        const int threads = device_.threads_now();
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            float* sums = all_sums + omp_get_thread_num() * per_thread;
#pragma omp for schedule(dynamic, 1)
            for (std::int64_t group = 0; group < g.groups; ++group) {
                const std::int64_t first = group * g.out_per_group;
                std::fill(sums, sums + per_thread, 0.f);
                const auto image_input = [&](std::int64_t n) {
                    return input + (n * g.in_channels + group * g.in_per_group) * g.height * g.width;
                };
                const auto image_grad = [&](std::int64_t n) {
                    return grad_output + (n * g.out_channels + first) * out_plane;
                };
                for (std::int64_t n = 0; n < batch_; ++n) {
                    // The next image's planes, asked of the cache while this one's are summed:
                    // they lie an image apart, on pages the hardware prefetchers do not go on to.
                    if (n + 1 < batch_) {
                        using weft::small_groups::prefetch_floats;
                        prefetch_floats<3>(image_input(n + 1), in_floats);
                        prefetch_floats<3>(image_grad(n + 1), g.out_per_group * out_plane);
                    }
                    for (std::int64_t k = 0; k < g.out_per_group; ++k) {
                        float* own = sums + k * per_out;
                        const WeightGradTile tile{image_input(n), image_grad(n) + k * out_plane, own,
                                                  grad_bias ? own + taps * lanes : nullptr};
                        weight_grad_.run(g, tile);
                    }
                }
                for (std::int64_t k = 0; k < g.out_per_group; ++k) {
                    const float* own = sums + k * per_out;
                    for (std::int64_t tap = 0; tap < taps; ++tap)
                        grad_weight[(first + k) * taps + tap] = sum_lanes(own + tap * lanes, lanes);
                    if (grad_bias) grad_bias[first + k] = sum_lanes(own + taps * lanes, lanes);
                }
            }
        }
    }

    static float sum_lanes(const float* lanes, std::int64_t count) {
        float sum = 0.f;
        for (std::int64_t i = 0; i < count; ++i) sum += lanes[i];
        return sum;
    }

    weft::cpu::CpuDevice& device_;
    int threads_;  // the most a team has: the scratch is per thread
    bool training_ = false;
    std::int64_t batch_ = 0;
    bool has_bias_ = false;
    Geometry geometry_;
    std::vector<TileKernel> blocks_;  // empty: the portable loop
    // Training. Backward data at stride 1 as a convolution of dy (false: oneDNN's):
    bool own_backward_data_ = false;
    Geometry data_geometry_;
    std::vector<TileKernel> data_blocks_;  // empty: the portable loop
    Geometry tiles_geometry_, data_tiles_geometry_;  // what the tiles read: the padded copies, or the images
    bool direct_ = false;                             // the tiles read the images (AVX-512)
    std::vector<float> zeros_;                        // direct: a group's input of zeros (Tile::zeros)
    weft::small_groups::PadFunction pad_ = nullptr;
    mutable std::vector<float> padded_inputs_;  // per thread, padded_floats_ each: scratch
    std::int64_t padded_floats_ = 0;
    std::vector<float> rotated_weight_;    // the weight turned for it, refilled every backward
    WeightGradKernel weight_grad_;
    std::vector<float> weight_grad_sums_;  // per thread: weight_grad_floats() per output channel of a group
    // Training at strides above 1: oneDNN's backward data (its other directions go unused).
    std::unique_ptr<weft::cpu::OnednnConvolution> onednn_;
};

}  // namespace

WEFT_PLUGIN("group_conv_small_groups_cpu", "0.1.0") {
    // Above the oneDNN kernel (0), which takes the nodes this one declines.
    registrar.add_kernel(weft::kernel_factory<GroupConvSmallGroups>("group_conv", "cpu", "small_groups",
                                                                    /*priority=*/10, declines));
}
