// The CUDA kernels of relu: element-wise maps with float4 loads and stores where every pointer is
// 16-byte aligned, and a scalar pass over what is left (n mod 4 elements, or everything when a
// pointer is not aligned). Each element is read before it is written, so output and input may be
// the same buffer.
#include "relu_cuda.h"

#include "weft/cuda/cuda_check.h"
#include "weft/cuda/device_helpers.cuh"

namespace weft::relu {
namespace {

struct Relu {
    __device__ float operator()(float x) const { return x > 0.f ? x : 0.f; }
};

// The output alone decides the gradient: the input may be gone after an in-place forward.
struct ReluGradient {
    __device__ float operator()(float y, float dy) const { return y > 0.f ? dy : 0.f; }
};

template <class Op, class... Float4>
__device__ float4 lanewise(Op op, Float4... v) {
    return make_float4(op(v.x...), op(v.y...), op(v.z...), op(v.w...));
}

template <class Op, class... Inputs>
__global__ void map_kernel(float* out, std::int64_t n, Op op, const Inputs*... in) {
    for (std::int64_t i = cuda::first_index(); i < n; i += cuda::index_stride()) out[i] = op(in[i]...);
}

template <class Op, class... Inputs>
__global__ void map4_kernel(float4* out, std::int64_t n4, Op op, const Inputs*... in) {
    for (std::int64_t i = cuda::first_index(); i < n4; i += cuda::index_stride())
        out[i] = lanewise(op, reinterpret_cast<const float4*>(in)[i]...);
}

// out[i] = op(in[i]...) for i < n, on the device's stream.
template <class Op, class... Inputs>
void launch_map(cuda::CudaDevice& device, std::int64_t n, Op op, float* out, const Inputs*... in) {
    const std::int64_t n4 = cuda::aligned16(out, in...) ? n / 4 : 0;
    if (n4 > 0) {
        const cuda::LaunchShape shape = cuda::elementwise_launch(n4, device);
        map4_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(reinterpret_cast<float4*>(out), n4, op, in...);
        WEFT_CUDA_CHECK_LAUNCH("relu map4_kernel");
    }
    if (const std::int64_t rest = n - 4 * n4; rest > 0) {
        const cuda::LaunchShape shape = cuda::elementwise_launch(rest, device);
        map_kernel<<<shape.blocks, shape.threads, 0, device.stream()>>>(out + 4 * n4, rest, op, (in + 4 * n4)...);
        WEFT_CUDA_CHECK_LAUNCH("relu map_kernel");
    }
}

}  // namespace

void relu_forward(cuda::CudaDevice& device, const float* x, float* y, std::int64_t n) {
    launch_map(device, n, Relu{}, y, x);
}

void relu_backward(cuda::CudaDevice& device, const float* y, const float* dy, float* dx, std::int64_t n) {
    launch_map(device, n, ReluGradient{}, dx, y, dy);
}

}  // namespace weft::relu
