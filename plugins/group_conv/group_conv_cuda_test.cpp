// group_conv's CUDA kernels — cudnn (any geometry) and small_groups (groups of at most 16 channels) —
// against the CPU's oneDNN kernel, forward through the executor and backward straight through the
// kernels, on IGC's primary convolutions and random geometries; small_groups against cudnn at larger
// batches; cuDNN's algorithm cache across compilations. Which kernel takes which node is host logic
// and is tested wherever CUDA is built; the rest skips without a GPU.
//
// float32 tolerances: small_groups sums each output directly, in another order than oneDNN: 1e-4.
// cuDNN may choose FFT or Winograd algorithms, whose float32 error is larger: 1e-3. Gradients sum up
// to a few thousand products (all pixels of the batch): absolute 1e-3 (2e-3 for cuDNN).
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "conv_tensors.h"
#include "group_conv_reference.h"
#include "op_harness.h"
#include "weft/cuda/cuda_device.h"
#include "weft/cuda/cudnn_convolution.h"
#include "weft/error.h"
#include "weft/registry.h"

namespace {

using weft::Tensor;
using weft::testing::all_close;
using weft::testing::ConvCase;
using weft::testing::ConvTensors;
using weft::testing::igc_primary_convolutions;
using weft::testing::random_conv_tensors;
using weft::testing::run_op_backward;
using weft::testing::run_op_with_kernel;
using weft::testing::three_by_three_case;

struct Tolerance {
    double forward_rtol, forward_atol, gradient_rtol, gradient_atol;
};
constexpr Tolerance kSmallGroups{1e-4, 1e-4, 1e-4, 1e-3};
constexpr Tolerance kCudnn{1e-3, 1e-3, 1e-3, 2e-3};

// Random geometries: groups of 1-16 channels, 3x3 / 3x1 / 1x3 / 1x1 / 5x5 kernels, strides 1-3,
// padding 0-2, dilation 2, odd planes, bias; fused ReLU where asked.
std::vector<ConvCase> random_cases(std::uint64_t seed, int count, bool fused_relu) {
    weft::testing::RandomConvRanges ranges;
    ranges.max_groups = 4, ranges.stride_h = {1, 1, 2}, ranges.max_padding = 2;
    ranges.max_height = 19, ranges.max_width = 37;
    ranges.random_fused_relu = fused_relu;
    return weft::testing::random_conv_cases(seed, count, ranges);
}

// Groups wider than small_groups takes: IGC-L4M8's last stage, GPC-like dense convolutions, the stem.
std::vector<ConvCase> wide_group_cases() {
    ConvCase stem = three_by_three_case(2, 1, 3, 48, 32, 1);
    stem.bias = true;
    ConvCase dense = three_by_three_case(2, 2, 40, 24, 12, 2);
    dense.fused_relu = true;
    return {stem, dense, three_by_three_case(2, 1, 64, 64, 8, 1)};
}

// The kernel forced on the cuda backend against oneDNN on the cpu, forward (inference) only.
void expect_forward_matches_the_cpu(const std::string& kernel, const ConvCase& c, std::uint64_t seed,
                                    const Tolerance& tolerance) {
    SCOPED_TRACE(kernel + ": " + c.str());
    const ConvTensors t = random_conv_tensors(c, seed);
    const Tensor cuda =
        run_op_with_kernel(kernel, "group_conv", c.attrs(), {t.input}, t.params(c), 1, "cuda")[0];
    const Tensor cpu =
        run_op_with_kernel("onednn", "group_conv", c.attrs(), {t.input}, t.params(c), 1, "cpu")[0];
    EXPECT_TRUE(all_close(cuda, cpu, tolerance.forward_rtol, tolerance.forward_atol));
}

// One training forward and backward of `kernel` on `backend`.
weft::testing::BackwardResult backward(const std::string& kernel, const std::string& backend,
                                       const ConvCase& c, const ConvTensors& t) {
    return run_op_backward("group_conv", c.attrs(), {t.input}, {t.grad_output}, t.params(c), kernel, 1,
                           backend);
}

void expect_same_training_step(const weft::testing::BackwardResult& actual,
                               const weft::testing::BackwardResult& expected, const Tolerance& tolerance) {
    EXPECT_TRUE(
        all_close(actual.outputs[0], expected.outputs[0], tolerance.forward_rtol, tolerance.forward_atol));
    EXPECT_TRUE(all_close(actual.grad_inputs[0], expected.grad_inputs[0], tolerance.gradient_rtol,
                          tolerance.gradient_atol));
    ASSERT_EQ(actual.grad_params.size(), expected.grad_params.size());
    for (std::size_t p = 0; p < expected.grad_params.size(); ++p) {
        SCOPED_TRACE(p == 0 ? "dL/dW" : "dL/db");
        EXPECT_TRUE(all_close(actual.grad_params[p], expected.grad_params[p], tolerance.gradient_rtol,
                              tolerance.gradient_atol));
    }
}

void expect_backward_matches_the_cpu(const std::string& kernel, const ConvCase& c, std::uint64_t seed,
                                     const Tolerance& tolerance) {
    SCOPED_TRACE(kernel + ": " + c.str());
    const ConvTensors t = random_conv_tensors(c, seed);
    expect_same_training_step(backward(kernel, "cuda", c, t), backward("onednn", "cpu", c, t), tolerance);
}

class GroupConvCuda : public ::testing::Test {
protected:
    void SetUp() override { WEFT_SKIP_WITHOUT_CUDA(); }
};

// --- which kernel takes which node (host logic: needs CUDA built, not a GPU) ---

const weft::RegisteredKernel& cuda_kernel(const std::string& name) {
    for (const weft::RegisteredKernel* k : weft::testing::build_registry().kernels("group_conv", "cuda"))
        if (k->factory.name == name) return *k;
    throw weft::Error("no cuda group_conv kernel named " + name);
}

// Why `kernel` declines the case's node (empty: it takes it), asked with a cpu device: declining
// needs no GPU.
std::string declines(const std::string& kernel, const ConvCase& c, bool training) {
    const auto device = weft::testing::build_registry().create_device("cpu", {});
    const weft::testing::OpNode node =
        weft::testing::op_node("group_conv", c.attrs(), {weft::testing::f32(c.input_shape())});
    return cuda_kernel(kernel).factory.declines(node.config(*device, training));
}

TEST(GroupConvCudaKernels, SmallGroupsOutranksCudnnAndTakesEveryIgcPrimaryConvolutionUpToSixteenChannels) {
    EXPECT_EQ(cuda_kernel("small_groups").factory.priority, 10);
    EXPECT_EQ(cuda_kernel("cudnn").factory.priority, 0);
    for (const ConvCase& c : igc_primary_convolutions(256)) {
        SCOPED_TRACE(c.str());
        const bool narrow = c.in_channels / c.groups <= 16 && c.out_channels / c.groups <= 16;
        for (const bool training : {false, true}) {
            EXPECT_EQ(declines("small_groups", c, training).empty(), narrow);
            EXPECT_EQ(declines("cudnn", c, training), "");
        }
    }
}

TEST(GroupConvCudaKernels, BothDeclineTrainingAFusedReluAndSmallGroupsDeclinesWideGroups) {
    ConvCase c = three_by_three_case(2, 24, 2, 2, 32, 1);
    c.fused_relu = true;
    const std::string inference_only =
        "fused_relu is an inference-only rewrite (backward would need the ReLU's mask)";
    EXPECT_EQ(declines("small_groups", c, true), inference_only);
    EXPECT_EQ(declines("cudnn", c, true), inference_only);
    EXPECT_EQ(declines("small_groups", c, false), "");
    EXPECT_EQ(declines("cudnn", c, false), "");
    EXPECT_EQ(declines("small_groups", three_by_three_case(2, 1, 3, 48, 32, 1), false),
              "groups of 3 input and 48 output channels: at most 16 each");
}

// --- against the CPU ---

// Each kernel on what it takes: cudnn every IGC primary convolution, small_groups those of at most
// 16 channels a group; random geometries (groups of 1-16 channels) for both.
struct KernelUnderTest {
    std::string name;
    Tolerance tolerance;
    std::int64_t max_per_group;
};

class GroupConvCudaKernel : public ::testing::TestWithParam<KernelUnderTest> {
protected:
    void SetUp() override { WEFT_SKIP_WITHOUT_CUDA(); }
};

TEST_P(GroupConvCudaKernel, ForwardMatchesTheCpuOnTheIgcPrimaryConvolutions) {
    const KernelUnderTest& k = GetParam();
    std::uint64_t seed = 10;
    for (const ConvCase& c : igc_primary_convolutions(2, k.max_per_group))
        expect_forward_matches_the_cpu(k.name, c, seed += 4, k.tolerance);
}

TEST_P(GroupConvCudaKernel, ForwardMatchesTheCpuOnRandomGeometriesWithBiasAndFusedRelu) {
    const KernelUnderTest& k = GetParam();
    std::uint64_t seed = 100;
    for (const ConvCase& c : random_cases(77, 40, true))
        expect_forward_matches_the_cpu(k.name, c, seed += 4, k.tolerance);
}

TEST_P(GroupConvCudaKernel, GradientsMatchTheCpuOnTheIgcPrimaryConvolutionsAndRandomGeometries) {
    const KernelUnderTest& k = GetParam();
    std::uint64_t seed = 200;
    for (ConvCase c : igc_primary_convolutions(2, k.max_per_group)) {
        c.bias = seed % 8 == 0;
        expect_backward_matches_the_cpu(k.name, c, seed += 4, k.tolerance);
    }
    for (const ConvCase& c : random_cases(78, 30, false))
        expect_backward_matches_the_cpu(k.name, c, seed += 4, k.tolerance);
}

INSTANTIATE_TEST_SUITE_P(, GroupConvCudaKernel,
                         ::testing::Values(KernelUnderTest{"cudnn", kCudnn, 32},
                                           KernelUnderTest{"small_groups", kSmallGroups, 16}),
                         [](const auto& info) { return info.param.name; });

TEST_F(GroupConvCuda, CudnnMatchesTheCpuOnGroupsWiderThanSmallGroupsTakes) {
    std::uint64_t seed = 300;
    for (ConvCase c : wide_group_cases()) {
        expect_forward_matches_the_cpu("cudnn", c, seed += 4, kCudnn);
        c.fused_relu = false;  // inference only
        expect_backward_matches_the_cpu("cudnn", c, seed += 4, kCudnn);
    }
}

// --- the two CUDA kernels against each other, at batches that fill the GPU ---

TEST_F(GroupConvCuda, SmallGroupsAndCudnnAgreeOnTheIgcPrimaryConvolutionsAtBatch32) {
    std::uint64_t seed = 600;
    for (ConvCase c : igc_primary_convolutions(32, 16)) {
        c.bias = true;
        SCOPED_TRACE(c.str());
        const ConvTensors t = random_conv_tensors(c, seed += 4);
        expect_same_training_step(backward("small_groups", "cuda", c, t), backward("cudnn", "cuda", c, t),
                                  kCudnn);
        c.fused_relu = true;
        const Tensor small_groups =
            run_op_with_kernel("small_groups", "group_conv", c.attrs(), {t.input}, t.params(c), 1, "cuda")[0];
        const Tensor cudnn =
            run_op_with_kernel("cudnn", "group_conv", c.attrs(), {t.input}, t.params(c), 1, "cuda")[0];
        EXPECT_TRUE(all_close(small_groups, cudnn, kCudnn.forward_rtol, kCudnn.forward_atol));
    }
}

// The two-stage reduction adds in a fixed order: the same inputs give the same bits.
TEST_F(GroupConvCuda, SmallGroupsGradientsAreTheSameBitsEveryRun) {
    const ConvCase c = three_by_three_case(16, 24, 4, 4, 16, 1);
    const ConvTensors t = random_conv_tensors(c, 700);
    const auto first = backward("small_groups", "cuda", c, t);
    const auto second = backward("small_groups", "cuda", c, t);
    EXPECT_TRUE(all_close(first.grad_inputs[0], second.grad_inputs[0], 0, 0));
    EXPECT_TRUE(all_close(first.grad_params[0], second.grad_params[0], 0, 0));
}

// --- cuDNN's algorithm choice ---

TEST_F(GroupConvCuda, CudnnSearchesEachShapeAndDirectionOnceAndASecondCompilationFindsItsChoice) {
    const weft::ConvolutionGeometry g = weft::convolution_geometry(
        three_by_three_case(4, 24, 4, 8, 16, 2).attrs(), weft::testing::f32({4, 96, 16, 16}));
    const auto device = weft::testing::build_registry().create_device("cuda", {});
    weft::cuda::ConvolutionAlgorithmCache cache;
    const weft::cuda::CudnnConvolution first(g, weft::cuda::cuda_device(*device), /*training=*/true, cache);
    EXPECT_EQ(cache.searches(), 3u);  // forward, backward data, backward filter
    const weft::cuda::CudnnConvolution second(g, weft::cuda::cuda_device(*device), /*training=*/true, cache);
    EXPECT_EQ(cache.searches(), 3u);
    EXPECT_EQ(second.algorithms(), first.algorithms());
    const weft::cuda::CudnnConvolution inference(g, weft::cuda::cuda_device(*device), /*training=*/false,
                                                 cache);
    EXPECT_EQ(cache.searches(), 4u);  // the inference forward is a key of its own
    EXPECT_LE(first.workspace_bytes(), weft::cuda::CudnnConvolution::kMaxWorkspaceBytes);
}

}  // namespace
