// The sgd update on the CUDA backend: sgd_step.h's formula (the CPU kernel's), one launch per
// parameter on the device's stream, four elements per thread where the three tensors are 16-byte
// aligned.
#include <cstdint>
#include <memory>

#include "sgd_step.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"
#include "weft/plugin.h"

namespace {

using weft::sgd::Step;
using weft::sgd::update_one;

__global__ void sgd_kernel(float* __restrict__ w, float* __restrict__ v, const float* __restrict__ g,
                           std::int64_t n, Step step) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        update_one(w[i], v[i], g[i], step);
}

__global__ void sgd4_kernel(float4* __restrict__ w, float4* __restrict__ v, const float4* __restrict__ g,
                            std::int64_t n4, Step step) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n4; i += stride) {
        float4 weights = w[i], velocity = v[i];
        const float4 grad = g[i];
        update_one(weights.x, velocity.x, grad.x, step);
        update_one(weights.y, velocity.y, grad.y, step);
        update_one(weights.z, velocity.z, grad.z, step);
        update_one(weights.w, velocity.w, grad.w, step);
        w[i] = weights;
        v[i] = velocity;
    }
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

class SgdCuda final : public weft::OptimizerKernel {
public:
    explicit SgdCuda(const weft::OptimizerConfig& config)
        : device_(weft::cuda::cuda_device(config.device)), hyperparameters_(config.attrs) {}

    void update(const weft::ParameterUpdate& u) override {
        float* w = u.value.as<float>();
        float* v = u.state[0].as<float>();
        const float* g = u.grad.as<const float>();
        const std::int64_t n = u.value.numel();
        if (n <= 0) return;
        const Step step = hyperparameters_.step(u);
        const cudaStream_t stream = device_.stream();
        // The parameters' storage is 64-byte aligned, so in practice all of it goes four at a time.
        const std::int64_t n4 = aligned16(w) && aligned16(v) && aligned16(g) ? n / 4 : 0;
        if (n4 > 0) {
            const weft::cuda::LaunchShape shape = weft::cuda::elementwise_launch(n4, device_);
            sgd4_kernel<<<shape.blocks, shape.threads, 0, stream>>>(
                reinterpret_cast<float4*>(w), reinterpret_cast<float4*>(v), reinterpret_cast<const float4*>(g), n4, step);
            WEFT_CUDA_CHECK_LAUNCH("sgd4_kernel");
        }
        if (const std::int64_t rest = n - 4 * n4; rest > 0) {
            const weft::cuda::LaunchShape shape = weft::cuda::elementwise_launch(rest, device_);
            sgd_kernel<<<shape.blocks, shape.threads, 0, stream>>>(w + 4 * n4, v + 4 * n4, g + 4 * n4, rest, step);
            WEFT_CUDA_CHECK_LAUNCH("sgd_kernel");
        }
    }

private:
    weft::cuda::CudaDevice& device_;
    weft::sgd::Hyperparameters hyperparameters_;
};

}  // namespace

WEFT_PLUGIN("optimizer_sgd_cuda", "1.0") {
    registrar.add_optimizer_kernel(weft::optimizer_kernel_factory<SgdCuda>("sgd", "cuda", "vectorised"));
}
