// The cuda device and the backend plugin that registers it (see weft/cuda/cuda_device.h).
#include "weft/cuda/cuda_device.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "weft/cuda/cuda_check.h"
#include "weft/plugin.h"

namespace weft::cuda {
namespace {

// Host <-> device copies at graph boundaries go through two pinned buffers of this size in
// turn: the CPU fills one while the GPU drains the other.
constexpr std::size_t kStagingBytes = std::size_t{4} << 20;

std::string describe_bytes(std::size_t bytes) { return fmt::format("{:.1f} GiB", double(bytes) / double(1ull << 30)); }

// One caching allocator per GPU for the whole process, shared by every device object made for
// that GPU: the executors of a run come and go (the trainer compiles an evaluation graph every
// epoch) and each finds the blocks the last one gave back. Never destroyed: the driver reclaims
// device memory at exit, and the CUDA runtime may already be torn down when static objects are.
CachingAllocator& allocator_for(int device) {
    static std::mutex mutex;
    static std::map<int, CachingAllocator*> allocators;
    std::lock_guard lock(mutex);
    CachingAllocator*& allocator = allocators[device];
    if (!allocator)
        allocator = new CachingAllocator(
            [device](std::size_t bytes) {
                void* ptr = nullptr;
                WEFT_CUDA_CHECK(cudaSetDevice(device));
                if (const cudaError_t status = cudaMalloc(&ptr, bytes); status != cudaSuccess) {  // never managed
                    // The runtime keeps a failed allocation as its last error, which the next
                    // launch check would report as its own: clear it (the caller may retry).
                    (void)cudaGetLastError();
                    throw_cuda_error("cudaMalloc", __FILE__, __LINE__,
                                     fmt::format("{} ({} bytes)", cudaGetErrorString(status), bytes));
                }
                return ptr;
            },
            [](void* ptr) { cudaFree(ptr); });
    return *allocator;
}

}  // namespace

std::string unavailable_reason(int index) {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status == cudaErrorInsufficientDriver || (status == cudaErrorNoDevice && count == 0)) {
        (void)cudaGetLastError();  // clear the sticky status of the failed query
        return status == cudaErrorInsufficientDriver ? "no CUDA driver" : "no CUDA device";
    }
    if (status != cudaSuccess) {
        (void)cudaGetLastError();
        return fmt::format("the CUDA runtime cannot start: {}", cudaGetErrorString(status));
    }
    if (count == 0) return "no CUDA device";
    if (index >= count)
        return fmt::format("device cuda:{} does not exist: this machine has {} CUDA device{}", index, count,
                           count == 1 ? "" : "s");
    return {};
}

struct CudaDevice::Impl {
    int index = 0;
    cudaDeviceProp properties{};
    cudaStream_t stream = nullptr;
    cudnnHandle_t cudnn = nullptr;
    cublasHandle_t cublas = nullptr;
    std::array<void*, 2> staging{};  // pinned host memory
    std::array<cudaEvent_t, 2> staging_done{};  // the last copy out of each buffer has finished
    CachingAllocator* allocator = nullptr;       // this GPU's, shared (allocator_for)

    // Here rather than in ~CudaDevice so that a constructor that fails half-way releases what
    // it had made.
    ~Impl() {
        if (!stream) return;  // made first: without it there is nothing else either
        cudaSetDevice(index);
        cudaStreamSynchronize(stream);
        if (cudnn) cudnnDestroy(cudnn);
        if (cublas) cublasDestroy(cublas);
        for (std::size_t i = 0; i < staging.size(); ++i) {
            if (staging_done[i]) cudaEventDestroy(staging_done[i]);
            if (staging[i]) cudaFreeHost(staging[i]);
        }
        cudaStreamDestroy(stream);
    }
};

CudaDevice::CudaDevice(const DeviceOptions& options) : impl_(std::make_unique<Impl>()) {
    if (options.index < 0) throw Error(fmt::format("cuda device index {} is negative", options.index));
    if (const std::string why = unavailable_reason(options.index); !why.empty())
        throw Error(fmt::format("device 'cuda:{}' is not available: {}", options.index, why));
    Impl& s = *impl_;
    s.index = options.index;
    WEFT_CUDA_CHECK(cudaSetDevice(s.index));
    WEFT_CUDA_CHECK(cudaGetDeviceProperties(&s.properties, s.index));
    WEFT_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
    for (std::size_t i = 0; i < s.staging.size(); ++i) {
        WEFT_CUDA_CHECK(cudaMallocHost(&s.staging[i], kStagingBytes));
        WEFT_CUDA_CHECK(cudaEventCreateWithFlags(&s.staging_done[i], cudaEventDisableTiming));
    }
    s.allocator = &allocator_for(s.index);
}

CudaDevice::~CudaDevice() = default;

const std::string& CudaDevice::backend() const {
    static const std::string name = "cuda";
    return name;
}

std::string CudaDevice::description() const {
    const cudaDeviceProp& p = impl_->properties;
    const std::size_t cudnn = cudnnGetVersion();
    return fmt::format("cuda:{} ({}, sm_{}{}, {}, cuDNN {}.{}.{})", impl_->index, p.name, p.major, p.minor,
                       describe_bytes(p.totalGlobalMem), cudnn / 10000, cudnn % 10000 / 100, cudnn % 100);
}

void* CudaDevice::allocate(std::size_t bytes) { return impl_->allocator->allocate(bytes); }
void CudaDevice::deallocate(void* ptr) noexcept {
    // The block may serve another device object's stream next: nothing of this stream may still
    // be using it. Freeing is never on a hot path (a compiled graph frees once, at its end).
    if (ptr) cudaStreamSynchronize(impl_->stream);
    impl_->allocator->deallocate(ptr);
}

void CudaDevice::copy_from_host(void* dst, const void* src, std::size_t bytes) {
    Impl& s = *impl_;
    auto* to = static_cast<std::byte*>(dst);
    const auto* from = static_cast<const std::byte*>(src);
    for (std::size_t done = 0, k = 0; done < bytes; done += kStagingBytes, k ^= 1) {
        const std::size_t chunk = std::min(kStagingBytes, bytes - done);
        // The buffer's previous copy must have left before it is refilled.
        WEFT_CUDA_CHECK(cudaEventSynchronize(s.staging_done[k]));
        std::memcpy(s.staging[k], from + done, chunk);
        WEFT_CUDA_CHECK(cudaMemcpyAsync(to + done, s.staging[k], chunk, cudaMemcpyHostToDevice, s.stream));
        WEFT_CUDA_CHECK(cudaEventRecord(s.staging_done[k], s.stream));
    }
}

void CudaDevice::copy_to_host(void* dst, const void* src, std::size_t bytes) {
    Impl& s = *impl_;
    auto* to = static_cast<std::byte*>(dst);
    const auto* from = static_cast<const std::byte*>(src);
    for (std::size_t done = 0; done < bytes; done += kStagingBytes) {
        const std::size_t chunk = std::min(kStagingBytes, bytes - done);
        WEFT_CUDA_CHECK(cudaMemcpyAsync(s.staging[0], from + done, chunk, cudaMemcpyDeviceToHost, s.stream));
        WEFT_CUDA_CHECK(cudaStreamSynchronize(s.stream));
        std::memcpy(to + done, s.staging[0], chunk);
    }
}

void CudaDevice::fill_zero(void* dst, std::size_t bytes) {
    if (bytes) WEFT_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, impl_->stream));
}

void CudaDevice::synchronize() { WEFT_CUDA_CHECK(cudaStreamSynchronize(impl_->stream)); }

int CudaDevice::index() const { return impl_->index; }
cudaStream_t CudaDevice::stream() const { return impl_->stream; }
const cudaDeviceProp& CudaDevice::properties() const { return impl_->properties; }

cudnnHandle_t CudaDevice::cudnn() {
    if (!impl_->cudnn) {
        WEFT_CUDA_CHECK(cudnnCreate(&impl_->cudnn));
        WEFT_CUDA_CHECK(cudnnSetStream(impl_->cudnn, impl_->stream));
    }
    return impl_->cudnn;
}

cublasHandle_t CudaDevice::cublas() {
    if (!impl_->cublas) {
        WEFT_CUDA_CHECK(cublasCreate(&impl_->cublas));
        WEFT_CUDA_CHECK(cublasSetStream(impl_->cublas, impl_->stream));
        // float32 throughout: no TF32 unless a kernel asks for it, so results match the CPU's.
        WEFT_CUDA_CHECK(cublasSetMathMode(impl_->cublas, CUBLAS_DEFAULT_MATH));
    }
    return impl_->cublas;
}

CachingAllocator::Stats CudaDevice::allocator_stats() const { return impl_->allocator->stats(); }

CudaDevice& cuda_device(Device& device) {
    if (auto* cuda = dynamic_cast<CudaDevice*>(&device)) return *cuda;
    throw Error(fmt::format("a cuda kernel was given a '{}' device", device.backend()));
}

LaunchShape elementwise_launch(std::int64_t n, const CudaDevice& device) {
    constexpr std::int64_t threads = 256;
    const std::int64_t enough = std::int64_t{device.properties().multiProcessorCount} * 8;
    const std::int64_t blocks = std::clamp<std::int64_t>((n + threads - 1) / threads, 1, std::max<std::int64_t>(enough, 1));
    return LaunchShape{static_cast<unsigned>(blocks), static_cast<unsigned>(threads)};
}

}  // namespace weft::cuda

WEFT_PLUGIN("backend_cuda", "1.0") {
    weft::BackendFactory factory;
    factory.name = "cuda";
    factory.unavailable_reason = [] { return weft::cuda::unavailable_reason(); };
    factory.create = [](const weft::DeviceOptions& options) -> std::unique_ptr<weft::Device> {
        return std::make_unique<weft::cuda::CudaDevice>(options);
    };
    registrar.add_backend(std::move(factory));
}
