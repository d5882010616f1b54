// Launch plans of the small-group CUDA convolution (group_conv_small_groups_cuda_kernels.cu describes the
// design): how a direct convolution is tiled over thread blocks, how its shared memory is laid out
// so that a warp's reads fall in 32 distinct banks, and how the weight gradient's reduction is split
// over the batch. Host arithmetic only, compiled into the plugin and into its tests, which check
// the plans and run the kernel bodies (group_conv_small_groups_cuda_body.h) on the host.
//
// Every count the kernels use is an int: plan_* throw weft::Error when a geometry does not fit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "weft/convolution.h"

#if defined(__CUDACC__)
#define WEFT_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define WEFT_HOST_DEVICE inline
#endif

namespace weft::small_groups_cuda {

// Channels per group up to which the kernel computes a node (its accumulators are registers).
inline constexpr std::int64_t kMaxChannelsPerGroup = 16;
// Shared memory every CUDA GPU gives a block without opting in to more.
inline constexpr std::size_t kSharedMemoryBytes = 48 * 1024;
inline constexpr int kMaxThreads = 256;

// n / d and n % d for 0 <= n < 2^31 by a multiply-high, an add and a shift (Granlund and
// Montgomery's round-up method), for divisors known only when the kernel is planned.
struct FastDivmod {
    std::uint32_t divisor = 1;
    std::uint32_t multiplier = 0;
    std::uint32_t shift = 0;

    static FastDivmod of(std::int64_t divisor);  // 1 <= divisor < 2^31

    WEFT_HOST_DEVICE int quotient(int n) const {
        const auto u = static_cast<std::uint32_t>(n);
#if defined(__CUDA_ARCH__)
        const std::uint32_t high = __umulhi(u, multiplier);
#else
        const auto high = static_cast<std::uint32_t>((std::uint64_t{u} * multiplier) >> 32);
#endif
        return static_cast<int>((high + u) >> shift);
    }
    WEFT_HOST_DEVICE int remainder(int n, int quotient) const {
        return n - quotient * static_cast<int>(divisor);
    }
};

// One direct convolution on NCHW float32 tensors as the kernels compute it: the forward
// convolution, or dL/dx as the convolution of dL/dy — with stride - 1 zeros between its pixels when
// the forward convolution strides — with each group's kernel turned 180 degrees and its input and
// output channels swapped.
struct DirectConvolution {
    int batch = 1, groups = 1;
    int in_per_group = 1, out_per_group = 1;  // channels of this convolution's input and output, per group
    int in_height = 1, in_width = 1;          // the tensor read
    int upsample_h = 1, upsample_w = 1;       // the read tensor's pixels lie this far apart, zeros between
    int out_height = 1, out_width = 1;        // the tensor written
    int kernel_h = 1, kernel_w = 1;
    int stride_h = 1, stride_w = 1;
    int dilation_h = 1, dilation_w = 1;
    int padding_h = 0,
        padding_w = 0;                // negative for dL/dx when the forward pads more than the kernel reaches
    bool transposed_weights = false;  // read W[o, c, ky, kx] as this convolution's [c, o, kh-1-ky, kw-1-kx]
    bool bias = false;
    bool relu = false;

    WEFT_HOST_DEVICE int taps() const { return kernel_h * kernel_w; }
    // The read tensor with its zeros: what the taps index.
    WEFT_HOST_DEVICE int virtual_height() const { return (in_height - 1) * upsample_h + 1; }
    WEFT_HOST_DEVICE int virtual_width() const { return (in_width - 1) * upsample_w + 1; }
};

DirectConvolution forward_convolution(const ConvolutionGeometry& geometry);
DirectConvolution input_gradient_convolution(const ConvolutionGeometry& geometry);

// Windows of the read tensor in shared memory: `units` (groups of one image, or images of one
// group) x channels x rows x columns, zeros where a window hangs over the edge. A row is split by
// column phase (column j at phase j % phases, position j / phases, phases = the stride across
// columns), so that threads of consecutive output columns read consecutive words at every tap.
struct WindowLayout {
    int rows = 1, cols = 1;  // virtual rows and columns of one window
    int phases = 1;
    int phase_width = 1;            // padded so that the rows a warp reads start in different banks
    int row_pitch = 1;              // phases * phase_width
    int channel_pitch = 1;          // rows * row_pitch, padded
    int unit_pitch = 1;             // channels * channel_pitch, padded
    int lanes_per_row = 32;         // threads copying one row, one column each
    int vector_lanes_per_row = 32;  // threads copying one row, four columns each
    FastDivmod rows_div, channels_div, phases_div;

    WEFT_HOST_DEVICE int floats(int units) const { return units * unit_pitch; }
};

// The forward kernel (and dL/dx through it): a block computes a tile of tile_h x tile_w output
// pixels of groups_per_block consecutive groups of one image; thread (tx, gz, ty) — tx fastest, so
// that a warp spans groups before rows of a narrow plane — computes the rows ty + i * threads_y
// (i < rows_per_thread) of column tx for all out_block channels of group gz.
struct ForwardPlan {
    DirectConvolution conv;
    int out_block = 1;        // out_per_group rounded up to a power of two: the accumulators per pixel
    int rows_per_thread = 1;  // fixed by out_block (rows_per_thread_for)
    int threads_x = 8, groups_per_block = 1, threads_y = 1, threads = 8;  // powers of two
    int log2_threads_x = 3, log2_groups_per_block = 0;
    int tile_h = 1, tile_w = 1;
    int tiles_y = 1, tiles_x = 1, group_blocks = 1;
    std::int64_t blocks = 1;
    WindowLayout window;
    // [groups_per_block][in_per_group][taps][out_block], first in shared memory; a group's weights
    // start an odd number of out_block vectors after the previous group's, so that the lanes of a
    // warp reading different groups' weights do not share banks.
    int weight_unit_pitch = 0;
    int weight_floats = 0;
    int tap_table_floats = 0;  // then one int per tap: its offset in a window
    std::size_t shared_bytes = 0;
    FastDivmod tiles_x_div, tiles_y_div, group_blocks_div;
    // Reading the weight tensor in its own order, [groups x out][in][taps] of the forward convolution.
    FastDivmod weight_row_div;  // in x taps of the forward convolution
    FastDivmod taps_div;
    FastDivmod forward_out_div;  // out per group of the forward convolution
};

struct ForwardThread {
    int tx, gz, ty;
};

WEFT_HOST_DEVICE ForwardThread forward_thread(const ForwardPlan& p, int thread) {
    return ForwardThread{thread & (p.threads_x - 1), (thread >> p.log2_threads_x) & (p.groups_per_block - 1),
                         thread >> (p.log2_threads_x + p.log2_groups_per_block)};
}

// The word of a block's windows a thread reads first; every other read adds an offset (channel, tap,
// row) common to all threads.
WEFT_HOST_DEVICE int forward_first_read(const ForwardPlan& p, const WindowLayout& w, int thread) {
    const ForwardThread t = forward_thread(p, thread);
    return t.gz * w.unit_pitch + t.ty * p.conv.stride_h * w.row_pitch + t.tx;
}

// Output rows a thread accumulates for `out_block` channels: 32 accumulators, at most 8 rows.
WEFT_HOST_DEVICE constexpr int rows_per_thread_for(int out_block) {
    return out_block >= 16 ? 2 : out_block >= 8 ? 4 : 8;
}

ForwardPlan plan_forward(const DirectConvolution& conv);

// The weight gradient: dW[o, c, tap] = sum over images and output pixels of dy[o, p] x[c, p + tap],
// a product of a (out/groups) x pixels and a pixels x (in/groups * taps) matrix per group. A work
// item is out_block output channels x one input channel x tap_block taps (accumulators in
// registers); a block holds items_per_block items x lanes threads and walks `tiles_per_chunk` tiles
// (tile_images images x tile_rows output rows) of its group, each lane taking every lanes-th pixel.
// Lane sums are added in lane order, then chunk sums in chunk order by a second kernel: no atomics,
// the same sums in the same order on every run.
struct WeightGradPlan {
    DirectConvolution conv;                         // the forward convolution
    int out_block = 1;                              // 1, 2 or 4
    int tap_block = 1;                              // 1, 3 or 9
    int out_blocks = 1, tap_blocks = 1, items = 1;  // per group; an item is (out block, channel, tap block)
    int items_per_block = 1, item_slices = 1, lanes = 1, threads = 1;
    int tile_images = 1, tile_rows = 1, image_groups = 1, row_bands = 1, tiles = 1;  // tiles per group
    int tiles_per_chunk = 1, chunks = 1;
    std::int64_t blocks = 1;
    WindowLayout window;                          // the input x
    int dy_channel_pitch = 1, dy_unit_pitch = 1;  // dy: [tile_images][out_per_group][tile_rows x out_width]
    int staged_floats = 0;                        // x windows, then dy
    int sums_per_thread = 1;                      // out_block x tap_block weight sums and out_block bias sums
    std::size_t shared_bytes = 0;
    int weights = 0;         // elements of dL/dW: out_channels x in_per_group x taps
    int partial_floats = 0;  // chunks x (weights + out_channels): the workspace
    FastDivmod lanes_div, in_div, tap_blocks_div, chunks_div, item_slices_div, sums_div;
    FastDivmod row_bands_div, tile_pixels_div, out_width_div;  // tile -> rows, pixel -> (image, row, column)
    FastDivmod tile_pixels4_div, out_div;                      // staging dy four floats at a time
};

// `multiprocessors` sizes the split of the batch (about four blocks per multiprocessor).
WeightGradPlan plan_weight_gradient(const ConvolutionGeometry& geometry, int multiprocessors);

// Empty when the small-group kernel computes this node; otherwise why not (KernelFactory::declines):
// groups wider than kMaxChannelsPerGroup, fused_relu in training, a size beyond int, or a tile that
// does not fit in shared memory.
std::string small_groups_declines(const ConvolutionGeometry& geometry, bool training);

// The most ways any two lanes of a warp contend for one shared-memory bank when the lanes read
// `addresses` (words) at once; 1 is conflict-free. Equal addresses are one broadcast, not a conflict.
int bank_conflict_ways(const int (&addresses)[32]);

}  // namespace weft::small_groups_cuda
