// group_conv_cuda_bench: the small-groups CUDA kernel against cuDNN on IGC's primary convolutions at
// the paper's batch, forward and backward (a training step's dL/dx, dL/dW), in milliseconds per call —
// CUDA events on the device's stream after a warm-up — with the forward's memory throughput and the
// largest difference between the two kernels' results. Not a test: it prints a Markdown table.
//
//   group_conv_cuda_bench [batch (256)] [iterations (20)]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "conv_tensors.h"
#include "group_conv_reference.h"
#include "op_harness.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"
#include "weft/kernel.h"
#include "weft/registry.h"

namespace {

using weft::Tensor;
using weft::TensorView;
using weft::testing::ConvCase;
using weft::testing::ConvTensors;

struct Measured {
    double forward_ms = 0, backward_ms = 0;
    Tensor output, grad_input, grad_weight;
};

// Milliseconds per call of `run`, `iterations` calls queued back to back on the stream.
double milliseconds_per_call(cudaStream_t stream, int iterations, const std::function<void()>& run) {
    cudaEvent_t start = nullptr, stop = nullptr;
    WEFT_CUDA_CHECK(cudaEventCreate(&start));
    WEFT_CUDA_CHECK(cudaEventCreate(&stop));
    WEFT_CUDA_CHECK(cudaEventRecord(start, stream));
    for (int i = 0; i < iterations; ++i) run();
    WEFT_CUDA_CHECK(cudaEventRecord(stop, stream));
    WEFT_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.f;
    WEFT_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return ms / iterations;
}

Measured measure(const std::string& kernel_name, const ConvCase& c, const ConvTensors& t,
                 weft::Device& device, int iterations) {
    const weft::testing::OpNode node =
        weft::testing::op_node("group_conv", c.attrs(), {weft::testing::f32(c.input_shape())});
    const weft::KernelConfig config = node.config(device, /*training=*/true);
    const weft::RegisteredKernel& registered = weft::testing::build_registry().select_kernel(
        "group_conv", "cuda", {{"group_conv", kernel_name}}, &config);
    if (registered.factory.name != kernel_name) throw weft::Error(kernel_name + " declines " + c.str());
    const std::unique_ptr<weft::Kernel> kernel = registered.factory.create(config);

    weft::testing::DeviceArena arena(device);
    const std::vector<TensorView> inputs{arena.upload(t.input)}, grad_outputs{arena.upload(t.grad_output)};
    const std::vector<TensorView> outputs{arena.zeros(node.outputs[0])},
        grad_inputs{arena.zeros(node.inputs[0])};
    std::vector<TensorView> params{arena.upload(t.weight)}, grad_params{arena.zeros(node.params[0].desc)};
    if (c.bias)
        params.push_back(arena.upload(t.bias)), grad_params.push_back(arena.zeros(node.params[1].desc));
    void* workspace = arena.allocate(kernel->workspace_bytes());
    const weft::ForwardArgs forward{inputs, outputs, params, workspace, nullptr};
    const weft::BackwardArgs backward{inputs, outputs,     grad_outputs, grad_inputs,
                                      params, grad_params, workspace,    nullptr};

    const cudaStream_t stream = weft::cuda::cuda_device(device).stream();
    kernel->forward(forward);  // warm-up
    kernel->backward(backward);
    device.synchronize();
    Measured m;
    m.forward_ms = milliseconds_per_call(stream, iterations, [&] { kernel->forward(forward); });
    m.backward_ms = milliseconds_per_call(stream, iterations, [&] { kernel->backward(backward); });
    m.output = arena.download(outputs[0]);
    m.grad_input = arena.download(grad_inputs[0]);
    m.grad_weight = arena.download(grad_params[0]);
    return m;
}

double largest_difference(const Tensor& a, const Tensor& b) {
    double largest = 0;
    for (std::int64_t i = 0; i < a.numel(); ++i)
        largest = std::max(largest, std::fabs(double(a.as<float>()[i]) - double(b.as<float>()[i])));
    return largest;
}

}  // namespace

int main(int argc, char** argv) {
    const std::int64_t batch = argc > 1 ? std::atoll(argv[1]) : 256;
    const int iterations = argc > 2 ? std::atoi(argv[2]) : 20;
    try {
        if (const std::string why = weft::testing::cuda_unavailable_reason(); !why.empty()) {
            std::printf("no GPU here: %s\n", why.c_str());
            return 0;
        }
        const auto device = weft::testing::build_registry().create_device("cuda", {});
        std::printf("%s, batch %lld, %d iterations\n\n", device->description().c_str(),
                    static_cast<long long>(batch), iterations);
        std::printf(
            "| convolution | forward ms small_groups / cudnn | forward GB/s | backward ms small_groups / "
            "cudnn | largest difference y, dx, dW |\n|---|---|---|---|---|\n");
        std::uint64_t seed = 1;
        for (const ConvCase& c : weft::testing::igc_primary_convolutions(batch, 16)) {
            const ConvTensors t = weft::testing::random_conv_tensors(c, seed += 4);
            const Measured ours = measure("small_groups", c, t, *device, iterations);
            const Measured cudnn = measure("cudnn", c, t, *device, iterations);
            const double bytes = double(t.input.bytes() + ours.output.bytes());
            std::printf(
                "| %lld groups %lld->%lld, %lldx%lld, stride %lld | %.3f / %.3f (%.2fx) | %.0f | %.3f / %.3f "
                "(%.2fx) | %.1e, %.1e, %.1e |\n",
                static_cast<long long>(c.groups), static_cast<long long>(c.in_channels / c.groups),
                static_cast<long long>(c.out_channels / c.groups), static_cast<long long>(c.height),
                static_cast<long long>(c.width), static_cast<long long>(c.stride_h), ours.forward_ms,
                cudnn.forward_ms, cudnn.forward_ms / ours.forward_ms, bytes / ours.forward_ms / 1e6,
                ours.backward_ms, cudnn.backward_ms, cudnn.backward_ms / ours.backward_ms,
                largest_difference(ours.output, cudnn.output),
                largest_difference(ours.grad_input, cudnn.grad_input),
                largest_difference(ours.grad_weight, cudnn.grad_weight));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "group_conv_cuda_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
