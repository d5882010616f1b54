// group_conv: the schema's shapes, parameters, cost and errors, and the CPU kernel the registry
// picks against the naive convolution of group_conv_reference.h (paper Eq. 1).
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "group_conv_reference.h"
#include "op_harness.h"
#include "weft/cpu/cpu_device.h"
#include "weft/cpu/onednn_convolution.h"
#include "weft/error.h"

namespace {

using weft::Attributes;
using weft::Shape;
using weft::Tensor;
using weft::TensorDesc;
using weft::testing::all_close;
using weft::testing::ConvCase;
using weft::testing::f32;
using weft::testing::infer_op;
using weft::testing::random_tensor;
using weft::testing::reference_group_conv;
using weft::testing::run_op;
using Ints = std::vector<std::int64_t>;

// Runs the CPU kernel and the reference on the same random input and parameters.
void expect_kernel_matches_reference(const ConvCase& c, std::uint64_t seed) {
    SCOPED_TRACE(c.str());
    const Tensor input = random_tensor(c.input_shape(), seed);
    const Tensor weight = random_tensor(c.weight_shape(), seed + 1);
    const Tensor bias = random_tensor({c.out_channels}, seed + 2);
    weft::WeightMap params{{"weight", weight}};
    if (c.bias) params["bias"] = bias;
    const std::vector<Tensor> outputs = run_op("group_conv", c.attrs(), {input}, params);
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_TRUE(
        all_close(outputs[0], reference_group_conv(c, input, weight, c.bias ? &bias : nullptr)));
}

// The message of the weft::Error shape inference throws, or a note that it threw none.
std::string inference_error(const Attributes& attrs, const Shape& input_shape) {
    try {
        infer_op("group_conv", attrs, {f32(input_shape)});
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

// The primary group convolution of IGC-L24M2's first stage: 24 partitions of 2 channels.
ConvCase igc_primary_conv() {
    ConvCase c;
    c.batch = 64, c.in_channels = 48, c.height = 32, c.width = 32;
    c.out_channels = 48, c.groups = 24, c.kernel_h = c.kernel_w = 3, c.padding_h = c.padding_w = 1;
    return c;
}

// ---- schema ----

TEST(GroupConvSchema, InfersOutputShapeWeightAndMacsOfThePaperPrimaryConv) {
    const ConvCase c = igc_primary_conv();
    const weft::NodeSignature signature = infer_op("group_conv", c.attrs(), {f32(c.input_shape())});
    ASSERT_EQ(signature.outputs.size(), 1u);
    EXPECT_EQ(signature.outputs[0].shape, (Shape{64, 48, 32, 32}));
    ASSERT_EQ(signature.params.size(), 1u);  // no bias by default: the paper's convs have none
    const weft::ParamSpec& weight = signature.params[0];
    EXPECT_EQ(weight.name, "weight");
    EXPECT_EQ(weight.desc.shape, (Shape{48, 2, 3, 3}));
    EXPECT_EQ(weight.init, weft::ParamInit::he_normal);
    EXPECT_EQ(weight.fan_in, 2 * 3 * 3);  // MSRA over one partition's inputs
    EXPECT_TRUE(weight.counted);
    EXPECT_TRUE(weight.learnable);
    EXPECT_EQ(signature.macs, std::int64_t{64} * 48 * 32 * 32 * 2 * 3 * 3);
}

TEST(GroupConvSchema, DefaultsAreAnUnpaddedRegularConvolutionWithoutBias) {
    Attributes attrs;
    attrs.set("out_channels", std::int64_t{3});
    attrs.set("kernel", std::int64_t{3});
    const weft::NodeSignature signature = infer_op("group_conv", attrs, {f32({2, 4, 5, 6})});
    EXPECT_EQ(signature.outputs[0].shape, (Shape{2, 3, 3, 4}));
    ASSERT_EQ(signature.params.size(), 1u);
    EXPECT_EQ(signature.params[0].desc.shape, (Shape{3, 4, 3, 3}));
    EXPECT_EQ(signature.macs, std::int64_t{2} * 3 * 3 * 4 * 4 * 3 * 3);
}

TEST(GroupConvSchema, RectangularKernelStrideDilationAndPaddingShapeTheOutput) {
    ConvCase c;
    c.in_channels = 4, c.height = 10, c.width = 11, c.out_channels = 6, c.groups = 2;
    c.kernel_h = 3, c.kernel_w = 5, c.stride_h = 2, c.stride_w = 1;
    c.padding_h = 1, c.padding_w = 2, c.dilation_h = 1, c.dilation_w = 2;
    const weft::NodeSignature signature = infer_op("group_conv", c.attrs(), {f32(c.input_shape())});
    // height: (10 + 2 - 3) / 2 + 1 = 5; width: the dilated kernel spans 9, (11 + 4 - 9) + 1 = 7
    EXPECT_EQ(signature.outputs[0].shape, (Shape{1, 6, 5, 7}));
    EXPECT_EQ(signature.params[0].desc.shape, (Shape{6, 2, 3, 5}));
    EXPECT_EQ(signature.macs, std::int64_t{6} * 5 * 7 * 2 * 3 * 5);
}

TEST(GroupConvSchema, BiasIsAZeroInitialisedParameterPerOutputChannel) {
    ConvCase c = igc_primary_conv();
    c.bias = true;
    const weft::NodeSignature signature = infer_op("group_conv", c.attrs(), {f32(c.input_shape())});
    ASSERT_EQ(signature.params.size(), 2u);
    EXPECT_EQ(signature.params[1].name, "bias");
    EXPECT_EQ(signature.params[1].desc.shape, (Shape{48}));
    EXPECT_EQ(signature.params[1].init, weft::ParamInit::zeros);
    EXPECT_TRUE(signature.params[1].counted);
}

TEST(GroupConvSchema, RejectsInputChannelsNotDivisibleByGroups) {
    ConvCase c = igc_primary_conv();
    c.in_channels = 50;
    EXPECT_TRUE(mentions(inference_error(c.attrs(), c.input_shape()),
                         "in_channels 50 is not divisible by groups 24"));
}

TEST(GroupConvSchema, RejectsOutputChannelsNotDivisibleByGroups) {
    ConvCase c = igc_primary_conv();
    c.out_channels = 60;
    EXPECT_TRUE(mentions(inference_error(c.attrs(), c.input_shape()),
                         "out_channels 60 is not divisible by groups 24"));
}

TEST(GroupConvSchema, RejectsAnInputThatIsNotFourDimensional) {
    EXPECT_TRUE(mentions(inference_error(igc_primary_conv().attrs(), {64, 48, 32}),
                         "expects an input [N, C, H, W], got f32[64, 48, 32]"));
}

TEST(GroupConvSchema, RejectsAKernelLargerThanThePaddedInput) {
    ConvCase c;
    c.height = 4, c.width = 3, c.kernel_h = 3, c.kernel_w = 5;
    EXPECT_TRUE(mentions(inference_error(c.attrs(), c.input_shape()),
                         "output width would be empty: input width 3 with padding 0 is smaller "
                         "than the kernel extent 5"));
    c.kernel_w = 2, c.dilation_h = 3;  // the dilated kernel spans 7 rows
    EXPECT_TRUE(mentions(inference_error(c.attrs(), c.input_shape()),
                         "output height would be empty: input height 4 with padding 0 is smaller "
                         "than the kernel extent 7 (kernel 3, dilation 3)"));
}

TEST(GroupConvSchema, RejectsAKernelOfThreeExtents) {
    Attributes attrs = igc_primary_conv().attrs();
    attrs.set("kernel", Ints{3, 3, 3});
    EXPECT_TRUE(mentions(inference_error(attrs, {1, 48, 8, 8}),
                         "kernel should be one value or [height, width], got 3 values"));
}

TEST(GroupConvSchema, RejectsZeroOutputChannelsGroupsAndStride) {
    for (const char* name : {"out_channels", "groups"}) {
        Attributes attrs = igc_primary_conv().attrs();
        attrs.set(name, std::int64_t{0});
        EXPECT_TRUE(mentions(inference_error(attrs, {1, 48, 8, 8}),
                             fmt::format("attribute '{}' = 0 is out of range", name)));
    }
    Attributes attrs = igc_primary_conv().attrs();
    attrs.set("stride", Ints{1, 0});
    EXPECT_TRUE(mentions(inference_error(attrs, {1, 48, 8, 8}), "attribute 'stride'"));
}

TEST(GroupConvSchema, RequiresOutputChannelsAndKernel) {
    Attributes attrs;
    attrs.set("kernel", std::int64_t{3});
    EXPECT_TRUE(mentions(inference_error(attrs, {1, 4, 8, 8}), "needs attribute 'out_channels'"));
    attrs = Attributes();
    attrs.set("out_channels", std::int64_t{3});
    EXPECT_TRUE(mentions(inference_error(attrs, {1, 4, 8, 8}), "needs attribute 'kernel'"));
}

// ---- CPU kernel ----

TEST(GroupConvCpu, MatchesTheReferenceOnTheIgcNetworksShapes) {
    ConvCase c = igc_primary_conv();
    c.batch = 2, c.height = c.width = 9;
    expect_kernel_matches_reference(c, 11);  // IGC-L24M2: 24 groups of 2 channels
    c.stride_h = c.stride_w = 2, c.out_channels = 96;
    expect_kernel_matches_reference(c, 12);  // its down-sampling block: 2 -> 4 channels a group
    c.in_channels = c.out_channels = 32, c.groups = 4, c.stride_h = c.stride_w = 1;
    expect_kernel_matches_reference(c, 13);  // IGC-L4M8: 4 groups of 8
    c.groups = 32;
    expect_kernel_matches_reference(c, 14);  // depthwise: one channel a group
    c.in_channels = 3, c.groups = 1, c.out_channels = 16;
    expect_kernel_matches_reference(c, 15);  // the networks' first layer
}

TEST(GroupConvCpu, MatchesTheReferenceOnRandomGeometries) {
    std::mt19937_64 rng(2017);
    const auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    for (int trial = 0; trial < 60; ++trial) {
        ConvCase c;
        c.batch = pick(1, 3);
        c.groups = pick(1, 4);
        c.in_channels = c.groups * pick(1, 5);
        c.out_channels = c.groups * pick(1, 5);
        c.kernel_h = pick(1, 5), c.kernel_w = pick(1, 5);
        c.stride_h = pick(1, 3), c.stride_w = pick(1, 3);
        c.padding_h = pick(0, 2), c.padding_w = pick(0, 2);
        c.dilation_h = pick(1, 2), c.dilation_w = pick(1, 2);
        c.bias = pick(0, 1) == 1;
        do {
            c.height = pick(1, 13), c.width = pick(1, 13);
        } while (c.height + 2 * c.padding_h < c.dilation_h * (c.kernel_h - 1) + 1 ||
                 c.width + 2 * c.padding_w < c.dilation_w * (c.kernel_w - 1) + 1);
        expect_kernel_matches_reference(c, 100 + trial);
    }
}

// Channels [begin, begin + count) of an NCHW tensor.
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

// Entries [begin, begin + count) of the first dimension: output channels of a weight or bias.
Tensor leading_slice(const Tensor& tensor, std::int64_t begin, std::int64_t count) {
    Shape shape = tensor.shape();
    const std::int64_t row = tensor.numel() / shape[0];
    shape[0] = count;
    Tensor slice(f32(shape));
    std::copy_n(tensor.as<float>() + begin * row, count * row, slice.as<float>());
    return slice;
}

Tensor concatenate_channels(const std::vector<Tensor>& parts) {
    Shape shape = parts.at(0).shape();
    shape[1] = 0;
    for (const Tensor& part : parts) shape[1] += part.shape()[1];
    Tensor whole(f32(shape));
    const std::int64_t plane = shape[2] * shape[3];
    for (std::int64_t n = 0; n < shape[0]; ++n) {
        std::int64_t channel = 0;
        for (const Tensor& part : parts) {
            const std::int64_t count = part.shape()[1];
            std::copy_n(part.as<float>() + n * count * plane, count * plane,
                        whole.as<float>() + (n * shape[1] + channel) * plane);
            channel += count;
        }
    }
    return whole;
}

// Eq. 1's block-diagonal kernel matrix: a group convolution with g groups is g regular
// convolutions, each on its own slice of the channels, side by side.
TEST(GroupConvCpu, GroupsAreIndependentRegularConvolutionsOnChannelSlices) {
    ConvCase grouped;
    grouped.batch = 2, grouped.in_channels = 12, grouped.height = 7, grouped.width = 6;
    grouped.out_channels = 9, grouped.groups = 3, grouped.kernel_h = grouped.kernel_w = 3;
    grouped.padding_h = grouped.padding_w = 1, grouped.stride_h = 2, grouped.bias = true;
    const Tensor input = random_tensor(grouped.input_shape(), 7);
    const Tensor weight = random_tensor(grouped.weight_shape(), 8);
    const Tensor bias = random_tensor({grouped.out_channels}, 9);
    const Tensor whole =
        run_op("group_conv", grouped.attrs(), {input}, {{"weight", weight}, {"bias", bias}})[0];

    ConvCase one_group = grouped;
    one_group.groups = 1;
    one_group.in_channels = grouped.in_channels / grouped.groups;
    one_group.out_channels = grouped.out_channels / grouped.groups;
    std::vector<Tensor> parts;
    for (std::int64_t g = 0; g < grouped.groups; ++g) {
        const std::int64_t out_begin = g * one_group.out_channels;
        parts.push_back(
            run_op("group_conv", one_group.attrs(),
                   {channel_slice(input, g * one_group.in_channels, one_group.in_channels)},
                   {{"weight", leading_slice(weight, out_begin, one_group.out_channels)},
                    {"bias", leading_slice(bias, out_begin, one_group.out_channels)}})[0]);
    }
    EXPECT_TRUE(all_close(whole, concatenate_channels(parts)));
}

TEST(OnednnConvolution, AConvolutionBuiltForInferenceRefusesBackward) {
    weft::cpu::CpuDevice device(weft::DeviceOptions{});
    weft::ConvolutionGeometry geometry;
    geometry.batch = 2, geometry.in_channels = geometry.out_channels = 4, geometry.groups = 2;
    geometry.in_height = geometry.in_width = 5, geometry.kernel_h = geometry.kernel_w = 3;
    weft::cpu::OnednnConvolution convolution(geometry, device, /*training=*/false);
    EXPECT_FALSE(convolution.has_backward());
    EXPECT_TRUE(weft::testing::throws_error_containing(
        [&] { convolution.backward_data(nullptr, nullptr, nullptr, nullptr); },
        "was built for inference and has no backward"));
}

}  // namespace
