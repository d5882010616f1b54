// CUDA kernel for channel_permute: the permutation of Eq. 2/4 as a gather of whole H·W planes
// (channel_permute_cuda.cu). The schema's map (input channel c goes to destination[c]) is turned
// into two gather tables when the node is compiled and kept in device memory: forward, output
// channel d reads input channel source[d] (source = destination⁻¹); backward, P's gradient is
// P⁻¹, so input gradient c reads output gradient destination[c].
#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include "channel_permute_cuda.h"
#include "weft/channel_permutation.h"
#include "weft/cuda/cuda_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

// Forward table (destination⁻¹) then backward table (destination), as the kernel's int32.
std::vector<std::int32_t> gather_tables(const std::vector<std::int64_t>& destination) {
    const std::size_t channels = destination.size();
    std::vector<std::int32_t> tables(2 * channels);
    for (std::size_t c = 0; c < channels; ++c) {
        tables[static_cast<std::size_t>(destination[c])] = static_cast<std::int32_t>(c);
        tables[channels + c] = static_cast<std::int32_t>(destination[c]);
    }
    return tables;
}

// Items of one plane: the product of the dimensions after C (1 for [N, C]).
std::int64_t plane_items(const weft::TensorDesc& desc) {
    return weft::shape_numel(weft::Shape(desc.shape.begin() + 2, desc.shape.end()));
}

class ChannelPermuteCuda final : public weft::Kernel {
public:
    explicit ChannelPermuteCuda(const weft::KernelConfig& config)
        : device_(weft::cuda::cuda_device(config.device)),
          batch_(config.inputs[0].shape[0]),
          channels_(config.inputs[0].shape[1]),
          plane_items_(plane_items(config.inputs[0])) {
        if (config.in_place)
            throw weft::Error(fmt::format("node '{}': channel_permute cannot run in place", config.node_name));
        const std::vector<std::int32_t> tables =
            gather_tables(weft::channel_permutation::shuffle(channels_, config.attrs.get_int("groups")));
        tables_ = static_cast<std::int32_t*>(device_.allocate(tables.size() * sizeof(std::int32_t)));
        device_.copy_from_host(tables_, tables.data(), tables.size() * sizeof(std::int32_t));
    }
    ~ChannelPermuteCuda() override { device_.deallocate(tables_); }
    ChannelPermuteCuda(const ChannelPermuteCuda&) = delete;
    ChannelPermuteCuda& operator=(const ChannelPermuteCuda&) = delete;

    void forward(const weft::ForwardArgs& args) override {
        weft::channel_permute::gather_planes(device_, args.inputs[0].as<const float>(), args.outputs[0].as<float>(),
                                             tables_, batch_, channels_, plane_items_);
    }

    bool has_backward() const override { return true; }

    void backward(const weft::BackwardArgs& args) override {
        weft::channel_permute::gather_planes(device_, args.grad_outputs[0].as<const float>(),
                                             args.grad_inputs[0].as<float>(), tables_ + channels_, batch_, channels_,
                                             plane_items_);
    }

private:
    weft::cuda::CudaDevice& device_;
    std::int64_t batch_, channels_, plane_items_;
    std::int32_t* tables_ = nullptr;  // device memory: forward table, then backward table
};

}  // namespace

WEFT_PLUGIN("channel_permute_cuda", "1.0") {
    registrar.add_kernel(weft::cuda::cuda_kernel_factory<ChannelPermuteCuda>("channel_permute", "native"));
}
