// igc_block on the CPU: an IGC block computed one band of output rows at a time, so the primary's
// output (L·M channels) lives in a cache-sized scratch and never travels through memory, and no
// channel is ever copied to permute it. For each (image, band):
//   1. the primary group convolution writes the band's channels into the scratch, with the
//      small-group kernel's own register tiles (group_conv_small_groups_tile.h);
//   2. the secondary 1x1 group convolution reads its input channels from the scratch through the
//      gather map and writes each output channel straight to its place in the block's output
//      (the scatter map), with the bias and ReLU applied in registers.
// Each thread takes the bands of its own share of the batch, the same images in every block, so
// that a block reads what the same core wrote in the block before (weft/cpu/affine_items.h); a
// thread that the machine preempts has the rest of its share taken over by the others. One
// parallel region per block.
//
// Vector code as the small-group kernel chooses it (WEFT_SMALL_GROUPS_ISA forces a path); the
// portable path computes a whole image per band with the portable group loop.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "group_conv_small_groups.h"
#include "pointwise_band.h"
#include "pointwise_portable.h"
#include "small_groups_host.h"
#include "small_groups_isa_choice.h"
#include "weft/convolution.h"
#include "weft/cpu/affine_items.h"
#include "weft/cpu/onednn_convolution.h"
#include "weft/error.h"
#include "weft/plugin.h"


namespace {

using weft::pointwise::Band;
using weft::pointwise::BandFunction;
using weft::small_groups::Geometry;
using weft::small_groups::Isa;
using weft::small_groups::PadFunction;
using weft::small_groups::Tile;
using weft::small_groups::TileKernel;

// Output pixels a band aims for: the scratch then holds L·M channels of about this many floats
// (48 x 128 x 4 bytes = 24 KiB for IGC-L24M2's first stage), within the first-level cache.
constexpr std::int64_t kBandPixels = 128;

std::string declines(const weft::KernelConfig& config) {
    if (config.training) return "igc_block is an inference-only fusion (training runs the block's own nodes)";
    return {};
}

class IgcBlockCpu final : public weft::Kernel {
public:
    explicit IgcBlockCpu(const weft::KernelConfig& config)
        : device_(weft::cpu::cpu_device(config.device)), threads_(device_.threads()) {
        if (const std::string why = declines(config); !why.empty()) throw weft::Error(why);
        weft::ConvolutionGeometry conv = weft::convolution_geometry(config.attrs, config.inputs.at(0));
        conv.fused_relu = false;  // the block's ReLU, applied after the secondary
        batch_ = conv.batch;
        primary_ = weft::small_groups::small_groups_geometry(conv);
        primary_bias_ = conv.bias;
        secondary_bias_ = config.attrs.get_bool("secondary_bias");
        out_channels_ = config.attrs.get_int("secondary_out_channels");
        groups_ = config.attrs.get_int("secondary_groups");
        relu_ = config.attrs.get_bool("fused_relu");
        output_channel_ = config.attrs.get_ints("output_channel");
        const std::vector<std::int64_t> secondary_input = config.attrs.get_ints("secondary_input");

        plan(weft::small_groups::chosen_isa());
        band_stride_ = band_rows_ * primary_.out_width;
        primary_.out_channel_stride = band_stride_;
        band_floats_ = (primary_.out_channels * band_stride_ + 15) / 16 * 16;  // 64-byte steps
        // The tiles read the image itself (direct: AVX-512), with rows outside it read from a zero
        // image of a group's shape, or a copy of each group's input rows that a band needs, with
        // the zero padding written out (see Tile).
        if (direct_)
            zeros_.assign(static_cast<std::size_t>(primary_.in_per_group * primary_.height * primary_.width),
                          0.f);
        else if (!blocks_.empty())
            padded_ = weft::small_groups::padded_geometry(primary_, band_rows_, blocks_);
        const std::int64_t padded_floats = padded_.in_per_group * padded_.height * padded_.width;
        scratch_floats_ = band_floats_ + (padded_floats + 15) / 16 * 16;
        for (const std::int64_t c : secondary_input) source_offset_.push_back(c * band_stride_);
    }

    std::size_t workspace_bytes() const override {
        return static_cast<std::size_t>(threads_ * scratch_floats_) * sizeof(float);
    }

    void forward(const weft::ForwardArgs& args) override {
        const float* input = args.inputs[0].as<const float>();
        const float* primary_weight = args.params[0].as<const float>();
        std::size_t next = 1;
        const float* primary_bias = primary_bias_ ? args.params[next++].as<const float>() : nullptr;
        const float* secondary_weight = args.params[next++].as<const float>();
        const float* secondary_bias = secondary_bias_ ? args.params[next++].as<const float>() : nullptr;
        float* output = args.outputs[0].as<float>();
        float* scratch = static_cast<float*>(args.workspace);

        const std::int64_t items = batch_ * bands_;
        // A small batch (batch 1) is not worth waking a second thread for (team_for).
        const int threads = weft::cpu::team_for(macs(), device_.threads_now());
        weft::cpu::for_each_item(threads, items, [&](std::int64_t item, int thread) {
            float* band = scratch + thread * scratch_floats_;
            float* padded = band + band_floats_;
            const std::int64_t n = item / bands_, first_row = item % bands_ * band_rows_;
            const std::int64_t rows = std::min(band_rows_, primary_.out_height - first_row);
            const std::int64_t image = primary_.in_channels * primary_.height * primary_.width;
            const float* x = input + n * image;
            // The band this thread takes next, as a rule (its share's next): its input rows are asked
            // of the cache group by group while this one computes.
            Ahead ahead;
            if (const std::int64_t next = item + 1; next < items) {
                const std::int64_t next_row = next % bands_ * band_rows_;
                ahead.image = input + next / bands_ * image;
                const std::int64_t next_rows = std::min(band_rows_, primary_.out_height - next_row);
                ahead.rows = weft::small_groups::input_rows(primary_, next_row, next_rows);
            }
            primary(x, primary_weight, primary_bias, band, padded, first_row, rows, ahead);
            const std::int64_t out_plane = primary_.out_height * primary_.out_width;
            const Band b{band,
                                  source_offset_.data(),
                                  secondary_weight,
                                  secondary_bias,
                                  output_channel_.data(),
                                  output + (n * out_channels_ * out_plane) + first_row * primary_.out_width,
                                  out_plane,
                                  rows * primary_.out_width,
                                  groups_,
                                  primary_.out_channels / groups_,
                                  out_channels_ / groups_,
                                  relu_};
            secondary_(b);
        });
    }

private:
    // Multiply-adds per call: the primary's and the secondary's.
    std::int64_t macs() const {
        const Geometry& g = primary_;
        const std::int64_t pixels = batch_ * g.out_height * g.out_width;
        return pixels * (g.out_channels * g.in_per_group * g.kernel_h * g.kernel_w +
                         out_channels_ * (g.out_channels / groups_));
    }

    // The vector tiles and the band height, or the portable loops over whole images.
    void plan(Isa isa) {
        if (isa != Isa::portable) {
            // Direct by default: a band's rows are few, and copying them cost more than the masked
            // loads (batch 1: 0.58 ms against 0.52; batch 64 about the same, the input's reads
            // from memory wait as long in either).
            direct_ = weft::small_groups::direct_input(isa, /*direct=*/true);
            blocks_ = weft::small_groups::block_tiles(primary_, isa, direct_);
            Geometry one_row = primary_;
            one_row.out_height = 1;
            single_rows_ = weft::small_groups::block_tiles(one_row, isa, direct_);
            secondary_ =
                isa == Isa::avx512 ? weft::pointwise::avx512_band() : weft::pointwise::avx2_band();
            pad_ = isa == Isa::avx512 ? weft::small_groups::avx512_pad() : weft::small_groups::avx2_pad();
        }
        if (blocks_.empty() || single_rows_.empty() || secondary_ == nullptr || pad_ == nullptr) {
            blocks_.clear(), single_rows_.clear();
            direct_ = false;
            secondary_ = &weft::pointwise::forward_band_portable;
            band_rows_ = primary_.out_height;  // convolve_group_portable computes whole planes
            bands_ = 1;
            return;
        }
        // Whole tiles per band, as many as reach kBandPixels, within the image.
        int tile_rows = 1;
        for (const TileKernel& block : blocks_) tile_rows = std::max(tile_rows, block.rows);
        const std::int64_t per_tile = tile_rows * primary_.out_width;
        band_rows_ = tile_rows * std::max<std::int64_t>(1, (kBandPixels + per_tile - 1) / per_tile);
        band_rows_ = std::min(band_rows_,
                              std::max<std::int64_t>(tile_rows, primary_.out_height / tile_rows * tile_rows));
        bands_ = (primary_.out_height + band_rows_ - 1) / band_rows_;
        // A small batch still gives every thread several bands to take (batch 1 has one image):
        // thinner bands, down to one tile's rows, until there are four per thread.
        while (batch_ * bands_ < 4 * threads_ && band_rows_ > tile_rows) {
            band_rows_ -= tile_rows;
            bands_ = (primary_.out_height + band_rows_ - 1) / band_rows_;
        }
        // AVX-512: the secondary's register block for this group size, now that a band's pixels
        // are known (avx512_band_for is there wherever avx512_band is).
        if (isa == Isa::avx512)
            secondary_ = weft::pointwise::avx512_band_for(out_channels_ / groups_, band_rows_ * primary_.out_width);
    }

    // The next band's image input and its input rows, to be asked of the cache meanwhile.
    struct Ahead {
        const float* image = nullptr;  // none
        weft::small_groups::InputRows rows{0, 0};
    };

    // The primary's output rows [first_row, first_row + rows) of one image into `band`.
    void primary(const float* x, const float* weight, const float* bias, float* band, float* padded,
                 std::int64_t first_row, std::int64_t rows, const Ahead& ahead) const {
        const Geometry& g = primary_;
        const std::int64_t weights_per_out = g.in_per_group * g.kernel_h * g.kernel_w;
        for (std::int64_t group = 0; group < g.groups; ++group) {
            const float* xg = x + group * g.in_per_group * g.height * g.width;
            const std::int64_t first_out = group * g.out_per_group;
            if (blocks_.empty()) {
                Geometry whole = g;
                whole.out_channel_stride = 0;
                weft::small_groups::convolve_group_portable(whole, xg, weight + first_out * weights_per_out,
                                                            bias ? bias + first_out : nullptr,
                                                            band + first_out * band_stride_);
                continue;
            }
            // This group's input rows of the next band, asked of the cache while this one computes.
            // Non-temporal (prefetchnta): measured 6-9 % faster at batch 64 than into the second
            // level (docs/performance.md, CPU round six).
            if (ahead.image != nullptr) {
                const std::int64_t first_plane = group * g.in_per_group;
                const float* next = ahead.image + (first_plane * g.height + ahead.rows.first) * g.width;
                for (std::int64_t c = 0; c < g.in_per_group; ++c)
                    weft::small_groups::prefetch_floats<0>(next + c * g.height * g.width,
                                                           ahead.rows.count * g.width);
            }
            if (!direct_) pad_(weft::small_groups::padded_rows(g, padded_, xg, padded, first_row, rows));
            // Direct tiles count rows in the image, the band's first row is out_row0; over the
            // padded copy they count from the band's first, and padded row 0 is its first input row.
            const std::int64_t row0 = direct_ ? first_row : 0;
            const Geometry& read = direct_ ? g : padded_;  // the input the tiles read
            std::int64_t first = first_out;  // the block's first output channel
            for (std::size_t i = 0; i < blocks_.size(); ++i) {
                const TileKernel& block = blocks_[i];
                Tile tile{direct_ ? xg : padded,
                          weight + first * weights_per_out,
                          bias ? bias + first : nullptr,
                          band + first * band_stride_,
                          0,
                          0,
                          row0,
                          zeros_.data()};
                std::int64_t row = 0;
                for (; row + block.rows <= rows; row += block.rows) {
                    tile.out_y = row0 + row;
                    for (tile.out_x = 0; tile.out_x < g.out_width; tile.out_x += block.lanes)
                        block.run(read, tile);
                }
                // The image's last rows, when they do not fill a tile: one row at a time.
                const TileKernel& single = single_rows_[i];
                for (; row < rows; ++row) {
                    tile.out_y = row0 + row;
                    for (tile.out_x = 0; tile.out_x < g.out_width; tile.out_x += single.lanes)
                        single.run(read, tile);
                }
                first += block.block;
            }
        }
    }

    weft::cpu::CpuDevice& device_;
    int threads_;  // the most a team has: the scratch is per thread
    std::int64_t batch_ = 0;
    Geometry primary_;  // its out_channel_stride is the band's, for the tiles
    bool primary_bias_ = false, secondary_bias_ = false, relu_ = false;
    std::int64_t out_channels_ = 0, groups_ = 1;
    std::vector<std::int64_t> output_channel_;  // secondary output q -> block output channel
    std::vector<std::int64_t> source_offset_;   // secondary input i -> its plane's offset in a band
    std::vector<TileKernel> blocks_, single_rows_;  // empty: the portable loops
    bool direct_ = false;      // the tiles read the image (AVX-512), not a padded copy
    std::vector<float> zeros_;  // direct: a group's input of zeros, read for rows outside the image
    BandFunction secondary_ = nullptr;
    PadFunction pad_ = nullptr;
    std::int64_t band_rows_ = 1, bands_ = 1, band_stride_ = 0;
    std::int64_t band_floats_ = 0, scratch_floats_ = 0;  // per thread: the band, then the padded input
    Geometry padded_;  // the primary over a padded copy of a band's input rows
};

}  // namespace

WEFT_PLUGIN("igc_block_cpu", "0.1.0") {
    registrar.add_kernel(
        weft::kernel_factory<IgcBlockCpu>("igc_block", "cpu", "fused", /*priority=*/0, declines));
}
