// The bodies of the small-group CUDA kernels, phase by phase: each function is what every thread of
// a block does between two __syncthreads() of the kernels in group_conv_small_groups_cuda_kernels.cu.
// They are written once for nvcc and for the host, where the tests run every thread of every block
// in turn (a phase for all threads before the next) and so check the tiling, the staging and all
// index arithmetic against the CPU kernels without a GPU.
//
// A phase writes shared memory or reads it, never both where another thread's write could race.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "group_conv_small_groups_cuda_plan.h"

// Fully unrolled on the GPU, where the loops over a compile-time count index register arrays.
#if defined(__CUDA_ARCH__)
#define WEFT_UNROLL _Pragma("unroll")
#else
#define WEFT_UNROLL
#endif

namespace weft::small_groups_cuda {

// --- memory access that differs between the GPU and the host ---

WEFT_HOST_DEVICE float load_global(const float* p) {
#if defined(__CUDA_ARCH__)
    return __ldg(p);
#else
    return *p;
#endif
}

// Four floats from 16-byte aligned global memory.
WEFT_HOST_DEVICE void load_global4(const float* p, float (&v)[4]) {
#if defined(__CUDA_ARCH__)
    const float4 q = __ldg(reinterpret_cast<const float4*>(p));
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
#else
    for (int e = 0; e < 4; ++e) v[e] = p[e];
#endif
}

// `Count` consecutive floats of shared memory, aligned to 4 * Count bytes: broadcast weights.
template <int Count>
WEFT_HOST_DEVICE void load_shared(const float* p, float (&v)[Count]) {
#if defined(__CUDA_ARCH__)
    if constexpr (Count % 4 == 0) {
        WEFT_UNROLL
        for (int i = 0; i < Count; i += 4) {
            const float4 q = *reinterpret_cast<const float4*>(p + i);
            v[i] = q.x, v[i + 1] = q.y, v[i + 2] = q.z, v[i + 3] = q.w;
        }
    } else if constexpr (Count == 2) {
        const float2 q = *reinterpret_cast<const float2*>(p);
        v[0] = q.x, v[1] = q.y;
    } else {
        v[0] = p[0];
    }
#else
    for (int i = 0; i < Count; ++i) v[i] = p[i];
#endif
}

WEFT_HOST_DEVICE float multiply_add(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
    return __fmaf_rn(a, b, c);
#else
    return std::fma(a, b, c);
#endif
}

WEFT_HOST_DEVICE int floor_div4(int n) { return n >= 0 ? n / 4 : -((-n + 3) / 4); }

// --- windows of the read tensor ---

// Where a window's planes come from: unit u, channel c is the plane at data + u * unit_stride +
// c * plane, read at virtual rows row0 .. row0 + rows and columns col0 .. col0 + cols.
struct WindowSource {
    const float* data;
    std::int64_t unit_stride;
    std::int64_t plane;
    int units;
    int row0, col0;
};

// The real index along one axis of virtual coordinate v, or -1 where the window reads a zero (off the
// tensor, or between upsampled pixels).
WEFT_HOST_DEVICE int real_index(int v, int upsample, int extent) {
    if (v < 0) return -1;
    if (upsample == 1) return v < extent ? v : -1;
    const int q = v / upsample;
    return q * upsample == v && q < extent ? q : -1;
}

// Copies the source's windows into `window`, zeros where they read none. A row at a time: a few
// consecutive threads share a row, one column (or four, `vector_loads`) each, so global reads are
// coalesced; rows are spread over the other threads. `vector_loads` needs no upsampling, a width
// divisible by four and 16-byte aligned data.
WEFT_HOST_DEVICE void stage_window(const DirectConvolution& conv, const WindowLayout& w,
                                   const WindowSource& src, float* window, int thread, int threads,
                                   bool vector_loads) {
    const int lanes = vector_loads ? w.vector_lanes_per_row : w.lanes_per_row;
    const int lane = thread & (lanes - 1);
    const int channels = static_cast<int>(w.channels_div.divisor);
    const int all_rows = src.units * channels * w.rows;
    for (int q = thread / lanes; q < all_rows; q += threads / lanes) {
        const int unit_channel = w.rows_div.quotient(q);
        const int r = w.rows_div.remainder(q, unit_channel);
        const int unit = w.channels_div.quotient(unit_channel);
        const int channel = w.channels_div.remainder(unit_channel, unit);
        float* out = window + unit * w.unit_pitch + channel * w.channel_pitch + r * w.row_pitch;
        const int y = real_index(src.row0 + r, conv.upsample_h, conv.in_height);
        const float* row =
            y < 0 ? nullptr
                  : src.data + unit * src.unit_stride + channel * src.plane + std::int64_t{y} * conv.in_width;
        const auto place = [&](int j, float value) {
            const int position = w.phases_div.quotient(j);
            out[w.phases_div.remainder(j, position) * w.phase_width + position] = value;
        };
        if (!vector_loads) {
            for (int j = lane; j < w.cols; j += lanes) {
                const int x = real_index(src.col0 + j, conv.upsample_w, conv.in_width);
                place(j, row != nullptr && x >= 0 ? load_global(row + x) : 0.f);
            }
            continue;
        }
        const int last = floor_div4(src.col0 + w.cols - 1);
        for (int chunk = floor_div4(src.col0) + lane; chunk <= last; chunk += lanes) {
            const int x0 = 4 * chunk;
            float v[4] = {0.f, 0.f, 0.f, 0.f};
            if (row != nullptr && x0 >= 0 && x0 + 4 <= conv.in_width) {
                load_global4(row + x0, v);
            } else if (row != nullptr) {
                for (int e = 0; e < 4; ++e)
                    if (x0 + e >= 0 && x0 + e < conv.in_width) v[e] = load_global(row + x0 + e);
            }
            for (int e = 0; e < 4; ++e) {
                const int j = x0 + e - src.col0;
                if (j >= 0 && j < w.cols) place(j, v[e]);
            }
        }
    }
}

// Whether stage_window may read `data` four floats at a time for this convolution: no upsampling,
// rows of a multiple of four floats, 16-byte aligned.
inline bool window_vector_loads(const DirectConvolution& conv, const float* data) {
    return conv.upsample_h == 1 && conv.upsample_w == 1 && conv.in_width % 4 == 0 &&
           reinterpret_cast<std::uintptr_t>(data) % 16 == 0;
}

// Whether stage_weight_gradient_dy may read dL/dy four floats at a time: rows of a multiple of four
// floats, 16-byte aligned.
inline bool grad_output_vector_loads(const DirectConvolution& conv, const float* grad_output) {
    return conv.out_width % 4 == 0 && reinterpret_cast<std::uintptr_t>(grad_output) % 16 == 0;
}

// The offset in a window of tap t's first read: row ky * dilation, column kx * dilation in its phase.
WEFT_HOST_DEVICE int tap_offset(const DirectConvolution& conv, const WindowLayout& w, int t) {
    const int ky = t / conv.kernel_w, kx = t - ky * conv.kernel_w;
    const int column = kx * conv.dilation_w;
    return ky * conv.dilation_h * w.row_pitch + column % w.phases * w.phase_width + column / w.phases;
}

// --- the direct convolution (forward, and dL/dx) ---

struct ForwardBlock {
    int image;
    int first_group;
    int groups;  // of this block that exist (the last block of groups may have fewer)
    int tile_y, tile_x;
};

WEFT_HOST_DEVICE ForwardBlock forward_block(const ForwardPlan& p, int block) {
    ForwardBlock b;
    int rest = p.tiles_x_div.quotient(block);
    b.tile_x = p.tiles_x_div.remainder(block, rest);
    const int tile_y_rest = p.tiles_y_div.quotient(rest);
    b.tile_y = p.tiles_y_div.remainder(rest, tile_y_rest);
    b.image = p.group_blocks_div.quotient(tile_y_rest);
    const int group_block = p.group_blocks_div.remainder(tile_y_rest, b.image);
    b.first_group = group_block * p.groups_per_block;
    b.groups = p.conv.groups - b.first_group < p.groups_per_block ? p.conv.groups - b.first_group
                                                                  : p.groups_per_block;
    return b;
}

// Shared memory of a forward block: weights, tap table, windows.
WEFT_HOST_DEVICE float* forward_weights(const ForwardPlan&, float* shared) { return shared; }
WEFT_HOST_DEVICE int* forward_tap_table(const ForwardPlan& p, float* shared) {
    return reinterpret_cast<int*>(shared + p.weight_floats);
}
WEFT_HOST_DEVICE float* forward_windows(const ForwardPlan& p, float* shared) {
    return shared + p.weight_floats + p.tap_table_floats;
}

// The block's weights as [group][in][tap][out_block], zero beyond out_per_group, read from the
// forward convolution's [groups x out][in][taps] in its order (coalesced); for dL/dx turned and
// transposed on the way.
WEFT_HOST_DEVICE void stage_forward_weights(const ForwardPlan& p, const ForwardBlock& b, const float* weight,
                                            float* shared, int thread, int threads) {
    const DirectConvolution& c = p.conv;
    const int taps = c.taps(), block = p.out_block;
    float* staged = forward_weights(p, shared);
    const int forward_out = static_cast<int>(p.forward_out_div.divisor);
    const int row = static_cast<int>(p.weight_row_div.divisor);  // forward in x taps
    const float* source = weight + std::int64_t{b.first_group} * forward_out * row;
    const int count = b.groups * forward_out * row;
    for (int s = thread; s < count; s += threads) {
        const int unit_out = p.weight_row_div.quotient(s);
        const int in_tap = p.weight_row_div.remainder(s, unit_out);
        const int forward_in = p.taps_div.quotient(in_tap);
        const int t = p.taps_div.remainder(in_tap, forward_in);
        const int unit = p.forward_out_div.quotient(unit_out);
        const int o = p.forward_out_div.remainder(unit_out, unit);
        const float value = load_global(source + s);
        const int vector = c.transposed_weights ? o * taps + (taps - 1 - t) : forward_in * taps + t;
        staged[unit * p.weight_unit_pitch + vector * block + (c.transposed_weights ? forward_in : o)] = value;
    }
    // Zero weights for the accumulators past out_per_group (a rare path: plain division).
    const int padding = block - c.out_per_group, vectors = c.in_per_group * taps;
    for (int z = thread; z < b.groups * vectors * padding; z += threads) {
        const int vector = z / padding, unit = vector / vectors;
        staged[unit * p.weight_unit_pitch + (vector - unit * vectors) * block + c.out_per_group +
               z % padding] = 0.f;
    }
    int* tap_table = forward_tap_table(p, shared);
    for (int t = thread; t < taps; t += threads) tap_table[t] = tap_offset(c, p.window, t);
}

// Phase 1: weights, tap table and the input windows of the block's groups.
WEFT_HOST_DEVICE void stage_forward_tile(const ForwardPlan& p, const ForwardBlock& b, const float* input,
                                         const float* weight, float* shared, int thread, int threads,
                                         bool vector_loads) {
    const DirectConvolution& c = p.conv;
    stage_forward_weights(p, b, weight, shared, thread, threads);
    const std::int64_t plane = std::int64_t{c.in_height} * c.in_width;
    const std::int64_t image_floats = plane * c.in_per_group * c.groups;
    WindowSource src;
    src.data = input + b.image * image_floats + std::int64_t{b.first_group} * c.in_per_group * plane;
    src.unit_stride = plane * c.in_per_group;
    src.plane = plane;
    src.units = b.groups;
    src.row0 = b.tile_y * p.tile_h * c.stride_h - c.padding_h;
    src.col0 = b.tile_x * p.tile_w * c.stride_w - c.padding_w;
    stage_window(c, p.window, src, forward_windows(p, shared), thread, threads, vector_loads);
}

// Phase 2: Rows output rows x OutBlock channels in registers, then stored (bias first, ReLU last).
template <int OutBlock, int Rows>
WEFT_HOST_DEVICE void convolve_tile(const ForwardPlan& p, const ForwardBlock& b, float* shared,
                                    const float* bias, float* output, int thread) {
    const DirectConvolution& c = p.conv;
    const ForwardThread me = forward_thread(p, thread);
    const int tx = me.tx, ty = me.ty, gz = me.gz;
    if (gz >= b.groups) return;
    const int group = b.first_group + gz, taps = c.taps();
    float acc[Rows][OutBlock];
    WEFT_UNROLL
    for (int o = 0; o < OutBlock; ++o) {
        const float init =
            bias != nullptr && o < c.out_per_group ? load_global(bias + group * c.out_per_group + o) : 0.f;
        WEFT_UNROLL
        for (int i = 0; i < Rows; ++i) acc[i][o] = init;
    }
    const int* tap_table = forward_tap_table(p, shared);
    const float* weights = forward_weights(p, shared) + gz * p.weight_unit_pitch;
    const float* window = forward_windows(p, shared) + forward_first_read(p, p.window, thread);
    const int row_step = p.threads_y * c.stride_h * p.window.row_pitch;
    for (int ci = 0; ci < c.in_per_group; ++ci) {
        const float* x = window + ci * p.window.channel_pitch;
        const float* w = weights + ci * taps * OutBlock;
        for (int t = 0; t < taps; ++t) {
            const float* xt = x + tap_table[t];
            float wt[OutBlock];
            load_shared<OutBlock>(w + t * OutBlock, wt);
            WEFT_UNROLL
            for (int i = 0; i < Rows; ++i) {
                const float xv = xt[i * row_step];
                WEFT_UNROLL
                for (int o = 0; o < OutBlock; ++o) acc[i][o] = multiply_add(wt[o], xv, acc[i][o]);
            }
        }
    }
    const int ox = b.tile_x * p.tile_w + tx;
    if (ox >= c.out_width) return;
    const std::int64_t out_plane = std::int64_t{c.out_height} * c.out_width;
    float* y = output + (std::int64_t{b.image} * c.groups + group) * c.out_per_group * out_plane + ox;
    WEFT_UNROLL
    for (int i = 0; i < Rows; ++i) {
        const int oy = b.tile_y * p.tile_h + ty + i * p.threads_y;
        if (oy >= c.out_height) continue;
        WEFT_UNROLL
        for (int o = 0; o < OutBlock; ++o) {
            if (o >= c.out_per_group) continue;
            const float v = acc[i][o];
            y[o * out_plane + std::int64_t{oy} * c.out_width] = c.relu ? (v > 0.f ? v : 0.f) : v;
        }
    }
}

// --- the weight gradient ---

struct WeightGradBlock {
    int group, slice, chunk;
    int first_tile, end_tile;
};

WEFT_HOST_DEVICE WeightGradBlock weight_gradient_block(const WeightGradPlan& p, int block) {
    WeightGradBlock b;
    const int rest = p.chunks_div.quotient(block);
    b.chunk = p.chunks_div.remainder(block, rest);
    b.group = p.item_slices_div.quotient(rest);
    b.slice = p.item_slices_div.remainder(rest, b.group);
    b.first_tile = b.chunk * p.tiles_per_chunk;
    b.end_tile = b.first_tile + p.tiles_per_chunk < p.tiles ? b.first_tile + p.tiles_per_chunk : p.tiles;
    return b;
}

// A tile: tile_images images x tile_rows output rows, fewer at the end of the batch and the plane.
struct WeightGradTile {
    int first_image, images;
    int first_row, rows;
};

WEFT_HOST_DEVICE WeightGradTile weight_gradient_tile(const WeightGradPlan& p, int tile) {
    const DirectConvolution& c = p.conv;
    WeightGradTile t;
    const int image_group = p.row_bands_div.quotient(tile);
    t.first_row = p.row_bands_div.remainder(tile, image_group) * p.tile_rows;
    t.first_image = image_group * p.tile_images;
    t.images = c.batch - t.first_image < p.tile_images ? c.batch - t.first_image : p.tile_images;
    t.rows = c.out_height - t.first_row < p.tile_rows ? c.out_height - t.first_row : p.tile_rows;
    return t;
}

WEFT_HOST_DEVICE float* weight_gradient_dy(const WeightGradPlan& p, float* shared) {
    return shared + p.window.floats(p.tile_images);
}

// The tile's dL/dy rows into [image][out][tile_rows x out_width]; a tile's rows are contiguous in
// each plane, so consecutive threads read consecutive floats (four at a time, `vector_loads`).
WEFT_HOST_DEVICE void stage_weight_gradient_dy(const WeightGradPlan& p, int group, const WeightGradTile& t,
                                               const float* grad_output, float* shared, int thread,
                                               int threads, bool vector_loads) {
    const DirectConvolution& c = p.conv;
    const std::int64_t out_plane = std::int64_t{c.out_height} * c.out_width;
    const float* source = grad_output +
                          (std::int64_t{t.first_image} * c.groups + group) * c.out_per_group * out_plane +
                          std::int64_t{t.first_row} * c.out_width;
    const std::int64_t image_floats = out_plane * c.out_per_group * c.groups;
    float* staged = weight_gradient_dy(p, shared);
    const int valid = t.rows * c.out_width;
    const FastDivmod& span = vector_loads ? p.tile_pixels4_div : p.tile_pixels_div;
    const int width = vector_loads ? 4 : 1;
    const int count = t.images * c.out_per_group * static_cast<int>(span.divisor);
    for (int e = thread; e < count; e += threads) {
        const int unit_out = span.quotient(e);
        const int q = span.remainder(e, unit_out) * width;
        if (q >= valid) continue;
        const int image = p.out_div.quotient(unit_out);
        const int o = p.out_div.remainder(unit_out, image);
        const float* from = source + image * image_floats + o * out_plane + q;
        float* to = staged + image * p.dy_unit_pitch + o * p.dy_channel_pitch + q;
        if (vector_loads) {
            float v[4];
            load_global4(from, v);
            for (int k = 0; k < 4; ++k) to[k] = v[k];
        } else {
            *to = load_global(from);
        }
    }
}

// Phase 1 of each tile: the group's input windows and dL/dy of the tile.
WEFT_HOST_DEVICE void stage_weight_gradient_tile(const WeightGradPlan& p, const WeightGradBlock& b,
                                                 const WeightGradTile& t, const float* input,
                                                 const float* grad_output, float* shared, int thread,
                                                 int threads, bool vector_input, bool vector_grad_output) {
    const DirectConvolution& c = p.conv;
    const std::int64_t plane = std::int64_t{c.in_height} * c.in_width;
    WindowSource src;
    src.unit_stride = plane * c.in_per_group * c.groups;
    src.data = input + t.first_image * src.unit_stride + std::int64_t{b.group} * c.in_per_group * plane;
    src.plane = plane;
    src.units = t.images;
    src.row0 = t.first_row * c.stride_h - c.padding_h;
    src.col0 = -c.padding_w;
    stage_window(c, p.window, src, shared, thread, threads, vector_input);
    stage_weight_gradient_dy(p, b.group, t, grad_output, shared, thread, threads, vector_grad_output);
}

// One thread's work item and its running sums, in registers across all tiles of its chunk.
template <int OutBlock, int TapBlock>
struct WeightGradThread {
    float weight_sums[OutBlock][TapBlock];
    float bias_sums[OutBlock];
    int tap_offsets[TapBlock];  // 0 for taps past the kernel (their sums are dropped)
    int item;                   // within the group; -1 when the thread has none
    int lane;
    int first_out, channel, first_tap;
};

struct WorkItem {
    int first_out, channel, first_tap;
};

// Items are numbered (out block, tap block, channel), the channel fastest.
WEFT_HOST_DEVICE WorkItem work_item(const WeightGradPlan& p, int item) {
    const int out_tap = p.in_div.quotient(item);
    const int channel = p.in_div.remainder(item, out_tap);
    const int out_block = p.tap_blocks_div.quotient(out_tap);
    const int tap_block = p.tap_blocks_div.remainder(out_tap, out_block);
    return WorkItem{out_block * p.out_block, channel, tap_block * p.tap_block};
}

template <int OutBlock, int TapBlock>
WEFT_HOST_DEVICE void begin_weight_gradient(const WeightGradPlan& p, const WeightGradBlock& b, int thread,
                                            WeightGradThread<OutBlock, TapBlock>& s) {
    const int local = p.lanes_div.quotient(thread);
    s.lane = p.lanes_div.remainder(thread, local);
    s.item = b.slice * p.items_per_block + local;
    if (s.item >= p.items) s.item = -1;
    const WorkItem item = work_item(p, s.item < 0 ? 0 : s.item);
    s.first_out = item.first_out, s.channel = item.channel, s.first_tap = item.first_tap;
    WEFT_UNROLL
    for (int t = 0; t < TapBlock; ++t) {
        const int tap = s.first_tap + t;
        s.tap_offsets[t] = tap < p.conv.taps() ? tap_offset(p.conv, p.window, tap) : 0;
    }
    WEFT_UNROLL
    for (int o = 0; o < OutBlock; ++o) {
        s.bias_sums[o] = 0.f;
        WEFT_UNROLL
        for (int t = 0; t < TapBlock; ++t) s.weight_sums[o][t] = 0.f;
    }
}

// Phase 2 of each tile: every lanes-th pixel of the tile into the thread's sums.
template <int OutBlock, int TapBlock>
WEFT_HOST_DEVICE void accumulate_weight_gradient(const WeightGradPlan& p, const WeightGradTile& t,
                                                 float* shared, WeightGradThread<OutBlock, TapBlock>& s) {
    if (s.item < 0) return;
    const DirectConvolution& c = p.conv;
    const float* x = shared + s.channel * p.window.channel_pitch;
    const float* dy = weight_gradient_dy(p, shared) + s.first_out * p.dy_channel_pitch;
    const int pixels = p.tile_images * static_cast<int>(p.tile_pixels_div.divisor);
    const int row_pitch = c.stride_h * p.window.row_pitch;
    for (int pixel = s.lane; pixel < pixels; pixel += p.lanes) {
        const int image = p.tile_pixels_div.quotient(pixel);
        const int q = p.tile_pixels_div.remainder(pixel, image);
        const int row = p.out_width_div.quotient(q);
        const int col = p.out_width_div.remainder(q, row);
        if (image >= t.images || row >= t.rows) continue;
        const float* xp = x + image * p.window.unit_pitch + row * row_pitch + col;
        const float* dyp = dy + image * p.dy_unit_pitch + q;
        float d[OutBlock];
        WEFT_UNROLL
        for (int o = 0; o < OutBlock; ++o)
            d[o] = s.first_out + o < c.out_per_group ? dyp[o * p.dy_channel_pitch] : 0.f;
        WEFT_UNROLL
        for (int k = 0; k < TapBlock; ++k) {
            const float xv = xp[s.tap_offsets[k]];
            WEFT_UNROLL
            for (int o = 0; o < OutBlock; ++o)
                s.weight_sums[o][k] = multiply_add(d[o], xv, s.weight_sums[o][k]);
        }
        WEFT_UNROLL
        for (int o = 0; o < OutBlock; ++o) s.bias_sums[o] += d[o];
    }
}

// After the last tile: each thread's sums into shared memory, [thread][sums_per_thread].
template <int OutBlock, int TapBlock>
WEFT_HOST_DEVICE void store_lane_sums(const WeightGradPlan& p, const WeightGradThread<OutBlock, TapBlock>& s,
                                      float* shared, int thread) {
    float* mine = shared + thread * p.sums_per_thread;
    WEFT_UNROLL
    for (int o = 0; o < OutBlock; ++o) {
        WEFT_UNROLL
        for (int t = 0; t < TapBlock; ++t) mine[o * TapBlock + t] = s.weight_sums[o][t];
        mine[OutBlock * TapBlock + o] = s.bias_sums[o];
    }
}

// Then: each item's lanes summed in lane order, into the chunk's partial sums
// (partial[chunk][weights + out_channels]); the bias sums of the items of channel 0, tap block 0.
WEFT_HOST_DEVICE void sum_lanes(const WeightGradPlan& p, const WeightGradBlock& b, const float* shared,
                                float* partial, int thread, int threads) {
    const DirectConvolution& c = p.conv;
    const int per_item = p.sums_per_thread, weight_sums = p.out_block * p.tap_block;
    float* chunk = partial + std::int64_t{b.chunk} * (p.weights + c.groups * c.out_per_group);
    for (int index = thread; index < p.items_per_block * per_item; index += threads) {
        const int local = p.sums_div.quotient(index);
        const int j = p.sums_div.remainder(index, local);
        const int item_index = b.slice * p.items_per_block + local;
        if (item_index >= p.items) continue;
        float sum = 0.f;
        for (int lane = 0; lane < p.lanes; ++lane) sum += shared[(local * p.lanes + lane) * per_item + j];
        const WorkItem item = work_item(p, item_index);
        const int o = item.first_out + (j < weight_sums ? j / p.tap_block : j - weight_sums);
        if (o >= c.out_per_group) continue;
        const int out_channel = b.group * c.out_per_group + o;
        if (j >= weight_sums) {
            if (item.channel == 0 && item.first_tap == 0) chunk[p.weights + out_channel] = sum;
            continue;
        }
        const int tap = item.first_tap + j % p.tap_block;
        if (tap < c.taps())
            chunk[(std::int64_t{out_channel} * c.in_per_group + item.channel) * c.taps() + tap] = sum;
    }
}

// The second kernel, one thread per weight (and bias): the chunks' partial sums in chunk order.
WEFT_HOST_DEVICE void sum_chunks(const WeightGradPlan& p, const float* partial, float* grad_weight,
                                 float* grad_bias, int index) {
    const int out_channels = p.conv.groups * p.conv.out_per_group;
    const int stride = p.weights + out_channels;
    if (index >= stride || (index >= p.weights && grad_bias == nullptr)) return;
    float sum = 0.f;
    for (int chunk = 0; chunk < p.chunks; ++chunk) sum += partial[std::int64_t{chunk} * stride + index];
    if (index < p.weights) {
        grad_weight[index] = sum;
    } else {
        grad_bias[index - p.weights] = sum;
    }
}

// --- the instantiations: the kernels and the host emulation use the same set ---

// f(std::integral_constant<int, B>{}) for the forward plan's out_block B.
template <class F>
void with_out_block(int out_block, F&& f) {
    switch (out_block) {
        case 1: return f(std::integral_constant<int, 1>{});
        case 2: return f(std::integral_constant<int, 2>{});
        case 4: return f(std::integral_constant<int, 4>{});
        case 8: return f(std::integral_constant<int, 8>{});
        case 16: return f(std::integral_constant<int, 16>{});
    }
}

// f(std::integral_constant<int, B>{}, std::integral_constant<int, T>{}) for the weight-gradient plan's
// out_block B and tap_block T.
template <class F>
void with_weight_gradient_blocks(int out_block, int tap_block, F&& f) {
    const auto with_taps = [&](auto out) {
        switch (tap_block) {
            case 1: return f(out, std::integral_constant<int, 1>{});
            case 3: return f(out, std::integral_constant<int, 3>{});
            case 9: return f(out, std::integral_constant<int, 9>{});
        }
    };
    switch (out_block) {
        case 1: return with_taps(std::integral_constant<int, 1>{});
        case 2: return with_taps(std::integral_constant<int, 2>{});
        case 4: return with_taps(std::integral_constant<int, 4>{});
    }
}

}  // namespace weft::small_groups_cuda
