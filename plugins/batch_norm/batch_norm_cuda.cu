// The CUDA kernels of batch_norm, the same arithmetic as the cpu's direct kernel:
//
// - Per-channel sums over N·plane items (up to 256·32·32) in two steps: a grid of channels ×
//   slices of the batch, each block summing its slice in double, then one thread per channel
//   adding the slices in a fixed order (so the result is the same on every run). The forward
//   sums are shifted by the channel's first item, Σ(x − K) and Σ(x − K)², which keeps the
//   variance accurate however large the mean (no E[x²] − E[x]² cancellation).
// - Normalisation and dx as element-wise passes over the N·C planes, with per-channel
//   coefficients computed once per channel by the step before.
//
// Scratch (the workspace, valid for one call): the slices' partial sums, then the per-channel
// coefficients. Nothing is allocated here.
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "batch_norm_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/device_helpers.cuh"

namespace weft::batch_norm {
namespace {

// The workspace: partial sums [splits][channels][2] in double, then kCoefficientRows float
// arrays of one value per channel.
constexpr int kCoefficientRows = 3;

struct Workspace {
    double* partials;
    float* row[kCoefficientRows];
};

Workspace layout(const Geometry& g, void* workspace) {
    Workspace w{};
    w.partials = static_cast<double*>(workspace);
    auto* rows = reinterpret_cast<float*>(w.partials + 2 * g.splits * g.channels);
    for (int r = 0; r < kCoefficientRows; ++r) w.row[r] = rows + r * g.channels;
    return w;
}

// The affine map a channel's items go through, y = x·scale + shift with scale = γ·inv and
// shift = β − μ·scale, each step rounded on its own as the cpu computes it (no fused
// multiply-add): given the same statistics, both sides then agree on every sign the fused ReLU
// and its mask depend on.
struct Affine {
    float scale, shift;
    __device__ static Affine of(float gamma, float beta, float mean, float inv) {
        const float scale = __fmul_rn(gamma, inv);
        return Affine{scale, __fsub_rn(beta, __fmul_rn(mean, scale))};
    }
    __device__ float operator()(float x) const { return __fadd_rn(__fmul_rn(x, scale), shift); }
};

// Calls visit(offset) for the items x[n, c, 0..plane) of the images n that block (channel c,
// slice) owns: along y the images of its slice, along x the items of a plane.
template <class Visit>
__device__ void for_each_item_of_the_slice(const Geometry& g, std::int64_t c, Visit visit) {
    for (std::int64_t n = blockIdx.y * std::int64_t{blockDim.y} + threadIdx.y; n < g.batch;
         n += std::int64_t{gridDim.y} * blockDim.y) {
        const std::int64_t base = (n * g.channels + c) * g.plane;
        for (std::int64_t i = threadIdx.x; i < g.plane; i += blockDim.x) visit(base + i);
    }
}

// Block (c, slice)'s two sums, each reduced over the block, into its place in the partials.
__device__ void store_slice_sums(double first, double second, const Geometry& g, std::int64_t c, double* partials) {
    first = cuda::block_sum(first);
    second = cuda::block_sum(second);
    if (cuda::linear_thread() == 0) {
        double* out = partials + 2 * (blockIdx.y * g.channels + c);
        out[0] = first;
        out[1] = second;
    }
}

// Block (c, slice): Σ(x − K) and Σ(x − K)² over its slice of channel c, K = shifts[c·stride]:
// the channel's first item x[0, c, 0] (shifts = x, stride = plane) for the kernel's own batch,
// the running mean (stride 1), the same on every process, for a group's.
__global__ void statistics_kernel(const float* __restrict__ x, Geometry g, const float* __restrict__ shifts,
                                  std::int64_t stride, double* __restrict__ partials) {
    const std::int64_t c = blockIdx.x;
    const double shift = shifts[c * stride];
    double sum = 0, squares = 0;
    for_each_item_of_the_slice(g, c, [&](std::int64_t at) {
        const double d = static_cast<double>(x[at]) - shift;
        sum += d;
        squares += d * d;
    });
    store_slice_sums(sum, squares, g, c, partials);
}

// Channel c's two sums over all slices, added in slice order.
__device__ inline double2 slice_totals(const double* partials, const Geometry& g, std::int64_t c) {
    double2 total{0.0, 0.0};
    for (int s = 0; s < g.splits; ++s) {
        total.x += partials[2 * (s * g.channels + c)];
        total.y += partials[2 * (s * g.channels + c) + 1];
    }
    return total;
}

// Channel c's batch mean and variance from Σ(x − k) and Σ(x − k)² over `count` items: the saved
// statistics, the running statistics, and the affine map y = x·scale + shift for the
// normalisation pass.
__device__ inline void keep_statistics(std::int64_t c, double2 shifted_sums, std::int64_t count, double k,
                                       const Settings& settings, const Parameters& params,
                                       const BatchStatistics& saved, float* scale, float* shift) {
    const double shifted_mean = shifted_sums.x / static_cast<double>(count);
    const double var = fmax(shifted_sums.y / static_cast<double>(count) - shifted_mean * shifted_mean, 0.0);
    const float m = static_cast<float>(k + shifted_mean);
    const float inv = static_cast<float>(1.0 / sqrt(var + settings.eps));
    saved.mean[c] = m;
    saved.inv_std[c] = inv;
    const float unbias = count > 1 ? static_cast<float>(count) / static_cast<float>(count - 1) : 1.f;
    const float keep = settings.momentum, take = 1.f - settings.momentum;
    params.running_mean[c] = keep * params.running_mean[c] + take * m;
    params.running_var[c] = keep * params.running_var[c] + take * unbias * static_cast<float>(var);
    const Affine affine = Affine::of(params.weight[c], params.bias[c], m, inv);
    scale[c] = affine.scale;
    shift[c] = affine.shift;
}

// One thread per channel: keep_statistics from the slices' sums, shifted by the channel's first item.
__global__ void finalize_statistics_kernel(const float* __restrict__ x, Geometry g, Settings settings,
                                           const double* __restrict__ partials, Parameters params,
                                           BatchStatistics saved, float* __restrict__ scale,
                                           float* __restrict__ shift) {
    const std::int64_t c = cuda::first_index();
    if (c >= g.channels) return;
    keep_statistics(c, slice_totals(partials, g, c), g.batch * g.plane, static_cast<double>(x[c * g.plane]),
                    settings, params, saved, scale, shift);
}

// One thread per channel: the affine map of inference, from the running statistics.
__global__ void inference_affine_kernel(Geometry g, Settings settings, Parameters params, float* __restrict__ scale,
                                        float* __restrict__ shift) {
    const std::int64_t c = cuda::first_index();
    if (c >= g.channels) return;
    const float inv = static_cast<float>(1.0 / sqrt(static_cast<double>(params.running_var[c]) + settings.eps));
    const Affine affine = Affine::of(params.weight[c], params.bias[c], params.running_mean[c], inv);
    scale[c] = affine.scale;
    shift[c] = affine.shift;
}

// y = x·scale[c] + shift[c], then ReLU, over the N·C planes.
template <bool Relu>
__global__ void normalize_kernel(const float* __restrict__ x, float* __restrict__ y, Geometry g,
                                 const float* __restrict__ scale, const float* __restrict__ shift) {
    const std::int64_t planes = g.batch * g.channels;
    for (std::int64_t p = cuda::first_plane(); p < planes; p += cuda::plane_stride()) {
        const std::int64_t c = p % g.channels;
        const Affine affine{scale[c], shift[c]};
        const float* in = x + p * g.plane;
        float* out = y + p * g.plane;
        for (std::int64_t i = cuda::first_item(); i < g.plane; i += cuda::item_stride())
            out[i] = Relu ? fmaxf(affine(in[i]), 0.f) : affine(in[i]);
    }
}

// The incoming gradient where the fused ReLU let it through: its input x·scale + shift was
// positive (scale and shift from the batch statistics and the γ, β that forward used).
template <bool Relu>
__device__ inline float masked(float g, float x, const Affine& affine) {
    return Relu && !(affine(x) > 0.f) ? 0.f : g;
}

// Block (c, slice): Σ g and Σ g·(x − mean) over its slice of channel c, g masked by the ReLU.
template <bool Relu>
__global__ void gradient_sums_kernel(const float* __restrict__ x, const float* __restrict__ dy, Geometry g,
                                     Parameters params, BatchStatistics saved, double* __restrict__ partials) {
    const std::int64_t c = blockIdx.x;
    const float m = saved.mean[c];
    const Affine affine = Affine::of(params.weight[c], params.bias[c], m, saved.inv_std[c]);
    double sum_g = 0, sum_gx = 0;
    for_each_item_of_the_slice(g, c, [&](std::int64_t at) {
        const float gi = masked<Relu>(dy[at], x[at], affine);
        sum_g += gi;
        sum_gx += gi * (x[at] - m);
    });
    store_slice_sums(sum_g, sum_gx, g, c, partials);
}

// With x̂ = (x − μ)·inv: dγ = Σ g·x̂, dβ = Σ g, and per channel the coefficients of
// dx = k·(M·g − Σg − (x − μ)·c2), k = γ·inv/M, c2 = inv·Σ g·x̂.
struct DxCoefficients {
    float* k;
    float* sum_g;
    float* c2;
};

// Channel c's dγ and dβ from `own` (Σ g, Σ g·(x − μ) over this process's batch) and dx's
// coefficients from `all` (the same over the `count` items the statistics are over).
__device__ inline void keep_gradients(std::int64_t c, double2 own, double2 all, std::int64_t count,
                                      const Parameters& params, const BatchStatistics& saved,
                                      const Gradients& grads, const DxCoefficients& dx) {
    const float inv = saved.inv_std[c];
    grads.weight[c] = static_cast<float>(own.y) * inv;
    grads.bias[c] = static_cast<float>(own.x);
    grads.running_mean[c] = 0.f;
    grads.running_var[c] = 0.f;
    const float sgx = static_cast<float>(all.y) * inv;
    dx.k[c] = params.weight[c] * inv / static_cast<float>(count);
    dx.sum_g[c] = static_cast<float>(all.x);
    dx.c2[c] = inv * sgx;
}

__global__ void finalize_gradients_kernel(Geometry g, const double* __restrict__ partials, Parameters params,
                                          BatchStatistics saved, Gradients grads, DxCoefficients dx) {
    const std::int64_t c = cuda::first_index();
    if (c >= g.channels) return;
    const double2 sums = slice_totals(partials, g, c);  // Σ g, Σ g·(x − μ)
    keep_gradients(c, sums, sums, g.batch * g.plane, params, saved, grads, dx);
}

template <bool Relu>
__global__ void dx_kernel(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx, Geometry g,
                          Parameters params, BatchStatistics saved, DxCoefficients coefficients) {
    const std::int64_t planes = g.batch * g.channels;
    const float count = static_cast<float>(g.batch * g.plane * g.processes);
    for (std::int64_t p = cuda::first_plane(); p < planes; p += cuda::plane_stride()) {
        const std::int64_t c = p % g.channels;
        const float m = saved.mean[c];
        const Affine affine = Affine::of(params.weight[c], params.bias[c], m, saved.inv_std[c]);
        const float k = coefficients.k[c], sg = coefficients.sum_g[c], c2 = coefficients.c2[c];
        const std::int64_t base = p * g.plane;
        for (std::int64_t i = cuda::first_item(); i < g.plane; i += cuda::item_stride()) {
            const float xi = x[base + i];
            const float gi = masked<Relu>(dy[base + i], xi, affine);
            dx[base + i] = k * (count * gi - sg - (xi - m) * c2);
        }
    }
}

// One thread per channel, as finalize_statistics_kernel, from the group's sums `totals`
// ([channels][2]: Σ(x − K), Σ(x − K)² over every process's batch, K the running mean).
__global__ void finalize_group_statistics_kernel(Geometry g, Settings settings, const double* __restrict__ totals,
                                                 Parameters params, BatchStatistics saved,
                                                 float* __restrict__ scale, float* __restrict__ shift) {
    const std::int64_t c = cuda::first_index();
    if (c >= g.channels) return;
    keep_statistics(c, double2{totals[2 * c], totals[2 * c + 1]}, g.batch * g.plane * g.processes,
                    static_cast<double>(params.running_mean[c]), settings, params, saved, scale, shift);
}

// One thread per channel: dγ, dβ from this process's sums `own`, dx's coefficients from the
// group's `group` (each [channels][2]: Σ g, Σ g·(x − μ)).
__global__ void finalize_group_gradients_kernel(Geometry g, const double* __restrict__ own,
                                                const double* __restrict__ group, Parameters params,
                                                BatchStatistics saved, Gradients grads, DxCoefficients dx) {
    const std::int64_t c = cuda::first_index();
    if (c >= g.channels) return;
    keep_gradients(c, double2{own[2 * c], own[2 * c + 1]}, double2{group[2 * c], group[2 * c + 1]},
                   g.batch * g.plane * g.processes, params, saved, grads, dx);
}

unsigned channel_blocks(const Geometry& g) { return static_cast<unsigned>(cuda::ceil_div(g.channels, 128)); }

// The reductions' grid: one block per (channel, slice of the batch).
dim3 slice_grid(const Geometry& g) {
    return dim3(static_cast<unsigned>(g.channels), static_cast<unsigned>(g.splits));
}

void normalize(cuda::CudaDevice& device, const Geometry& g, bool relu, const float* x, float* y, const float* scale,
               const float* shift) {
    const cuda::PlaneGrid grid = cuda::plane_grid(g.batch * g.channels, g.plane, device);
    if (relu)
        normalize_kernel<true><<<cuda::grid_of(grid), cuda::block_of(grid), 0, device.stream()>>>(x, y, g, scale, shift);
    else
        normalize_kernel<false><<<cuda::grid_of(grid), cuda::block_of(grid), 0, device.stream()>>>(x, y, g, scale, shift);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm normalize_kernel");
}

// Backward's two passes over the items: the slices' Σ g and Σ g·(x − μ), then dx.
void gradient_sums(cuda::CudaDevice& device, const Geometry& g, bool relu, const float* x, const float* dy,
                   const Parameters& params, const BatchStatistics& saved, double* partials) {
    const dim3 block = cuda::block_of(cuda::plane_block(g.plane));
    if (relu)
        gradient_sums_kernel<true><<<slice_grid(g), block, 0, device.stream()>>>(x, dy, g, params, saved, partials);
    else
        gradient_sums_kernel<false><<<slice_grid(g), block, 0, device.stream()>>>(x, dy, g, params, saved, partials);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm gradient_sums_kernel");
}

void input_gradient(cuda::CudaDevice& device, const Geometry& g, bool relu, const float* x, const float* dy,
                    const Parameters& params, const BatchStatistics& saved, float* dx,
                    const DxCoefficients& coefficients) {
    const cuda::PlaneGrid planes = cuda::plane_grid(g.batch * g.channels, g.plane, device);
    const dim3 grid = cuda::grid_of(planes), block = cuda::block_of(planes);
    if (relu)
        dx_kernel<true><<<grid, block, 0, device.stream()>>>(x, dy, dx, g, params, saved, coefficients);
    else
        dx_kernel<false><<<grid, block, 0, device.stream()>>>(x, dy, dx, g, params, saved, coefficients);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm dx_kernel");
}

}  // namespace

Geometry make_geometry(std::int64_t batch, std::int64_t channels, std::int64_t plane, const cuda::CudaDevice& device) {
    Geometry g{batch, channels, plane, 1};
    // About four blocks per multiprocessor in all, each a slice of at least one image.
    const std::int64_t wanted = cuda::ceil_div(4 * std::int64_t{device.properties().multiProcessorCount}, channels);
    g.splits = static_cast<int>(std::clamp<std::int64_t>(wanted, 1, std::min<std::int64_t>(batch, cuda::kMaxGridY)));
    return g;
}

std::size_t workspace_bytes(const Geometry& g, bool training) {
    const std::size_t coefficients = kCoefficientRows * static_cast<std::size_t>(g.channels) * sizeof(float);
    if (!training) return coefficients;
    return 2 * static_cast<std::size_t>(g.splits) * static_cast<std::size_t>(g.channels) * sizeof(double) + coefficients;
}

void inference_forward(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x, float* y,
                       const Parameters& params, void* workspace) {
    auto* scale = static_cast<float*>(workspace);
    float* shift = scale + g.channels;
    inference_affine_kernel<<<channel_blocks(g), 128, 0, device.stream()>>>(g, settings, params, scale, shift);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm inference_affine_kernel");
    normalize(device, g, settings.relu, x, y, scale, shift);
}

void training_forward(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x, float* y,
                      const Parameters& params, const BatchStatistics& saved, void* workspace) {
    const Workspace w = layout(g, workspace);
    const cuda::PlaneGrid block = cuda::plane_block(g.plane);
    statistics_kernel<<<slice_grid(g), cuda::block_of(block), 0, device.stream()>>>(x, g, x, g.plane, w.partials);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm statistics_kernel");
    finalize_statistics_kernel<<<channel_blocks(g), 128, 0, device.stream()>>>(x, g, settings, w.partials, params,
                                                                                saved, w.row[0], w.row[1]);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm finalize_statistics_kernel");
    normalize(device, g, settings.relu, x, y, w.row[0], w.row[1]);
}

void backward(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x, const float* dy,
              const Parameters& params, const BatchStatistics& saved, const Gradients& grads, void* workspace) {
    const Workspace w = layout(g, workspace);
    const DxCoefficients coefficients{w.row[0], w.row[1], w.row[2]};
    cudaStream_t stream = device.stream();
    gradient_sums(device, g, settings.relu, x, dy, params, saved, w.partials);
    finalize_gradients_kernel<<<channel_blocks(g), 128, 0, stream>>>(g, w.partials, params, saved, grads, coefficients);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm finalize_gradients_kernel");
    input_gradient(device, g, settings.relu, x, dy, params, saved, grads.x, coefficients);
}

namespace {

// The slices' partial sums, added per channel in slice order on the host: [channels][2].
void channel_totals(cuda::CudaDevice& device, const Geometry& g, const double* partials, std::vector<double>& host) {
    const std::size_t per_slice = 2 * static_cast<std::size_t>(g.channels);
    host.resize(per_slice * (static_cast<std::size_t>(g.splits) + 1));
    double* slices = host.data() + per_slice;
    WEFT_CUDA_CHECK(cudaMemcpyAsync(slices, partials, per_slice * g.splits * sizeof(double), cudaMemcpyDeviceToHost,
                                    device.stream()));
    WEFT_CUDA_CHECK(cudaStreamSynchronize(device.stream()));
    std::fill_n(host.data(), per_slice, 0.0);
    for (int s = 0; s < g.splits; ++s)
        for (std::size_t i = 0; i < per_slice; ++i) host[i] += slices[s * per_slice + i];
}

void to_device(cuda::CudaDevice& device, double* dst, const double* src, std::size_t count) {
    WEFT_CUDA_CHECK(cudaMemcpyAsync(dst, src, count * sizeof(double), cudaMemcpyHostToDevice, device.stream()));
    // The host buffer is reused by the next call; the copy must be done with it by then.
    WEFT_CUDA_CHECK(cudaStreamSynchronize(device.stream()));
}

}  // namespace

std::size_t exchanged_bytes(const Geometry& g) { return 4 * static_cast<std::size_t>(g.channels) * sizeof(double); }

void training_forward_over_group(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x,
                                 float* y, const Parameters& params, const BatchStatistics& saved, void* workspace,
                                 Collective& group, double* exchanged, std::vector<double>& host) {
    const Workspace w = layout(g, workspace);
    const cuda::PlaneGrid block = cuda::plane_block(g.plane);
    statistics_kernel<<<slice_grid(g), cuda::block_of(block), 0, device.stream()>>>(x, g, params.running_mean, 1,
                                                                                     w.partials);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm statistics_kernel");
    channel_totals(device, g, w.partials, host);
    const std::size_t n = 2 * static_cast<std::size_t>(g.channels);
    group.sum(std::span<double>(host.data(), n));
    to_device(device, exchanged, host.data(), n);
    finalize_group_statistics_kernel<<<channel_blocks(g), 128, 0, device.stream()>>>(g, settings, exchanged, params,
                                                                                      saved, w.row[0], w.row[1]);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm finalize_group_statistics_kernel");
    normalize(device, g, settings.relu, x, y, w.row[0], w.row[1]);
}

void backward_over_group(cuda::CudaDevice& device, const Geometry& g, const Settings& settings, const float* x,
                         const float* dy, const Parameters& params, const BatchStatistics& saved,
                         const Gradients& grads, void* workspace, Collective& group, double* exchanged,
                         std::vector<double>& host) {
    const Workspace w = layout(g, workspace);
    const DxCoefficients coefficients{w.row[0], w.row[1], w.row[2]};
    cudaStream_t stream = device.stream();
    gradient_sums(device, g, settings.relu, x, dy, params, saved, w.partials);
    channel_totals(device, g, w.partials, host);
    const std::size_t n = 2 * static_cast<std::size_t>(g.channels);
    std::copy_n(host.data(), n, host.data() + n);  // [own | group's], the second summed over the group
    group.sum(std::span<double>(host.data() + n, n));
    to_device(device, exchanged, host.data(), 2 * n);
    finalize_group_gradients_kernel<<<channel_blocks(g), 128, 0, stream>>>(g, exchanged, exchanged + n, params, saved,
                                                                            grads, coefficients);
    WEFT_CUDA_CHECK_LAUNCH("batch_norm finalize_group_gradients_kernel");
    input_gradient(device, g, settings.relu, x, dy, params, saved, grads.x, coefficients);
}

}  // namespace weft::batch_norm
