// CUDA kernel for fc: cublasSgemm on the device's handle and stream, row-major through the
// transpose trick (a row-major [r, c] matrix is a column-major [c, r] one, so y = x·Wᵀ is
// yᵀ = W·xᵀ in cuBLAS's terms), in float32 (no TF32), so results match the cpu's float32. The
// weights stay in their stored [out, F] layout; the input [N, ...] is read as [N, F].
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "fc_cuda.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

// cuBLAS counts in int.
int as_blas_extent(std::int64_t extent, const weft::KernelConfig& config, const char* what) {
    if (extent > std::numeric_limits<int>::max())
        throw weft::Error(fmt::format("node '{}': fc's {} {} exceeds cuBLAS's int extents", config.node_name, what,
                                      extent));
    return static_cast<int>(extent);
}

class FcCublas final : public weft::Kernel {
public:
    explicit FcCublas(const weft::KernelConfig& config)
        : device_(weft::cuda::cuda_device(config.device)),
          batch_(as_blas_extent(config.inputs[0].shape[0], config, "batch")),
          features_(as_blas_extent(config.inputs[0].numel() / config.inputs[0].shape[0], config, "feature count")),
          out_features_(as_blas_extent(config.attrs.get_int("out_features"), config, "out_features")),
          has_bias_(config.attrs.get_bool("bias")),
          training_(config.training) {
        device_.cublas();  // the handle is made now, not on the first batch
    }

    // y = x·Wᵀ (+ b): yᵀ[out, N] = W[out, F]·xᵀ[F, N], accumulated onto the broadcast bias.
    void forward(const weft::ForwardArgs& args) override {
        float* y = args.outputs[0].as<float>();
        if (has_bias_) weft::fc::fill_rows_with(device_, args.params[1].as<const float>(), y, batch_, out_features_);
        const float one = 1.f, beta = has_bias_ ? 1.f : 0.f;
        WEFT_CUDA_CHECK(cublasSgemm(float32_handle(), CUBLAS_OP_T, CUBLAS_OP_N, out_features_, batch_, features_, &one,
                                    args.params[0].as<const float>(), features_, args.inputs[0].as<const float>(),
                                    features_, &beta, y, out_features_));
    }

    bool has_backward() const override { return training_; }

    // dx = dy·W: dxᵀ[F, N] = Wᵀ[F, out]·dyᵀ[out, N]; dW = dyᵀ·x: dWᵀ[F, out] = xᵀ[F, N]·dy[N, out];
    // db = Σ_n dy[n, ·].
    void backward(const weft::BackwardArgs& args) override {
        const float* x = args.inputs[0].as<const float>();
        const float* w = args.params[0].as<const float>();
        const float* dy = args.grad_outputs[0].as<const float>();
        const float one = 1.f, zero = 0.f;
        cublasHandle_t handle = float32_handle();
        WEFT_CUDA_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, features_, batch_, out_features_, &one, w,
                                    features_, dy, out_features_, &zero, args.grad_inputs[0].as<float>(), features_));
        WEFT_CUDA_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, features_, out_features_, batch_, &one, x,
                                    features_, dy, out_features_, &zero, args.grad_params[0].as<float>(), features_));
        if (has_bias_) weft::fc::column_sums(device_, dy, args.grad_params[1].as<float>(), batch_, out_features_);
    }

private:
    // The device's handle, shared by every kernel on it: its math and pointer modes are set here
    // each time (host-side fields, no GPU work), so that whatever another kernel asked for, these
    // products stay float32 with host scalars.
    cublasHandle_t float32_handle() {
        cublasHandle_t handle = device_.cublas();
        WEFT_CUDA_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
        WEFT_CUDA_CHECK(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST));
        return handle;
    }

    weft::cuda::CudaDevice& device_;
    int batch_, features_, out_features_;
    bool has_bias_;
    bool training_;
};

}  // namespace

WEFT_PLUGIN("fc_cuda", "1.0") { registrar.add_kernel(weft::cuda::cuda_kernel_factory<FcCublas>("fc", "cublas")); }
