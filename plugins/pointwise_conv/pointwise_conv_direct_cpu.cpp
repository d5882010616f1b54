// pointwise_conv on the CPU, direct: the 1x1 group convolution on the graph's NCHW tensors, with
// no reorder, forward and backward. It exists for what oneDNN cannot do with IGC's secondary
// convolutions (paper Eq. 3: M groups of L channels, e.g. 2 groups of 24) in training, where the
// blocks are not fused: read its input and write its output through channel maps, so that the
// block's two permutations need not copy every activation twice per step, and hand out its work
// dynamically. Alone it runs about as fast as oneDNN's (docs/performance.md). It runs the fused
// block's band functions (pointwise_band.h) on the tensors' own planes:
//   forward        y = W x + b, one band of pixels of one image per task;
//   backward       per band, dx = W^T dy (the same band function with each group's weight
//                  transposed), then dW = dy x^T over the same band while its dy is still in the
//                  cache; runs of consecutive bands sum into their own slots, added in order.
// The fold_permutations pass may give the node channel maps (the IGC block's permutations): the
// band functions read and write every channel through offsets, so the maps cost nothing.
//
// Tasks are handed out one at a time (a dynamic schedule): a thread the machine preempts holds up
// one task, not a static half of the batch. Every sum is made in an order fixed by the geometry,
// so the results do not depend on the thread count or on who computes what.
//
// It outranks the oneDNN kernel (priority 10) and declines strides above 1 (residual
// projections, which read every stride-th pixel) and groups wider than it serves; the registry
// gives those nodes to oneDNN. Vector code as the small-group kernels choose it
// (WEFT_SMALL_GROUPS_ISA=avx512|avx2|portable forces a path; tests run each in turn).
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "pointwise_band.h"
#include "pointwise_maps.h"
#include "pointwise_portable.h"
#include "small_groups_isa_choice.h"
#include "weft/convolution.h"
#include "weft/cpu/affine_items.h"
#include "weft/cpu/cpu_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

using weft::pointwise::Band;
using weft::pointwise::BandFunction;
using weft::pointwise::WeightGradBand;
using weft::pointwise::WeightGradFunction;
using weft::small_groups::Isa;

// Pixels per forward and backward-data task: a band's input (24 channels x 256 pixels x 4 bytes
// = 24 KiB for IGC-L24M2's secondary) stays in the first-level cache while the output blocks
// sweep it, and an image of 32 x 32 gives four tasks, so even batch 1 spreads over the threads.
constexpr std::int64_t kBandPixels = 256;

// Backward's runs of bands, each with its own slot of weight-gradient sums (see work_units):
// enough that a preempted thread holds up a small share of the work.
constexpr std::int64_t kWorkUnits = 64;

std::string declines(const weft::KernelConfig& config) {
    const weft::ConvolutionGeometry conv = weft::convolution_geometry(config.attrs, config.inputs.at(0));
    if (std::string why = weft::pointwise::direct_declines_geometry(conv); !why.empty()) return why;
    if (config.training && conv.fused_relu)
        return "fused_relu is an inference-only rewrite (backward would need the ReLU's mask)";
    return {};
}

class PointwiseConvDirect final : public weft::Kernel {
public:
    explicit PointwiseConvDirect(const weft::KernelConfig& config)
        : device_(weft::cpu::cpu_device(config.device)),
          conv_(weft::convolution_geometry(config.attrs, config.inputs.at(0))) {
        if (const std::string why = declines(config); !why.empty()) throw weft::Error(why);
        training_ = config.training;
        plane_ = conv_.in_height * conv_.in_width;
        bands_ = (plane_ + kBandPixels - 1) / kBandPixels;
        const Isa isa = weft::small_groups::chosen_isa();
        if (isa == Isa::avx512) {
            // The register block for each direction's outputs per group (backward data writes
            // the input side's) over a whole band, as the fused IGC block chooses its own.
            const std::int64_t band_pixels = std::min(kBandPixels, plane_);
            band_ = weft::pointwise::avx512_band_for(conv_.out_per_group(), band_pixels);
            data_band_ = weft::pointwise::avx512_band_for(conv_.in_per_group(), band_pixels);
            weight_grad_ = weft::pointwise::avx512_weight_grad();
        } else if (isa == Isa::avx2) {
            band_ = data_band_ = weft::pointwise::avx2_band();
            weight_grad_ = weft::pointwise::avx2_weight_grad();
        }
        if (band_ == nullptr || data_band_ == nullptr || weight_grad_ == nullptr) {
            band_ = data_band_ = &weft::pointwise::forward_band_portable;
            weight_grad_ = &weft::pointwise::weight_grad_band_portable;
        }
        // Convolution input i reads the input tensor's channel input_map[i], and output q is
        // written to channel output_map[q] (in order where a map is empty): as offsets of planes
        // from an image's first pixel, and as plane indices. Backward data swaps the two sides.
        const std::vector<std::int64_t> input_map = channel_map(config, "input_map", conv_.in_channels);
        const std::vector<std::int64_t> output_map = channel_map(config, "output_map", conv_.out_channels);
        for (const std::int64_t c : input_map) in_offsets_.push_back(c * plane_);
        for (const std::int64_t c : output_map) out_offsets_.push_back(c * plane_);
        in_planes_ = input_map;
        out_planes_ = output_map;
        if (training_) {
            transposed_weight_.resize(static_cast<std::size_t>(conv_.out_channels * conv_.in_per_group()));
            unit_sums_.resize(static_cast<std::size_t>(work_units() * per_unit()));
            total_sums_.resize(static_cast<std::size_t>(per_unit()));
        }
    }

    void forward(const weft::ForwardArgs& args) override {
        const float* bias = conv_.bias ? args.params[1].as<const float>() : nullptr;
        convolve(args.inputs[0].as<const float>(), args.params[0].as<const float>(), bias,
                 args.outputs[0].as<float>());
    }

    bool has_backward() const override { return training_; }

    void backward(const weft::BackwardArgs& args) override {
        if (!has_backward()) weft::Kernel::backward(args);  // throws: built for inference
        const float* input = args.inputs[0].as<const float>();
        const float* weight = args.params[0].as<const float>();
        const float* grad_output = args.grad_outputs[0].as<const float>();
        transpose_weight(weight);
        float* grad_bias = conv_.bias ? args.grad_params[1].as<float>() : nullptr;
        const std::int64_t units = work_units();
        const int threads = device_.threads_now();
        weft::cpu::for_each_item(threads, units, [&](std::int64_t unit, int) {
            float* sums = unit_sums_.data() + unit * per_unit();
            std::fill(sums, sums + per_unit(), 0.f);
            for (std::int64_t task = first_task(unit); task < first_task(unit + 1); ++task) {
                // dx first: it brings the band of dy into the cache, where dW then reads it.
                float* grad_input = args.grad_inputs[0].as<float>();
                Band b = band(task, grad_output, transposed_weight_.data(), nullptr, grad_input,
                              /*transposed=*/true);
                if (task + 1 < conv_.batch * bands_)
                    b.next_band = band(task + 1, grad_output, nullptr, nullptr, grad_input, true).band;
                data_band_(b);
                add_band_gradients(task, input, grad_output, grad_bias != nullptr, sums);
            }
        });
        add_unit_sums(args.grad_params[0].as<float>(), grad_bias);
    }

private:
    static std::vector<std::int64_t> channel_map(const weft::KernelConfig& config, const char* name,
                                                 std::int64_t channels) {
        std::vector<std::int64_t> map = config.attrs.get_ints(name);
        if (map.empty()) {
            map.resize(static_cast<std::size_t>(channels));
            std::iota(map.begin(), map.end(), std::int64_t{0});
        }
        return map;
    }

    std::int64_t weights() const { return conv_.out_channels * conv_.in_per_group(); }
    std::int64_t per_unit() const { return weights() + conv_.out_channels; }  // dW, then db

    // Each group's [out][in] block as [in][out]: backward data is then the forward band with the
    // two sides swapped. The weights change every step; turning them is cheap next to the rest.
    void transpose_weight(const float* weight) {
        const std::int64_t in = conv_.in_per_group(), out = conv_.out_per_group();
        for (std::int64_t g = 0; g < conv_.groups; ++g) {
            const float* from = weight + g * out * in;
            float* to = transposed_weight_.data() + g * in * out;
            for (std::int64_t o = 0; o < out; ++o) {
                for (std::int64_t i = 0; i < in; ++i) to[i * out + o] = from[o * in + i];
            }
        }
    }

    // One (image, band of pixels) per task; each thread takes those of its own share of the batch
    // first, the images its core wrote in the node before (weft/cpu/affine_items.h).
    void convolve(const float* input, const float* weight, const float* bias, float* output) const {
        const std::int64_t tasks = conv_.batch * bands_;
        const int threads = device_.threads_now();
        weft::cpu::for_each_item(threads, tasks, [&](std::int64_t task, int) {
            Band b = band(task, input, weight, bias, output, /*transposed=*/false);
            if (task + 1 < tasks) b.next_band = band(task + 1, input, weight, bias, output, false).band;
            band_(b);
        });
    }

    // Task `task`'s band: image task / bands_, pixels from (task % bands_) * kBandPixels.
    // `transposed`: dx = W^T dy, from the output side's channels to the input side's.
    Band band(std::int64_t task, const float* from, const float* weight, const float* bias, float* to,
              bool transposed) const {
        const std::int64_t from_channels = transposed ? conv_.out_channels : conv_.in_channels;
        const std::int64_t to_channels = transposed ? conv_.in_channels : conv_.out_channels;
        const std::int64_t n = task / bands_, first = task % bands_ * kBandPixels;
        return Band{from + n * from_channels * plane_ + first,
                    transposed ? out_offsets_.data() : in_offsets_.data(),
                    weight,
                    bias,
                    transposed ? in_planes_.data() : out_planes_.data(),
                    to + n * to_channels * plane_ + first,
                    plane_,
                    std::min(kBandPixels, plane_ - first),
                    conv_.groups,
                    from_channels / conv_.groups,
                    to_channels / conv_.groups,
                    !transposed && conv_.fused_relu};
    }

    // Backward's tasks in work_units() runs of consecutive tasks, each run summing its bands' dW
    // and db into its own slot: the runs depend on the geometry alone, so every weight's sum is
    // made in one order whoever computes what, and the slots stay few at any batch size.
    std::int64_t work_units() const { return std::min(conv_.batch * bands_, kWorkUnits); }
    std::int64_t first_task(std::int64_t unit) const { return unit * (conv_.batch * bands_) / work_units(); }

    // dL/dW and dL/db over task `task`'s band, added to `sums` (dW, then db).
    void add_band_gradients(std::int64_t task, const float* input, const float* grad_output, bool bias,
                            float* sums) const {
        const std::int64_t n = task / bands_, first = task % bands_ * kBandPixels;
        const std::int64_t pixels = std::min(kBandPixels, plane_ - first);
        const float* x = input + n * conv_.in_channels * plane_ + first;
        const float* dy = grad_output + n * conv_.out_channels * plane_ + first;
        weight_grad_(WeightGradBand{x, in_offsets_.data(), dy, out_offsets_.data(), sums, pixels,
                                    conv_.groups, conv_.in_per_group(), conv_.out_per_group()});
        if (bias) {
            for (std::int64_t o = 0; o < conv_.out_channels; ++o)
                sums[weights() + o] += band_sum(dy + out_offsets_[static_cast<std::size_t>(o)], pixels);
        }
    }

    // The units' sums added in unit order for each weight, sweeping each unit's slot in turn.
    void add_unit_sums(float* grad_weight, float* grad_bias) {
        std::fill(total_sums_.begin(), total_sums_.end(), 0.f);
        for (std::int64_t unit = 0; unit < work_units(); ++unit) {
            const float* sums = unit_sums_.data() + unit * per_unit();
            for (std::int64_t k = 0; k < per_unit(); ++k) total_sums_[static_cast<std::size_t>(k)] += sums[k];
        }
        std::copy_n(total_sums_.begin(), weights(), grad_weight);
        if (grad_bias) std::copy_n(total_sums_.begin() + weights(), conv_.out_channels, grad_bias);
    }

    // A row's sum in eight running lanes (which the compiler keeps in vector registers), then the
    // lanes in order: a fixed order, several times faster than one running sum.
    static float band_sum(const float* row, std::int64_t pixels) {
        float lanes[8] = {};
        std::int64_t p = 0;
        for (; p + 8 <= pixels; p += 8) {
            for (int k = 0; k < 8; ++k) lanes[k] += row[p + k];
        }
        for (; p < pixels; ++p) lanes[p % 8] += row[p];
        float sum = 0.f;
        for (const float lane : lanes) sum += lane;
        return sum;
    }

    weft::cpu::CpuDevice& device_;
    weft::ConvolutionGeometry conv_;
    bool training_ = false;
    std::int64_t plane_ = 0;  // pixels per channel (stride 1: the same on both sides)
    std::int64_t bands_ = 0;  // forward and backward-data tasks per image
    BandFunction band_ = nullptr;       // forward
    BandFunction data_band_ = nullptr;  // backward data: the forward band, sides swapped
    WeightGradFunction weight_grad_ = nullptr;
    // Per convolution channel, each side: its plane's offset from an image's first pixel, and its
    // plane index (the channel maps).
    std::vector<std::int64_t> in_offsets_, out_offsets_, in_planes_, out_planes_;
    std::vector<float> transposed_weight_;  // training: refilled every backward
    std::vector<float> unit_sums_;   // training: per work unit, its bands' dW then db
    std::vector<float> total_sums_;  // training: their sum
};

}  // namespace

WEFT_PLUGIN("pointwise_conv_direct_cpu", "0.1.0") {
    // Above the oneDNN kernel (0), which takes the nodes this one declines.
    registrar.add_kernel(weft::kernel_factory<PointwiseConvDirect>("pointwise_conv", "cpu", "direct",
                                                                   /*priority=*/10, declines));
}
