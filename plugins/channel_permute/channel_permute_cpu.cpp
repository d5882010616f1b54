// CPU kernel for channel_permute: a gather of whole H·W planes.
//
// Row-major NCHW keeps each channel's plane contiguous, so the permutation of Eq. 2/4 is one
// memcpy per (image, channel) pair: every read and write is a long sequential run, and the N·C
// copies are independent, which is what the OpenMP loop splits.
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "weft/channel_permutation.h"
#include "weft/cpu/cpu_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

// Bytes of one channel of one image: the product of the dimensions after C (1 for [N, C]).
std::size_t plane_bytes(const weft::TensorDesc& desc) {
    const weft::Shape spatial(desc.shape.begin() + 2, desc.shape.end());
    return static_cast<std::size_t>(weft::shape_numel(spatial)) * weft::dtype_size(desc.dtype);
}

class ChannelPermuteCpu final : public weft::Kernel {
public:
    explicit ChannelPermuteCpu(const weft::KernelConfig& config)
        : batch_(config.inputs[0].shape[0]),
          channels_(config.inputs[0].shape[1]),
          destination_(weft::channel_permutation::shuffle(channels_, config.attrs.get_int("groups"))),
          plane_bytes_(plane_bytes(config.inputs[0])),
          device_(weft::cpu::cpu_device(config.device)) {
        if (config.in_place)
            throw weft::Error(
                fmt::format("node '{}': channel_permute cannot run in place", config.node_name));
    }

    void forward(const weft::ForwardArgs& args) override {
        move_planes(args.inputs[0].data, args.outputs[0].data, /*inverse=*/false);
    }

    bool has_backward() const override { return true; }

    // P is a permutation, so its gradient is P^T = P^-1: each channel's gradient goes back to
    // where the channel came from.
    void backward(const weft::BackwardArgs& args) override {
        move_planes(args.grad_outputs[0].data, args.grad_inputs[0].data, /*inverse=*/true);
    }

private:
    // Forward: dst[destination[c]] = src[c]; inverse: dst[c] = src[destination[c]].
    void move_planes(const void* source, void* destination, bool inverse) const {
        const auto* src = static_cast<const std::byte*>(source);
        auto* dst = static_cast<std::byte*>(destination);
        const std::int64_t copies = batch_ * channels_;
        const int threads = device_.threads_now();
        // One image's planes at a time to whichever thread is free: a preempted thread holds up
        // one image, not half the batch (each copy has its own destination).
        const std::int64_t chunk = channels_ > 0 ? channels_ : 1;
#pragma omp parallel for num_threads(threads) schedule(dynamic, chunk) if (threads > 1)
        for (std::int64_t k = 0; k < copies; ++k) {
            const std::int64_t n = k / channels_;
            const std::int64_t in_c = k % channels_;
            const std::int64_t out_c = destination_[in_c];
            const std::int64_t to = inverse ? in_c : out_c;
            const std::int64_t from = inverse ? out_c : in_c;
            std::memcpy(dst + static_cast<std::size_t>(n * channels_ + to) * plane_bytes_,
                        src + static_cast<std::size_t>(n * channels_ + from) * plane_bytes_,
                        plane_bytes_);
        }
    }

    std::int64_t batch_;
    std::int64_t channels_;
    std::vector<std::int64_t> destination_;  // the schema's map: input channel c -> destination_[c]
    std::size_t plane_bytes_;
    weft::cpu::CpuDevice& device_;
};

}  // namespace

WEFT_PLUGIN("channel_permute_cpu", "1.0") {
    registrar.add_kernel(weft::kernel_factory<ChannelPermuteCpu>("channel_permute", "cpu", "native"));
}
