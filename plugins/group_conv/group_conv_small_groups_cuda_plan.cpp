#include "group_conv_small_groups_cuda_plan.h"

#include <algorithm>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft::small_groups_cuda {
namespace {

int to_int(std::int64_t value, std::string_view what) {
    if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max())
        throw Error(fmt::format("{} {} does not fit the small-groups CUDA kernel's int", what, value));
    return static_cast<int>(value);
}

int ceil_div(std::int64_t a, std::int64_t b) { return to_int((a + b - 1) / b, "a tile count"); }

int next_power_of_two(int n) {
    int p = 1;
    while (p < n) p *= 2;
    return p;
}

int log2_of(int power_of_two) {
    int log = 0;
    while ((1 << log) < power_of_two) ++log;
    return log;
}

// The largest power of two dividing n.
int power_of_two_dividing(int n) { return n & -n; }

std::size_t float_bytes(std::int64_t floats) { return static_cast<std::size_t>(floats) * sizeof(float); }

// A window with the given paddings of its phase width, channel pitch and unit pitch.
WindowLayout padded(const WindowLayout& w, int channels, int phase_pad, int channel_pad, int unit_pad) {
    WindowLayout candidate = w;
    candidate.phase_width = (w.cols + w.phases - 1) / w.phases + phase_pad;
    candidate.row_pitch = w.phases * candidate.phase_width;
    candidate.channel_pitch = w.rows * candidate.row_pitch + channel_pad;
    candidate.unit_pitch = channels * candidate.channel_pitch + unit_pad;
    return candidate;
}

// Pads a window's phase width and its channel and unit pitches for the fewest bank conflicts among
// the words the 32 lanes of a warp read at once (lane_address(layout, lane)), within a budget.
// Every tap and channel adds one offset to all lanes, so one read decides. A padding the warp's
// addresses do not depend on (the unit pitch when a warp stays in one unit) is left at 0.
template <class LaneAddress>
void pad_for_banks(WindowLayout& w, int channels, LaneAddress lane_address) {
    const auto ways = [&](const WindowLayout& candidate) {
        int addresses[32];
        for (int lane = 0; lane < 32; ++lane) addresses[lane] = lane_address(candidate, lane);
        return bank_conflict_ways(addresses);
    };
    const auto matters = [&](int phase_pad, int channel_pad, int unit_pad) {
        const WindowLayout base = padded(w, channels, 0, 0, 0);
        const WindowLayout moved = padded(w, channels, phase_pad, channel_pad, unit_pad);
        for (int lane = 0; lane < 32; ++lane)
            if (lane_address(moved, lane) - lane_address(base, lane) !=
                lane_address(moved, 0) - lane_address(base, 0))
                return 32;
        return 1;
    };
    // A row is padded by at most 7 words (its pitch is paid on every row); a channel or a unit by up
    // to 31, once each.
    const int phase_pads = std::min(8, matters(1, 0, 0)), channel_pads = matters(0, 1, 0);
    const int unit_pads = matters(0, 0, 1);
    WindowLayout best = padded(w, channels, 0, 0, 0);
    int best_ways = ways(best);
    for (int phase_pad = 0; phase_pad < phase_pads && best_ways > 1; ++phase_pad) {
        for (int channel_pad = 0; channel_pad < channel_pads && best_ways > 1; ++channel_pad) {
            for (int unit_pad = 0; unit_pad < unit_pads && best_ways > 1; ++unit_pad) {
                const WindowLayout candidate = padded(w, channels, phase_pad, channel_pad, unit_pad);
                const int candidate_ways = ways(candidate);
                if (candidate_ways < best_ways) best = candidate, best_ways = candidate_ways;
            }
        }
    }
    w = best;
}

// The window's shape and its copy lanes; pitches come from pad_for_banks.
WindowLayout window_shape(const DirectConvolution& conv, int rows, int cols, int channels, int threads) {
    WindowLayout w;
    w.rows = rows;
    w.cols = cols;
    w.phases = conv.stride_w;
    const int fits = std::min(32, power_of_two_dividing(threads));
    w.lanes_per_row = std::min(fits, next_power_of_two(cols));
    w.vector_lanes_per_row = std::min(fits, next_power_of_two((cols + 3) / 4 + 1));
    w.rows_div = FastDivmod::of(rows);
    w.channels_div = FastDivmod::of(channels);
    w.phases_div = FastDivmod::of(w.phases);
    return w;
}

// --- forward ---

void lay_out_forward(ForwardPlan& p) {
    const DirectConvolution& c = p.conv;
    p.threads = p.threads_x * p.threads_y * p.groups_per_block;
    p.log2_threads_x = log2_of(p.threads_x);
    p.log2_groups_per_block = log2_of(p.groups_per_block);
    p.tile_w = p.threads_x;
    p.tile_h = p.threads_y * p.rows_per_thread;
    const int rows = (p.tile_h - 1) * c.stride_h + (c.kernel_h - 1) * c.dilation_h + 1;
    const int cols = (p.tile_w - 1) * c.stride_w + (c.kernel_w - 1) * c.dilation_w + 1;
    p.window = window_shape(c, rows, cols, c.in_per_group, p.threads);
    pad_for_banks(p.window, c.in_per_group,
                  [&](const WindowLayout& w, int lane) { return forward_first_read(p, w, lane); });
    const int vectors = c.in_per_group * c.taps();
    p.weight_unit_pitch = (vectors % 2 == 0 ? vectors + 1 : vectors) * p.out_block;
    p.weight_floats = p.groups_per_block * p.weight_unit_pitch;
    p.tap_table_floats = (c.taps() + 3) / 4 * 4;
    p.shared_bytes =
        float_bytes(std::int64_t{p.weight_floats} + p.tap_table_floats + p.window.floats(p.groups_per_block));
}

// --- weight gradient ---

void lay_out_weight_gradient(WeightGradPlan& p) {
    const DirectConvolution& c = p.conv;
    const int rows = (p.tile_rows - 1) * c.stride_h + (c.kernel_h - 1) * c.dilation_h + 1;
    const int cols = (c.out_width - 1) * c.stride_w + (c.kernel_w - 1) * c.dilation_w + 1;
    p.window = window_shape(c, rows, cols, c.in_per_group, p.threads);
    const int tile_pixels = p.tile_rows * c.out_width;
    // Lane l is pixel l % lanes of item l / lanes; consecutive items are consecutive channels.
    pad_for_banks(p.window, c.in_per_group, [&](const WindowLayout& w, int lane) {
        const int channel = lane / p.lanes % c.in_per_group, pixel = lane % p.lanes;
        const int image = pixel / tile_pixels, row = pixel % tile_pixels / c.out_width,
                  col = pixel % c.out_width;
        return image * w.unit_pitch + channel * w.channel_pitch + row * c.stride_h * w.row_pitch + col;
    });
    p.dy_channel_pitch = tile_pixels;
    p.dy_unit_pitch = c.out_per_group * tile_pixels;
    p.staged_floats = p.window.floats(p.tile_images) + p.tile_images * p.dy_unit_pitch;
    // The lane sums reuse the staged tiles' memory once the last tile is done.
    p.shared_bytes = float_bytes(std::max(p.staged_floats, p.threads * p.sums_per_thread));
}

// Work items (out block, channel, tap block) per block and pixel lanes per item.
void split_work(WeightGradPlan& p) {
    const DirectConvolution& c = p.conv;
    p.out_block = std::min(4, next_power_of_two(c.out_per_group));
    p.tap_block = c.taps() >= 9 ? 9 : c.taps() >= 3 ? 3 : 1;
    p.out_blocks = ceil_div(c.out_per_group, p.out_block);
    p.tap_blocks = ceil_div(c.taps(), p.tap_block);
    p.items =
        to_int(std::int64_t{p.out_blocks} * c.in_per_group * p.tap_blocks, "weight-gradient work items");
    p.item_slices = ceil_div(p.items, kMaxThreads);
    p.items_per_block = ceil_div(p.items, p.item_slices);
    p.lanes = 1;
    while (2 * p.lanes * p.items_per_block <= kMaxThreads) p.lanes *= 2;
    p.threads = p.items_per_block * p.lanes;
    p.sums_per_thread = p.out_block * p.tap_block + p.out_block;
}

// Chunks per group and item slice for about four blocks a multiprocessor.
int wanted_chunks(const WeightGradPlan& p, int multiprocessors) {
    return ceil_div(4 * std::int64_t{std::max(multiprocessors, 1)},
                    std::int64_t{p.conv.groups} * p.item_slices);
}

std::int64_t tiles_of(const WeightGradPlan& p) {
    return std::int64_t{ceil_div(p.conv.batch, p.tile_images)} * ceil_div(p.conv.out_height, p.tile_rows);
}

// Tiles of at least eight pixels a lane (several images of a small plane), shrunk to fit; then grown
// while they cost no more shared memory (the lane sums reserve it anyway) and leave a tile for every
// chunk: fewer synchronisations per pixel.
void choose_tile(WeightGradPlan& p, int multiprocessors) {
    const DirectConvolution& c = p.conv;
    const std::int64_t plane = std::int64_t{c.out_height} * c.out_width;
    const std::int64_t wanted = std::max<std::int64_t>(8 * p.lanes, c.out_width);
    if (plane >= wanted) {
        p.tile_images = 1;
        p.tile_rows = std::min(c.out_height, ceil_div(wanted, c.out_width));
    } else {
        p.tile_rows = c.out_height;
        p.tile_images = std::min(c.batch, ceil_div(wanted, plane));
    }
    lay_out_weight_gradient(p);
    while (p.shared_bytes > kSharedMemoryBytes) {
        if (p.tile_images > 1) {
            p.tile_images = (p.tile_images + 1) / 2;
        } else if (p.tile_rows > 1) {
            p.tile_rows = (p.tile_rows + 1) / 2;
        } else {
            throw Error(fmt::format(
                "the weight gradient of one output row needs {} bytes of shared memory, more than {}",
                p.shared_bytes, kSharedMemoryBytes));
        }
        lay_out_weight_gradient(p);
    }
    for (;;) {
        WeightGradPlan bigger = p;
        if (p.tile_rows < c.out_height) {
            bigger.tile_rows = std::min(c.out_height, 2 * p.tile_rows);
        } else if (p.tile_images < c.batch) {
            bigger.tile_images = std::min(c.batch, 2 * p.tile_images);
        } else {
            return;
        }
        lay_out_weight_gradient(bigger);
        if (bigger.shared_bytes > p.shared_bytes || tiles_of(bigger) < wanted_chunks(p, multiprocessors))
            return;
        p = bigger;
    }
}

// Chunks of tiles, about four blocks a multiprocessor over all groups.
void split_batch(WeightGradPlan& p, int multiprocessors) {
    const DirectConvolution& c = p.conv;
    p.image_groups = ceil_div(c.batch, p.tile_images);
    p.row_bands = ceil_div(c.out_height, p.tile_rows);
    p.tiles = to_int(tiles_of(p), "tiles");
    p.chunks = std::clamp(wanted_chunks(p, multiprocessors), 1, p.tiles);
    p.tiles_per_chunk = ceil_div(p.tiles, p.chunks);
    p.chunks = ceil_div(p.tiles, p.tiles_per_chunk);
    p.blocks = std::int64_t{c.groups} * p.item_slices * p.chunks;
    to_int(p.blocks, "thread blocks");
    p.weights = to_int(std::int64_t{c.groups} * c.out_per_group * c.in_per_group * c.taps(), "weights");
    p.partial_floats = to_int(std::int64_t{p.chunks} * (p.weights + std::int64_t{c.groups} * c.out_per_group),
                              "partial sums");
}

}  // namespace

FastDivmod FastDivmod::of(std::int64_t divisor) {
    if (divisor < 1 || divisor > std::numeric_limits<int>::max())
        throw Error(fmt::format("FastDivmod: divisor {} is outside [1, 2^31)", divisor));
    FastDivmod d;
    d.divisor = static_cast<std::uint32_t>(divisor);
    while ((std::uint64_t{1} << d.shift) < d.divisor) ++d.shift;
    // ceil(2^32 * 2^shift / divisor) - 2^32, which fits 32 bits because 2^(shift-1) < divisor.
    const std::uint64_t excess = (std::uint64_t{1} << d.shift) - d.divisor;
    d.multiplier = static_cast<std::uint32_t>((excess << 32) / d.divisor + 1);
    return d;
}

int bank_conflict_ways(const int (&addresses)[32]) {
    int sorted[32];
    std::copy(std::begin(addresses), std::end(addresses), std::begin(sorted));
    std::sort(std::begin(sorted), std::end(sorted));
    int per_bank[32] = {};
    for (int i = 0; i < 32; ++i)
        if (i == 0 || sorted[i] != sorted[i - 1])
            ++per_bank[((sorted[i] % 32) + 32) % 32];  // one broadcast each
    return std::max(1, *std::max_element(std::begin(per_bank), std::end(per_bank)));
}

DirectConvolution forward_convolution(const ConvolutionGeometry& g) {
    DirectConvolution c;
    c.batch = to_int(g.batch, "batch");
    c.groups = to_int(g.groups, "groups");
    c.in_per_group = to_int(g.in_per_group(), "channels per group");
    c.out_per_group = to_int(g.out_per_group(), "channels per group");
    c.in_height = to_int(g.in_height, "height");
    c.in_width = to_int(g.in_width, "width");
    c.out_height = to_int(g.out_height(), "output height");
    c.out_width = to_int(g.out_width(), "output width");
    c.kernel_h = to_int(g.kernel_h, "kernel height");
    c.kernel_w = to_int(g.kernel_w, "kernel width");
    to_int(g.kernel_h * g.kernel_w, "taps");
    c.stride_h = to_int(g.stride_h, "stride");
    c.stride_w = to_int(g.stride_w, "stride");
    c.dilation_h = to_int(g.dilation_h, "dilation");
    c.dilation_w = to_int(g.dilation_w, "dilation");
    c.padding_h = to_int(g.padding_h, "padding");
    c.padding_w = to_int(g.padding_w, "padding");
    // Tile origins reach (out - 1) * stride + (kernel - 1) * dilation rows into the padded input.
    to_int(g.out_height() * g.stride_h + g.kernel_h * g.dilation_h, "the input rows a tile reaches");
    to_int(g.out_width() * g.stride_w + g.kernel_w * g.dilation_w, "the input columns a tile reaches");
    c.bias = g.bias;
    c.relu = g.fused_relu;
    return c;
}

DirectConvolution input_gradient_convolution(const ConvolutionGeometry& g) {
    const DirectConvolution f = forward_convolution(g);
    DirectConvolution c = f;
    // dL/dx[iy] = sum over ky of W[ky] dy[(iy + p - ky d) / s], the terms where s divides: with
    // u = dy with s - 1 zeros between pixels and ky' = k - 1 - ky, sum over ky' of
    // W[k - 1 - ky'] u[iy + ky' d - (d (k - 1) - p)] — a stride-1 convolution padded by d (k - 1) - p.
    c.in_per_group = f.out_per_group, c.out_per_group = f.in_per_group;
    c.in_height = f.out_height, c.in_width = f.out_width;
    c.upsample_h = f.stride_h, c.upsample_w = f.stride_w;
    c.out_height = f.in_height, c.out_width = f.in_width;
    c.stride_h = c.stride_w = 1;
    c.padding_h = f.dilation_h * (f.kernel_h - 1) - f.padding_h;
    c.padding_w = f.dilation_w * (f.kernel_w - 1) - f.padding_w;
    c.transposed_weights = true;
    c.bias = c.relu = false;
    return c;
}

ForwardPlan plan_forward(const DirectConvolution& conv) {
    ForwardPlan p;
    p.conv = conv;
    p.out_block = next_power_of_two(conv.out_per_group);
    p.rows_per_thread = rows_per_thread_for(p.out_block);
    // A warp spans 32 output columns, or whole rows of narrower planes.
    p.threads_x = conv.out_width <= 8 ? 8 : conv.out_width <= 16 ? 16 : 32;
    p.threads_y =
        std::min(kMaxThreads / p.threads_x, next_power_of_two(ceil_div(conv.out_height, p.rows_per_thread)));
    // At least four warps a block: small planes take several groups of the image.
    p.groups_per_block = 1;
    while (2 * p.groups_per_block <= conv.groups && 2 * p.groups_per_block * p.threads_x * p.threads_y <= 128)
        p.groups_per_block *= 2;
    lay_out_forward(p);
    while (p.shared_bytes > kSharedMemoryBytes) {
        if (p.groups_per_block > 1) {
            p.groups_per_block /= 2;
        } else if (p.threads_y > 1) {
            p.threads_y /= 2;
        } else if (p.threads_x > 8) {  // wide windows: large strides and dilations
            p.threads_x /= 2;
        } else {
            throw Error(
                fmt::format("one tile of {} output pixels needs {} bytes of shared memory, more than {}",
                            p.tile_h * p.tile_w, p.shared_bytes, kSharedMemoryBytes));
        }
        lay_out_forward(p);
    }
    p.tiles_x = ceil_div(conv.out_width, p.tile_w);
    p.tiles_y = ceil_div(conv.out_height, p.tile_h);
    p.group_blocks = ceil_div(conv.groups, p.groups_per_block);
    p.blocks = std::int64_t{p.tiles_x} * p.tiles_y * p.group_blocks * conv.batch;
    to_int(p.blocks, "thread blocks");
    p.tiles_x_div = FastDivmod::of(p.tiles_x);
    p.tiles_y_div = FastDivmod::of(p.tiles_y);
    p.group_blocks_div = FastDivmod::of(p.group_blocks);
    // The weight tensor is the forward convolution's: [groups x out][in][taps] of that convolution.
    const int forward_out = conv.transposed_weights ? conv.in_per_group : conv.out_per_group;
    const int forward_in = conv.transposed_weights ? conv.out_per_group : conv.in_per_group;
    p.weight_row_div = FastDivmod::of(std::int64_t{forward_in} * conv.taps());
    p.taps_div = FastDivmod::of(conv.taps());
    p.forward_out_div = FastDivmod::of(forward_out);
    return p;
}

WeightGradPlan plan_weight_gradient(const ConvolutionGeometry& geometry, int multiprocessors) {
    WeightGradPlan p;
    p.conv = forward_convolution(geometry);
    const DirectConvolution& c = p.conv;
    split_work(p);
    choose_tile(p, multiprocessors);
    split_batch(p, multiprocessors);
    p.lanes_div = FastDivmod::of(p.lanes);
    p.in_div = FastDivmod::of(c.in_per_group);
    p.tap_blocks_div = FastDivmod::of(p.tap_blocks);
    p.chunks_div = FastDivmod::of(p.chunks);
    p.item_slices_div = FastDivmod::of(p.item_slices);
    p.sums_div = FastDivmod::of(p.sums_per_thread);
    p.row_bands_div = FastDivmod::of(p.row_bands);
    p.tile_pixels_div = FastDivmod::of(std::int64_t{p.tile_rows} * c.out_width);
    p.out_width_div = FastDivmod::of(c.out_width);
    p.tile_pixels4_div =
        FastDivmod::of(std::max<std::int64_t>(1, std::int64_t{p.tile_rows} * c.out_width / 4));
    p.out_div = FastDivmod::of(c.out_per_group);
    return p;
}

std::string small_groups_declines(const ConvolutionGeometry& geometry, bool training) {
    if (geometry.in_per_group() > kMaxChannelsPerGroup || geometry.out_per_group() > kMaxChannelsPerGroup)
        return fmt::format("groups of {} input and {} output channels: at most {} each",
                           geometry.in_per_group(), geometry.out_per_group(), kMaxChannelsPerGroup);
    if (training && geometry.fused_relu)
        return "fused_relu is an inference-only rewrite (backward would need the ReLU's mask)";
    try {
        plan_forward(forward_convolution(geometry));
        if (training) {
            plan_forward(input_gradient_convolution(geometry));
            plan_weight_gradient(geometry, 1);
        }
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

}  // namespace weft::small_groups_cuda
