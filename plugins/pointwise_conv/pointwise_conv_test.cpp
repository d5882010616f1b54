// pointwise_conv: the schema's shapes, parameters, cost and errors, and the CPU kernel against a
// naive 1x1 group convolution written here (the paper's secondary group convolution, Eq. 3).
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "op_harness.h"
#include "pointwise_conv_case.h"
#include "weft/error.h"

namespace {

using weft::Attributes;
using weft::Shape;
using weft::Tensor;
using weft::TensorDesc;
using weft::testing::all_close;
using weft::testing::PointwiseCase;
using weft::testing::infer_op;
using weft::testing::random_tensor;
using weft::testing::run_op;
using weft::testing::run_op_backward;
using Ints = std::vector<std::int64_t>;

TensorDesc f32(Shape shape) { return TensorDesc{weft::DType::f32, std::move(shape)}; }

// Per pixel, a block-diagonal matrix times the channel vector: output channel o mixes the
// input channels of its own group only. Sums in double.
Tensor reference_pointwise_conv(const PointwiseCase& c, const Tensor& input, const Tensor& weight,
                                const Tensor* bias) {
    const std::int64_t in_per_group = c.in_channels / c.groups;
    const std::int64_t out_per_group = c.out_channels / c.groups;
    const std::int64_t out_h = c.out_height(), out_w = c.out_width();
    Tensor output(f32({c.batch, c.out_channels, out_h, out_w}));
    const float* x = input.as<float>();
    const float* w = weight.as<float>();
    float* y = output.as<float>();
    for (std::int64_t n = 0; n < c.batch; ++n) {
        for (std::int64_t o = 0; o < c.out_channels; ++o) {
            const std::int64_t first_input = (o / out_per_group) * in_per_group;
            for (std::int64_t oy = 0; oy < out_h; ++oy) {
                for (std::int64_t ox = 0; ox < out_w; ++ox) {
                    double sum = bias ? bias->as<float>()[o] : 0.0;
                    for (std::int64_t i = 0; i < in_per_group; ++i) {
                        const std::int64_t pixel =
                            ((n * c.in_channels + first_input + i) * c.height + oy * c.stride_h) *
                                c.width +
                            ox * c.stride_w;
                        sum += double(x[pixel]) * double(w[o * in_per_group + i]);
                    }
                    y[((n * c.out_channels + o) * out_h + oy) * out_w + ox] = float(sum);
                }
            }
        }
    }
    return output;
}

void expect_kernel_matches_reference(const PointwiseCase& c, std::uint64_t seed) {
    SCOPED_TRACE(c.str());
    const Tensor input = random_tensor(c.input_shape(), seed);
    const Tensor weight = random_tensor(c.weight_shape(), seed + 1);
    const Tensor bias = random_tensor({c.out_channels}, seed + 2);
    weft::WeightMap params{{"weight", weight}};
    if (c.bias) params["bias"] = bias;
    const std::vector<Tensor> outputs = run_op("pointwise_conv", c.attrs(), {input}, params);
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_TRUE(all_close(outputs[0],
                          reference_pointwise_conv(c, input, weight, c.bias ? &bias : nullptr)));
}

std::string inference_error(const Attributes& attrs, const Shape& input_shape) {
    try {
        infer_op("pointwise_conv", attrs, {f32(input_shape)});
    } catch (const weft::Error& e) {
        return e.what();
    }
    return "(no error)";
}

::testing::AssertionResult mentions(const std::string& message, const std::string& expected) {
    if (message.find(expected) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "\"" << message << "\" does not mention \"" << expected << "\"";
}

// The secondary group convolution of IGC-L24M2's first stage: 2 partitions of 24 channels.
PointwiseCase igc_secondary_conv() {
    PointwiseCase c;
    c.batch = 64, c.in_channels = 48, c.height = 32, c.width = 32;
    c.out_channels = 48, c.groups = 2;
    return c;
}

// ---- schema ----

TEST(PointwiseConvSchema, InfersOutputShapeWeightAndMacsOfThePaperSecondaryConv) {
    const PointwiseCase c = igc_secondary_conv();
    const weft::NodeSignature signature =
        infer_op("pointwise_conv", c.attrs(), {f32(c.input_shape())});
    ASSERT_EQ(signature.outputs.size(), 1u);
    EXPECT_EQ(signature.outputs[0].shape, (Shape{64, 48, 32, 32}));
    ASSERT_EQ(signature.params.size(), 1u);
    const weft::ParamSpec& weight = signature.params[0];
    EXPECT_EQ(weight.name, "weight");
    EXPECT_EQ(weight.desc.shape, (Shape{48, 24, 1, 1}));  // as a 1x1 group_conv stores it
    EXPECT_EQ(weight.init, weft::ParamInit::he_normal);
    EXPECT_EQ(weight.fan_in, 24);
    EXPECT_TRUE(weight.counted);
    EXPECT_EQ(signature.macs, std::int64_t{64} * 48 * 32 * 32 * 24);
}

TEST(PointwiseConvSchema, StrideSamplesEveryStrideThPixelIncludingTheLastOddOne) {
    PointwiseCase c;
    c.batch = 2, c.in_channels = 48, c.height = 7, c.width = 32, c.out_channels = 96;
    c.groups = 24, c.stride_h = c.stride_w = 2;  // an IGC residual projection
    const weft::NodeSignature signature =
        infer_op("pointwise_conv", c.attrs(), {f32(c.input_shape())});
    EXPECT_EQ(signature.outputs[0].shape, (Shape{2, 96, 4, 16}));
    EXPECT_EQ(signature.macs, std::int64_t{2} * 96 * 4 * 16 * 2);
}

TEST(PointwiseConvSchema, DefaultsAreOneDenseGroupWithoutBias) {
    Attributes attrs;
    attrs.set("out_channels", std::int64_t{5});
    const weft::NodeSignature signature = infer_op("pointwise_conv", attrs, {f32({3, 4, 6, 7})});
    EXPECT_EQ(signature.outputs[0].shape, (Shape{3, 5, 6, 7}));
    ASSERT_EQ(signature.params.size(), 1u);
    EXPECT_EQ(signature.params[0].desc.shape, (Shape{5, 4, 1, 1}));
}

TEST(PointwiseConvSchema, BiasIsAZeroInitialisedParameterPerOutputChannel) {
    PointwiseCase c = igc_secondary_conv();
    c.bias = true;
    const weft::NodeSignature signature =
        infer_op("pointwise_conv", c.attrs(), {f32(c.input_shape())});
    ASSERT_EQ(signature.params.size(), 2u);
    EXPECT_EQ(signature.params[1].name, "bias");
    EXPECT_EQ(signature.params[1].desc.shape, (Shape{48}));
    EXPECT_EQ(signature.params[1].init, weft::ParamInit::zeros);
}

TEST(PointwiseConvSchema, RejectsChannelsNotDivisibleByGroups) {
    PointwiseCase c = igc_secondary_conv();
    c.groups = 5;
    EXPECT_TRUE(mentions(inference_error(c.attrs(), c.input_shape()),
                         "in_channels 48 is not divisible by groups 5"));
    c.in_channels = 50;
    EXPECT_TRUE(mentions(inference_error(c.attrs(), c.input_shape()),
                         "out_channels 48 is not divisible by groups 5"));
}

TEST(PointwiseConvSchema, RejectsAnInputThatIsNotFourDimensional) {
    EXPECT_TRUE(mentions(inference_error(igc_secondary_conv().attrs(), {64, 48}),
                         "expects an input [N, C, H, W], got f32[64, 48]"));
}

TEST(PointwiseConvSchema, RejectsAStrideOfThreeExtents) {
    Attributes attrs = igc_secondary_conv().attrs();
    attrs.set("stride", Ints{2, 2, 2});
    EXPECT_TRUE(mentions(inference_error(attrs, {1, 48, 8, 8}),
                         "stride should be one value or [height, width], got 3 values"));
}

TEST(PointwiseConvSchema, RejectsZeroOutputChannelsAndGroupsAndRequiresOutputChannels) {
    for (const char* name : {"out_channels", "groups"}) {
        Attributes attrs = igc_secondary_conv().attrs();
        attrs.set(name, std::int64_t{0});
        EXPECT_TRUE(mentions(inference_error(attrs, {1, 48, 8, 8}),
                             fmt::format("attribute '{}' = 0 is out of range", name)));
    }
    EXPECT_TRUE(
        mentions(inference_error(Attributes(), {1, 48, 8, 8}), "needs attribute 'out_channels'"));
}

// The channel maps (written by the fold_permutations pass) must be permutations of the channels.
TEST(PointwiseConvSchema, RejectsChannelMapsThatAreNotPermutations) {
    PointwiseCase c = igc_secondary_conv();
    Attributes attrs = c.attrs();
    attrs.set("input_map", Ints{0, 1});
    EXPECT_TRUE(mentions(inference_error(attrs, c.input_shape()),
                         "pointwise_conv: input_map has 2 entries, expected one per channel (48)"));
    Ints repeated(48, 0);
    attrs = c.attrs();
    attrs.set("output_map", repeated);
    EXPECT_TRUE(mentions(inference_error(attrs, c.input_shape()),
                         "pointwise_conv: output_map is not a permutation of 0..47"));
}

// ---- CPU kernel ----

TEST(PointwiseConvCpu, MatchesTheReferenceOnTheIgcNetworksShapes) {
    PointwiseCase c = igc_secondary_conv();
    c.batch = 2, c.height = c.width = 9;
    expect_kernel_matches_reference(c, 21);  // IGC-L24M2: 2 partitions of 24 channels
    c.groups = 1;
    expect_kernel_matches_reference(c, 22);  // GPC's dense 1x1
    c.groups = 24, c.out_channels = 96, c.stride_h = c.stride_w = 2;
    expect_kernel_matches_reference(c, 23);  // a residual projection with L = 24 groups
}

TEST(PointwiseConvCpu, MatchesTheReferenceOnRandomGeometries) {
    std::mt19937_64 rng(2017);
    for (int trial = 0; trial < 40; ++trial) {
        expect_kernel_matches_reference(weft::testing::random_pointwise_case(rng, 6), 200 + trial);
    }
}

Tensor channel_slice(const Tensor& tensor, std::int64_t begin, std::int64_t count) {
    Shape shape = tensor.shape();
    const std::int64_t channels = shape[1];
    const std::int64_t plane = shape[2] * shape[3];
    shape[1] = count;
    Tensor slice(f32(shape));
    for (std::int64_t n = 0; n < shape[0]; ++n) {
        std::copy_n(tensor.as<float>() + (n * channels + begin) * plane, count * plane,
                    slice.as<float>() + n * count * plane);
    }
    return slice;
}

// Entries [begin, begin + count) of the first dimension: output channels of a weight.
Tensor leading_slice(const Tensor& tensor, std::int64_t begin, std::int64_t count) {
    Shape shape = tensor.shape();
    const std::int64_t row = tensor.numel() / shape[0];
    shape[0] = count;
    Tensor slice(f32(shape));
    std::copy_n(tensor.as<float>() + begin * row, count * row, slice.as<float>());
    return slice;
}

// The block-diagonal view (paper Eq. 1, Eq. 3): M groups are M dense 1x1 convolutions, each on
// its own slice of the channels; group g's output is the g-th slice of the grouped output.
TEST(PointwiseConvCpu, GroupsAreIndependentDenseConvolutionsOnChannelSlices) {
    PointwiseCase grouped;
    grouped.batch = 3, grouped.in_channels = 12, grouped.height = 5, grouped.width = 6;
    grouped.out_channels = 8, grouped.groups = 4;
    const Tensor input = random_tensor(grouped.input_shape(), 31);
    const Tensor weight = random_tensor(grouped.weight_shape(), 32);
    const Tensor whole =
        run_op("pointwise_conv", grouped.attrs(), {input}, {{"weight", weight}})[0];

    PointwiseCase dense = grouped;
    dense.groups = 1, dense.in_channels = 3, dense.out_channels = 2;
    for (std::int64_t g = 0; g < grouped.groups; ++g) {
        SCOPED_TRACE(fmt::format("group {}", g));
        const Tensor part =
            run_op("pointwise_conv", dense.attrs(), {channel_slice(input, g * 3, 3)},
                   {{"weight", leading_slice(weight, g * 2, 2)}})[0];
        EXPECT_TRUE(all_close(part, channel_slice(whole, g * 2, 2)));
    }
}

// One convolution implementation: a pointwise_conv is exactly a group_conv with a 1x1 kernel.
TEST(PointwiseConvCpu, EqualsAGroupConvWithAOneByOneKernel) {
    PointwiseCase c;
    c.batch = 2, c.in_channels = 12, c.height = 9, c.width = 8, c.out_channels = 18;
    c.groups = 6, c.stride_h = 2, c.stride_w = 3, c.bias = true;
    const Tensor input = random_tensor(c.input_shape(), 41);
    const weft::WeightMap params{{"weight", random_tensor(c.weight_shape(), 42)},
                                 {"bias", random_tensor({c.out_channels}, 43)}};
    Attributes group_conv_attrs = c.attrs();
    group_conv_attrs.set("kernel", std::int64_t{1});
    EXPECT_TRUE(all_close(run_op("pointwise_conv", c.attrs(), {input}, params)[0],
                          run_op("group_conv", group_conv_attrs, {input}, params)[0]));
}

// ---- CPU kernel, backward ----

PointwiseCase pointwise_case(std::int64_t batch, std::int64_t groups, std::int64_t in_per_group,
                             std::int64_t out_per_group, std::int64_t stride, bool bias) {
    PointwiseCase c;
    c.batch = batch, c.groups = groups;
    c.in_channels = groups * in_per_group, c.out_channels = groups * out_per_group;
    c.height = 5, c.width = 6;
    c.stride_h = c.stride_w = stride;
    c.bias = bias;
    return c;
}

// L = sum(y * r), so the kernel is handed dL/dy = r; dL/dx, dL/dW and dL/db are compared with
// central differences of L through the reference. L is linear in each of them, so the
// differences are exact but for f32 rounding of the reference's outputs.
TEST(PointwiseConvCpuBackward, MatchesCentralDifferencesOfTheLossForInputWeightAndBias) {
    const std::vector<PointwiseCase> cases = {
        pointwise_case(2, 1, 3, 2, 1, true),  pointwise_case(2, 2, 2, 3, 1, false),
        pointwise_case(3, 4, 1, 1, 2, true),  pointwise_case(2, 4, 4, 2, 2, false),
        pointwise_case(2, 2, 4, 4, 1, true),  pointwise_case(2, 4, 3, 1, 1, true),
    };
    constexpr float step = 1e-2f;
    constexpr double rtol = 1e-2, atol = 1e-3;
    std::uint64_t seed = 600;
    for (const PointwiseCase& c : cases) {
        SCOPED_TRACE(c.str());
        Tensor input = random_tensor(c.input_shape(), ++seed);
        Tensor weight = random_tensor(c.weight_shape(), ++seed);
        Tensor bias = random_tensor({c.out_channels}, ++seed);
        const Tensor r = random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()},
                                       ++seed);
        const auto loss = [&] {
            return weft::testing::weighted_sum(
                {reference_pointwise_conv(c, input, weight, c.bias ? &bias : nullptr)}, {r});
        };
        weft::WeightMap params{{"weight", weight}};
        if (c.bias) params["bias"] = bias;
        const auto result = run_op_backward("pointwise_conv", c.attrs(), {input}, {r}, params);
        ASSERT_EQ(result.grad_params.size(), c.bias ? 2u : 1u);
        EXPECT_TRUE(all_close(result.grad_inputs[0],
                              weft::testing::numeric_gradient(input, loss, step), rtol, atol));
        EXPECT_TRUE(all_close(result.grad_params[0],
                              weft::testing::numeric_gradient(weight, loss, step), rtol, atol));
        if (c.bias) {
            EXPECT_TRUE(all_close(result.grad_params[1],
                                  weft::testing::numeric_gradient(bias, loss, step), rtol,
                                  atol));
        }
    }
}

// A strided 1x1 convolution never reads the skipped pixels, so nothing flows back to them.
TEST(PointwiseConvCpuBackward, PixelsAStrideSkipsGetZeroInputGradient) {
    const PointwiseCase c = pointwise_case(2, 2, 2, 2, 2, false);
    const Tensor input = random_tensor(c.input_shape(), 661);
    const Tensor r = random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()}, 662);
    const auto result = run_op_backward("pointwise_conv", c.attrs(), {input}, {r},
                                        {{"weight", random_tensor(c.weight_shape(), 663)}});
    const float* dx = result.grad_inputs[0].as<float>();
    for (std::int64_t plane = 0; plane < c.batch * c.in_channels; ++plane) {
        for (std::int64_t y = 0; y < c.height; ++y) {
            for (std::int64_t x = 0; x < c.width; ++x) {
                const float value = dx[(plane * c.height + y) * c.width + x];
                if (y % 2 == 1 || x % 2 == 1) {
                    EXPECT_EQ(value, 0.f) << "plane " << plane << " at " << y << ", " << x;
                }
            }
        }
    }
}

}  // namespace
