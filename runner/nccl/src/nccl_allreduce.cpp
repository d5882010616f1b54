#include "weft/nccl/nccl_allreduce.h"

#include <nccl.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"
#include "weft/error.h"

namespace weft::nccl {
namespace {

void check(ncclResult_t result, const char* call) {
    if (result != ncclSuccess)
        throw Error(fmt::format("{} failed: {}", call, ncclGetErrorString(result)));
}
#define WEFT_NCCL_CHECK(call) check((call), #call)

class NcclAllreduce final : public training::DeviceAllreduce {
public:
    NcclAllreduce(cuda::CudaDevice& device, training::Communicator& communicator) : device_(device) {
        WEFT_CUDA_CHECK(cudaSetDevice(device_.index()));
        ncclUniqueId id{};
        if (communicator.rank() == 0) WEFT_NCCL_CHECK(ncclGetUniqueId(&id));
        communicator.broadcast(std::as_writable_bytes(std::span(&id, 1)), 0);
        WEFT_NCCL_CHECK(ncclCommInitRank(&comm_, communicator.size(), id, communicator.rank()));
        // Its own stream, so that the sums run beside the backward kernels still to come; an
        // event orders each bucket after the kernels that wrote it.
        WEFT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        WEFT_CUDA_CHECK(cudaEventCreateWithFlags(&written_, cudaEventDisableTiming));
        int version = 0;
        WEFT_NCCL_CHECK(ncclGetVersion(&version));
        description_ = fmt::format("NCCL {}.{}.{}", version / 10000, version / 100 % 100, version % 100);
    }

    ~NcclAllreduce() override {
        cudaStreamSynchronize(stream_);
        ncclCommDestroy(comm_);
        for (Staging& s : staging_) device_.deallocate(s.data);
        cudaEventDestroy(written_);
        cudaStreamDestroy(stream_);
    }

    std::string description() const override { return description_; }

    void start_mean(std::span<const TensorView> gradients) override {
        std::size_t count = 0;
        for (const TensorView& g : gradients) {
            if (g.desc.dtype != DType::f32) throw Error("NCCL exchange: a gradient is not f32");
            count += static_cast<std::size_t>(g.desc.numel());
        }
        WEFT_CUDA_CHECK(cudaEventRecord(written_, device_.stream()));
        WEFT_CUDA_CHECK(cudaStreamWaitEvent(stream_, written_, 0));
        if (gradients.size() == 1) {  // in place
            void* values = gradients[0].data;
            WEFT_NCCL_CHECK(ncclAllReduce(values, values, count, ncclFloat, ncclAvg, comm_, stream_));
            return;
        }
        // Several tensors: packed end to end into a buffer of the bucket's own (one per bucket of
        // the step, allocated in the first step), summed, unpacked.
        float* packed = staging_for(count);
        std::size_t offset = 0;
        for (const TensorView& g : gradients) {
            WEFT_CUDA_CHECK(
                cudaMemcpyAsync(packed + offset, g.data, g.desc.bytes(), cudaMemcpyDeviceToDevice, stream_));
            offset += static_cast<std::size_t>(g.desc.numel());
        }
        WEFT_NCCL_CHECK(ncclAllReduce(packed, packed, count, ncclFloat, ncclAvg, comm_, stream_));
        offset = 0;
        for (const TensorView& g : gradients) {
            WEFT_CUDA_CHECK(
                cudaMemcpyAsync(g.data, packed + offset, g.desc.bytes(), cudaMemcpyDeviceToDevice, stream_));
            offset += static_cast<std::size_t>(g.desc.numel());
        }
    }

    void wait_all() override {
        WEFT_CUDA_CHECK(cudaStreamSynchronize(stream_));
        ncclResult_t async = ncclSuccess;
        WEFT_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
        WEFT_NCCL_CHECK(async);
        next_staging_ = 0;
    }

private:
    struct Staging {
        float* data = nullptr;
        std::size_t floats = 0;
    };

    float* staging_for(std::size_t count) {
        if (next_staging_ == staging_.size()) staging_.emplace_back();
        Staging& s = staging_[next_staging_++];
        if (s.floats < count) {
            // The buffer may still be read by the previous step's copies: wait_all synchronised.
            if (s.data) device_.deallocate(s.data);
            s.data = static_cast<float*>(device_.allocate(count * sizeof(float)));
            s.floats = count;
        }
        return s.data;
    }

    cuda::CudaDevice& device_;
    ncclComm_t comm_ = nullptr;
    cudaStream_t stream_ = nullptr;
    cudaEvent_t written_ = nullptr;
    std::vector<Staging> staging_;
    std::size_t next_staging_ = 0;
    std::string description_;
};

}  // namespace

std::unique_ptr<training::DeviceAllreduce> make_nccl_allreduce(Device& device,
                                                               training::Communicator& communicator) {
    return std::make_unique<NcclAllreduce>(cuda::cuda_device(device), communicator);
}

}  // namespace weft::nccl

extern "C" __attribute__((visibility("default"))) weft::training::DeviceAllreduce* weft_nccl_make_allreduce(
    weft::Device* device, weft::training::Communicator* communicator, char* error, std::size_t error_bytes) {
    try {
        return weft::nccl::make_nccl_allreduce(*device, *communicator).release();
    } catch (const std::exception& e) {
        if (error_bytes > 0) {
            const std::size_t n = std::min(std::strlen(e.what()), error_bytes - 1);
            std::memcpy(error, e.what(), n);
            error[n] = '\0';
        }
        return nullptr;
    }
}
