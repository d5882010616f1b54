// pointwise_conv's CUDA kernel (cuDNN) against the CPU's oneDNN kernel, forward through the executor
// and backward straight through the kernels, on IGC's secondary convolutions, residual projections
// and random geometries. Skips without a GPU.
//
// float32 tolerances as group_conv's cuDNN kernel: 1e-3 (cuDNN's GEMMs sum in another order, and it
// may choose an FFT); gradients, summed over all pixels of the batch, 2e-3 absolute.
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "conv_tensors.h"
#include "op_harness.h"
#include "pointwise_conv_case.h"
#include "weft/registry.h"

namespace {

using weft::Tensor;
using weft::testing::all_close;
using weft::testing::PointwiseCase;

constexpr double kRtol = 1e-3, kAtol = 1e-3, kGradientAtol = 2e-3;

PointwiseCase secondary(std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups,
                        std::int64_t size, std::int64_t stride) {
    PointwiseCase c;
    c.batch = 2, c.in_channels = in_channels, c.out_channels = out_channels, c.groups = groups;
    c.height = c.width = size;
    c.stride_h = c.stride_w = stride;
    return c;
}

// IGC-L24M2's secondary convolutions (2, 4, 8 partitions of 24 channels at 32, 16, 8 pixels) and
// IGC-L4M8's (8, 16, 32 partitions of 4); a residual projection (L = 24 groups, stride 2); GPC's
// dense 1x1 with a bias.
std::vector<PointwiseCase> igc_cases() {
    PointwiseCase dense = secondary(48, 48, 1, 32, 1);
    dense.bias = true;
    return {secondary(48, 48, 2, 32, 1),  secondary(96, 96, 4, 16, 1),
            secondary(192, 192, 8, 8, 1), secondary(32, 32, 8, 32, 1),
            secondary(64, 64, 16, 16, 1), secondary(128, 128, 32, 8, 1),
            secondary(48, 96, 24, 32, 2), dense};
}

std::vector<PointwiseCase> random_cases(std::uint64_t seed, int count) {
    std::mt19937_64 rng(seed);
    std::vector<PointwiseCase> cases;
    for (int i = 0; i < count; ++i) cases.push_back(weft::testing::random_pointwise_case(rng, 24));
    return cases;
}

void expect_cuda_matches_the_cpu(const PointwiseCase& c, std::uint64_t seed) {
    SCOPED_TRACE(c.str());
    const weft::testing::ConvTensors t = weft::testing::random_conv_tensors(c, seed);
    const Tensor cuda = weft::testing::run_op("pointwise_conv", c.attrs(), {t.input}, t.params(c), "cuda")[0];
    const Tensor cpu = weft::testing::run_op("pointwise_conv", c.attrs(), {t.input}, t.params(c), "cpu")[0];
    EXPECT_TRUE(all_close(cuda, cpu, kRtol, kAtol));
    const auto step = [&](const char* backend) {
        return weft::testing::run_op_backward("pointwise_conv", c.attrs(), {t.input}, {t.grad_output},
                                              t.params(c), {}, 1, backend);
    };
    const auto cuda_step = step("cuda"), cpu_step = step("cpu");
    EXPECT_TRUE(all_close(cuda_step.grad_inputs[0], cpu_step.grad_inputs[0], kRtol, kGradientAtol));
    for (std::size_t p = 0; p < cpu_step.grad_params.size(); ++p)
        EXPECT_TRUE(all_close(cuda_step.grad_params[p], cpu_step.grad_params[p], kRtol, kGradientAtol));
}

TEST(PointwiseConvCudaKernels, CudnnIsTheCudaKernel) {
    const auto kernels = weft::testing::build_registry().kernels("pointwise_conv", "cuda");
    ASSERT_EQ(kernels.size(), 1u);
    EXPECT_EQ(kernels.front()->factory.name, "cudnn");
}

class PointwiseConvCuda : public ::testing::Test {
protected:
    void SetUp() override { WEFT_SKIP_WITHOUT_CUDA(); }
};

TEST_F(PointwiseConvCuda, CudnnMatchesTheCpuOnTheIgcSecondaryConvolutionsAndProjections) {
    std::uint64_t seed = 10;
    for (const PointwiseCase& c : igc_cases()) expect_cuda_matches_the_cpu(c, seed += 4);
}

TEST_F(PointwiseConvCuda, CudnnMatchesTheCpuOnRandomGeometries) {
    std::uint64_t seed = 100;
    for (const PointwiseCase& c : random_cases(2017, 30)) expect_cuda_matches_the_cpu(c, seed += 4);
}

}  // namespace
