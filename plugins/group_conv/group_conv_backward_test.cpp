// group_conv backward on the CPU: dL/dx, dL/dW and dL/db of both kernels (onednn, small_groups)
// against central differences of L = sum(y * r) through the naive convolution of
// group_conv_reference.h (paper Eq. 1), so dL/dy = r.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <omp.h>

#include "group_conv_reference.h"
#include "group_conv_small_groups_isa.h"
#include "op_harness.h"

namespace {

using weft::Tensor;
using weft::testing::all_close;
using weft::testing::ConvCase;
using weft::testing::random_conv_case;
using weft::testing::RandomConvRanges;
using weft::testing::ForcedIsa;
using weft::testing::missing_isa;
using weft::testing::numeric_gradient;
using weft::testing::random_tensor;
using weft::testing::reference_group_conv;
using weft::testing::run_op_backward;
using weft::testing::throws_error_containing;
using weft::testing::weighted_sum;

constexpr float kStep = 1e-2f;
// L is linear in each variable, so central differences are exact but for f32 rounding of the
// reference's outputs; the tolerance covers that and the kernels' f32 accumulation.
constexpr double kRtol = 1e-2, kAtol = 1e-3;

const std::vector<std::string> kKernels = {"onednn", "small_groups"};

ConvCase conv_case(std::int64_t batch, std::int64_t groups, std::int64_t in_per_group,
                   std::int64_t out_per_group, std::int64_t kernel_h, std::int64_t kernel_w,
                   std::int64_t stride, std::int64_t padding, bool bias) {
    ConvCase c;
    c.batch = batch, c.groups = groups;
    c.in_channels = groups * in_per_group, c.out_channels = groups * out_per_group;
    c.height = 6, c.width = 5;
    c.kernel_h = kernel_h, c.kernel_w = kernel_w;
    c.stride_h = c.stride_w = stride;
    c.padding_h = c.padding_w = padding;
    c.bias = bias;
    return c;
}

// As conv_case, on a height x width plane.
ConvCase sized(ConvCase c, std::int64_t height, std::int64_t width) {
    c.height = height, c.width = width;
    return c;
}

// Groups 1/2/4 with 1-4 channels a group, strides 1/2, padding 0/1, 3x3, 1x1 and 3x1 kernels,
// with and without bias, odd planes and IGC's groups of 2 and 4 channels on planes wider than
// a vector; every batch above 1.
std::vector<ConvCase> gradient_cases() {
    return {
        sized(conv_case(2, 3, 2, 2, 3, 3, 1, 1, true), 7, 9),
        sized(conv_case(2, 3, 2, 2, 3, 3, 2, 1, false), 9, 7),
        sized(conv_case(2, 2, 4, 4, 3, 3, 1, 0, false), 5, 19),
        sized(conv_case(3, 2, 2, 4, 3, 3, 2, 0, true), 11, 17),
        conv_case(2, 1, 3, 2, 3, 3, 1, 1, true),   conv_case(2, 2, 2, 2, 3, 3, 1, 1, false),
        conv_case(3, 4, 1, 1, 3, 3, 2, 1, true),   conv_case(2, 4, 2, 3, 3, 3, 2, 0, false),
        conv_case(2, 2, 4, 1, 1, 1, 1, 0, true),   conv_case(2, 4, 3, 2, 1, 1, 2, 0, false),
        conv_case(2, 2, 1, 4, 3, 1, 1, 1, true),   conv_case(3, 1, 2, 3, 3, 1, 2, 0, false),
        conv_case(2, 4, 4, 4, 3, 3, 1, 0, true),   conv_case(2, 2, 3, 1, 1, 1, 1, 1, true),
    };
}

struct Gradients {
    Tensor input, weight, bias;  // bias empty when the case has none
};

// Central differences of L = sum(reference(x, W, b) * r) with respect to x, W and b.
Gradients numerical_gradients(const ConvCase& c, Tensor& input, Tensor& weight, Tensor& bias,
                              const Tensor& r) {
    const auto loss = [&] {
        return weighted_sum({reference_group_conv(c, input, weight, c.bias ? &bias : nullptr)},
                            {r});
    };
    Gradients g;
    g.input = numeric_gradient(input, loss, kStep);
    g.weight = numeric_gradient(weight, loss, kStep);
    if (c.bias) g.bias = numeric_gradient(bias, loss, kStep);
    return g;
}

// One training forward and backward of `kernel` with dL/dy = r.
weft::testing::BackwardResult kernel_backward(const ConvCase& c, const std::string& kernel,
                                              const Tensor& input, const Tensor& weight,
                                              const Tensor& bias, const Tensor& r) {
    weft::WeightMap params{{"weight", weight}};
    if (c.bias) params["bias"] = bias;
    return run_op_backward("group_conv", c.attrs(), {input}, {r}, params, kernel);
}

TEST(GroupConvBackward, BothKernelsMatchCentralDifferencesOfTheLossForInputWeightAndBias) {
    std::uint64_t seed = 500;
    for (const ConvCase& c : gradient_cases()) {
        SCOPED_TRACE(c.str());
        Tensor input = random_tensor(c.input_shape(), ++seed);
        Tensor weight = random_tensor(c.weight_shape(), ++seed);
        Tensor bias = random_tensor({c.out_channels}, ++seed);
        const Tensor r = random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()},
                                       ++seed);
        const Gradients expected = numerical_gradients(c, input, weight, bias, r);
        for (const std::string& kernel : kKernels) {
            SCOPED_TRACE("kernel " + kernel);
            const auto result = kernel_backward(c, kernel, input, weight, bias, r);
            ASSERT_EQ(result.grad_inputs.size(), 1u);
            ASSERT_EQ(result.grad_params.size(), c.bias ? 2u : 1u);
            const Tensor* b = c.bias ? &bias : nullptr;
            EXPECT_TRUE(all_close(result.outputs[0], reference_group_conv(c, input, weight, b)));
            EXPECT_TRUE(all_close(result.grad_inputs[0], expected.input, kRtol, kAtol));
            EXPECT_TRUE(all_close(result.grad_params[0], expected.weight, kRtol, kAtol));
            if (c.bias) EXPECT_TRUE(all_close(result.grad_params[1], expected.bias, kRtol, kAtol));
        }
    }
}

TEST(GroupConvBackward, SmallGroupsAndOnednnKernelsGiveTheSameGradients) {
    std::uint64_t seed = 700;
    for (const ConvCase& c : gradient_cases()) {
        SCOPED_TRACE(c.str());
        const Tensor input = random_tensor(c.input_shape(), ++seed);
        const Tensor weight = random_tensor(c.weight_shape(), ++seed);
        const Tensor bias = random_tensor({c.out_channels}, ++seed);
        const Tensor r = random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()},
                                       ++seed);
        const auto onednn = kernel_backward(c, "onednn", input, weight, bias, r);
        const auto small_groups = kernel_backward(c, "small_groups", input, weight, bias, r);
        // In training the small-groups kernel computes the forward and backward itself (oneDNN
        // only dL/dx at strides above 1).
        EXPECT_TRUE(all_close(small_groups.outputs[0], onednn.outputs[0]));
        EXPECT_TRUE(all_close(small_groups.grad_inputs[0], onednn.grad_inputs[0]));
        for (std::size_t p = 0; p < onednn.grad_params.size(); ++p) {
            EXPECT_TRUE(all_close(small_groups.grad_params[p], onednn.grad_params[p]));
        }
    }
}

// dL/dx, dL/dW, dL/db of small_groups equal oneDNN's on each instruction-set path: IGC-L24M2's
// 3x3 shapes (groups of 2 and 4, stride 1 and 2) and random geometries (groups of 1-16
// channels, 3x3 / 3x1 / 1x3 / 1x1 / 5x5 kernels, strides 1-3, padding 0-2, sometimes dilation
// 2, odd planes on both sides of the vector widths).
class GroupConvBackwardIsa : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (const std::string why = missing_isa(GetParam()); !why.empty()) GTEST_SKIP() << why;
    }
};

void expect_same_gradients_as_onednn(const ConvCase& c, std::uint64_t seed) {
    SCOPED_TRACE(c.str());
    const Tensor input = random_tensor(c.input_shape(), seed);
    const Tensor weight = random_tensor(c.weight_shape(), seed + 1);
    const Tensor bias = random_tensor({c.out_channels}, seed + 2);
    const Tensor r = random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()},
                                   seed + 3);
    const auto onednn = kernel_backward(c, "onednn", input, weight, bias, r);
    const auto small_groups = kernel_backward(c, "small_groups", input, weight, bias, r);
    EXPECT_TRUE(all_close(small_groups.grad_inputs[0], onednn.grad_inputs[0]));
    for (std::size_t p = 0; p < onednn.grad_params.size(); ++p) {
        EXPECT_TRUE(all_close(small_groups.grad_params[p], onednn.grad_params[p]));
    }
}

TEST_P(GroupConvBackwardIsa, SmallGroupsGivesOnednnsGradientsOnTheIgcShapes) {
    const ForcedIsa forced(GetParam());
    expect_same_gradients_as_onednn(sized(conv_case(2, 24, 2, 2, 3, 3, 1, 1, false), 32, 32), 1);
    expect_same_gradients_as_onednn(sized(conv_case(2, 24, 2, 4, 3, 3, 2, 1, true), 32, 32), 2);
    expect_same_gradients_as_onednn(sized(conv_case(2, 24, 4, 4, 3, 3, 1, 1, false), 16, 16), 3);
    expect_same_gradients_as_onednn(sized(conv_case(2, 24, 8, 8, 3, 3, 1, 1, false), 8, 8), 4);
    // The stems it takes (3 -> 48, and 4 -> 64 with bias on an odd plane), on planes small enough
    // that two orders of summing a weight's products agree to the tolerance.
    expect_same_gradients_as_onednn(sized(conv_case(2, 1, 3, 48, 3, 3, 1, 1, false), 12, 12), 5);
    expect_same_gradients_as_onednn(sized(conv_case(2, 1, 4, 64, 3, 3, 1, 1, true), 11, 13), 6);
}

TEST_P(GroupConvBackwardIsa, SmallGroupsGivesOnednnsGradientsOnRandomGeometries) {
    const ForcedIsa forced(GetParam());
    std::mt19937_64 rng(2018);
    RandomConvRanges ranges;
    ranges.max_groups = 4, ranges.stride_h = {1, 1, 2}, ranges.max_padding = 2;
    ranges.max_height = 13, ranges.max_width = 35;
    for (int trial = 0; trial < 20; ++trial) {
        const ConvCase c = random_conv_case(rng, ranges);
        expect_same_gradients_as_onednn(c, 300 + 4 * trial);
    }
}

// The 3x3 weight gradient streaming the input rows (the default) gives the bits of the one
// streaming the output rows, on the IGC shapes and random 3x3 geometries, on each vector path.
TEST_P(GroupConvBackwardIsa, StreamingInputRowsGivesTheWeightGradientsBits) {
    if (GetParam() == "portable") GTEST_SKIP() << "the portable loop has one weight gradient";
    const ForcedIsa forced(GetParam());
    std::vector<ConvCase> cases{sized(conv_case(2, 24, 2, 2, 3, 3, 1, 1, true), 32, 32),
                                sized(conv_case(2, 24, 4, 4, 3, 3, 1, 1, false), 16, 16),
                                sized(conv_case(2, 24, 8, 8, 3, 3, 1, 1, false), 8, 8),
                                sized(conv_case(2, 3, 2, 2, 3, 3, 1, 0, true), 7, 21)};
    std::mt19937_64 rng(2019);
    RandomConvRanges ranges;
    ranges.max_groups = 3, ranges.max_padding = 2, ranges.max_height = 13, ranges.max_width = 35;
    while (cases.size() < 16) {
        ConvCase c = random_conv_case(rng, ranges);
        c.kernel_h = c.kernel_w = 3;
        if (c.out_height() >= 1 && c.out_width() >= 1) cases.push_back(c);
    }
    std::uint64_t seed = 900;
    for (const ConvCase& c : cases) {
        SCOPED_TRACE(c.str());
        const Tensor input = random_tensor(c.input_shape(), ++seed);
        const Tensor weight = random_tensor(c.weight_shape(), ++seed);
        const Tensor bias = random_tensor({c.out_channels}, ++seed);
        const Tensor r = random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()}, ++seed);
        const auto gradients = [&](const char* streaming) {
            setenv("WEFT_SMALL_GROUPS_WEIGHT_GRAD", streaming, 1);
            auto result = kernel_backward(c, "small_groups", input, weight, bias, r);
            unsetenv("WEFT_SMALL_GROUPS_WEIGHT_GRAD");
            return result;
        };
        const auto rows = gradients("rows"), columns = gradients("columns");
        for (std::size_t p = 0; p < rows.grad_params.size(); ++p)
            EXPECT_TRUE(all_close(rows.grad_params[p], columns.grad_params[p], 0, 0));
    }
}

INSTANTIATE_TEST_SUITE_P(, GroupConvBackwardIsa,
                         ::testing::Values("avx512", "avx512_direct", "avx2", "portable"),
                         [](const auto& info) { return info.param; });

// Each weight's gradient is summed by one thread over the images in order, whichever thread
// takes its group: 1, 2 and 3 threads give the same bits, for the weights, the bias and dL/dx.
TEST(GroupConvBackward, SmallGroupsGivesTheSameBitsOnAnyThreadCount) {
    setenv("WEFT_CPU_MACS_PER_THREAD", "0", 1);  // small shapes on every thread too
    const int before = omp_get_max_threads();
    for (const ConvCase& c : {sized(conv_case(5, 6, 2, 2, 3, 3, 1, 1, true), 12, 20),
                              sized(conv_case(4, 3, 2, 4, 3, 3, 2, 1, false), 9, 17)}) {
        SCOPED_TRACE(c.str());
        const Tensor input = random_tensor(c.input_shape(), 950);
        const Tensor weight = random_tensor(c.weight_shape(), 951);
        const Tensor bias = random_tensor({c.out_channels}, 952);
        const Tensor r = random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()}, 953);
        omp_set_num_threads(1);
        const auto one = kernel_backward(c, "small_groups", input, weight, bias, r);
        for (const int threads : {2, 3}) {
            SCOPED_TRACE(threads);
            omp_set_num_threads(threads);
            const auto many = kernel_backward(c, "small_groups", input, weight, bias, r);
            EXPECT_TRUE(all_close(many.grad_inputs[0], one.grad_inputs[0], 0, 0));
            for (std::size_t p = 0; p < one.grad_params.size(); ++p)
                EXPECT_TRUE(all_close(many.grad_params[p], one.grad_params[p], 0, 0)) << p;
        }
    }
    omp_set_num_threads(before);
    unsetenv("WEFT_CPU_MACS_PER_THREAD");
}

TEST(GroupConvBackward, SumOfDyIsTheBiasGradientAndAZeroDyGivesZeroGradients) {
    ConvCase c = conv_case(2, 2, 2, 3, 3, 3, 1, 1, true);
    const Tensor input = random_tensor(c.input_shape(), 901);
    const Tensor weight = random_tensor(c.weight_shape(), 902);
    const Tensor bias = random_tensor({c.out_channels}, 903);
    const weft::Shape output_shape{c.batch, c.out_channels, c.out_height(), c.out_width()};
    const Tensor zero(weft::TensorDesc{weft::DType::f32, output_shape});
    for (const std::string& kernel : kKernels) {
        SCOPED_TRACE("kernel " + kernel);
        const auto result = kernel_backward(c, kernel, input, weight, bias, zero);
        for (const Tensor& gradient : {result.grad_inputs[0], result.grad_params[0],
                                       result.grad_params[1]}) {
            EXPECT_TRUE(all_close(gradient, Tensor(gradient.desc()), 0.0, 0.0));
        }
    }
    // dL/db[o] = sum over n, y, x of dy[n, o, y, x]: with dy = 1 everywhere, batch * Ho * Wo.
    Tensor ones(weft::TensorDesc{weft::DType::f32, output_shape});
    std::fill_n(ones.as<float>(), ones.numel(), 1.f);
    Tensor expected_bias(bias.desc());
    std::fill_n(expected_bias.as<float>(), expected_bias.numel(),
                float(c.batch * c.out_height() * c.out_width()));
    for (const std::string& kernel : kKernels) {
        SCOPED_TRACE("kernel " + kernel);
        const auto result = kernel_backward(c, kernel, input, weight, bias, ones);
        EXPECT_TRUE(all_close(result.grad_params[1], expected_bias));
    }
}

TEST(GroupConvBackward, TrainingAConvolutionWithFusedReluIsRefused) {
    ConvCase c = conv_case(2, 2, 2, 2, 3, 3, 1, 1, false);
    c.fused_relu = true;
    const Tensor input = random_tensor(c.input_shape(), 950);
    const Tensor r = random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()}, 951);
    for (const std::string& kernel : kKernels) {
        SCOPED_TRACE("kernel " + kernel);
        EXPECT_TRUE(throws_error_containing(
            [&] { run_op_backward("group_conv", c.attrs(), {input}, {r}, {}, kernel); },
            "fused_relu is an inference-only rewrite"));
    }
}

}  // namespace
