// The small_groups group_conv kernel: chosen over oneDNN by default, and equal to the naive
// reference (paper Eq. 1) and to the oneDNN kernel on every instruction-set path it has.
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "group_conv_reference.h"
#include "group_conv_small_groups_isa.h"
#include "op_harness.h"
#include "weft/executor.h"
#include "weft/graph_file.h"
#include "weft/registry.h"
#include "weft/error.h"

namespace {

using weft::Tensor;
using weft::testing::all_close;
using weft::testing::build_registry;
using weft::testing::ConvCase;
using weft::testing::random_conv_case;
using weft::testing::RandomConvRanges;
using weft::testing::ForcedIsa;
using weft::testing::missing_isa;
using weft::testing::random_tensor;
using weft::testing::reference_group_conv;
using weft::testing::run_op_with_kernel;

// Runs the case through small_groups and through oneDNN; both must match the reference, and
// each other.
void expect_small_groups_matches(const ConvCase& c, std::uint64_t seed) {
    SCOPED_TRACE(c.str());
    const Tensor input = random_tensor(c.input_shape(), seed);
    const Tensor weight = random_tensor(c.weight_shape(), seed + 1);
    const Tensor bias = random_tensor({c.out_channels}, seed + 2);
    weft::WeightMap params{{"weight", weight}};
    if (c.bias) params["bias"] = bias;
    const Tensor ours = run_op_with_kernel("small_groups", "group_conv", c.attrs(), {input}, params)[0];
    const Tensor onednn = run_op_with_kernel("onednn", "group_conv", c.attrs(), {input}, params)[0];
    EXPECT_TRUE(all_close(ours, reference_group_conv(c, input, weight, c.bias ? &bias : nullptr)));
    EXPECT_TRUE(all_close(ours, onednn));
}

// A 3x3 convolution padded to keep the size, `groups` groups of in -> out channels.
ConvCase three_by_three(std::int64_t groups, std::int64_t in_per_group, std::int64_t out_per_group,
                        std::int64_t size, std::int64_t stride) {
    ConvCase c;
    c.batch = 2, c.groups = groups;
    c.in_channels = groups * in_per_group, c.out_channels = groups * out_per_group;
    c.height = c.width = size;
    c.kernel_h = c.kernel_w = 3, c.padding_h = c.padding_w = 1;
    c.stride_h = c.stride_w = stride;
    return c;
}

TEST(GroupConvSmallGroups, IsTheKernelTheRegistryPicksForGroupConvOnTheCpu) {
    const weft::RegisteredKernel& chosen = build_registry().select_kernel("group_conv", "cpu", {});
    EXPECT_EQ(chosen.factory.name, "small_groups");
    EXPECT_GT(chosen.factory.priority, 0);  // above the built-in oneDNN kernel
    const weft::RegisteredKernel& forced =
        build_registry().select_kernel("group_conv", "cpu", {{"group_conv", "onednn"}});
    EXPECT_EQ(forced.factory.name, "onednn");
}

// The registry asks per node: IGC's primary convolutions (groups of 2) and its 3x3 stem (3 -> 48
// channels in one group) go to this kernel, and the executor says which ran which; ResNet-18's
// 7x7 stem at stride 2 goes to oneDNN, with the reason.
TEST(GroupConvSmallGroups, TakesThePrimaryConvolutionsAndA3x3StemButNotA7x7One) {
    weft::Graph g = weft::resolve_graph("igc-l24m2-d8");
    g.set_batch(2);
    weft::infer_shapes(g, build_registry());
    const weft::Executor exec(g, build_registry(), weft::init_weights(g, 1), {});
    const std::string stem = exec.kernel_name(g.find_node("stem.conv"));
    const std::string primary = exec.kernel_name(g.find_node("stage1.block0.primary"));
    EXPECT_NE(stem.find(":small_groups"), std::string::npos) << stem;
    EXPECT_NE(primary.find(":small_groups"), std::string::npos) << primary;

    const weft::RegisteredKernel* small_groups = build_registry().kernels("group_conv", "cpu").front();
    ASSERT_EQ(small_groups->factory.name, "small_groups");
    ConvCase resnet_stem;
    resnet_stem.batch = 1, resnet_stem.in_channels = 3, resnet_stem.out_channels = 64;
    resnet_stem.height = resnet_stem.width = 224;
    resnet_stem.kernel_h = resnet_stem.kernel_w = 7, resnet_stem.padding_h = resnet_stem.padding_w = 3;
    resnet_stem.stride_h = resnet_stem.stride_w = 2;
    const auto device = build_registry().create_device("cpu", {});
    const auto node = weft::testing::op_node("group_conv", resnet_stem.attrs(),
                                             {{weft::DType::f32, resnet_stem.input_shape()}});
    EXPECT_EQ(small_groups->factory.declines(node.config(*device, false)),
              "groups of 3 input and 64 output channels: at most 16 each "
              "(or a stem of at most 4 into 64 with a kernel of at most 3x3)");
}

TEST(GroupConvSmallGroups, RejectsAnUnknownForcedInstructionSet) {
    const ForcedIsa forced("sse9");
    const ConvCase c = three_by_three(2, 2, 2, 5, 1);
    try {
        run_op_with_kernel("small_groups", "group_conv", c.attrs(), {random_tensor(c.input_shape(), 1)});
        ADD_FAILURE() << "no error";
    } catch (const weft::Error& e) {
        EXPECT_NE(std::string(e.what()).find("WEFT_SMALL_GROUPS_ISA=sse9: expected avx512, avx2 or portable"),
                  std::string::npos)
            << e.what();
    }
}

// Groups wider than the kernel serves still compute correctly: it runs oneDNN for them.
// Groups wider than 16 channels are not its business: it declines them (so the registry gives
// them to oneDNN) instead of running another kernel itself.
TEST(GroupConvSmallGroups, DeclinesGroupsWiderThanItServes) {
    ConvCase c = three_by_three(2, 24, 20, 9, 1);
    c.bias = true, c.fused_relu = true;
    const Tensor input = random_tensor(c.input_shape(), 7);
    EXPECT_TRUE(weft::testing::throws_error_containing(
        [&] { run_op_with_kernel("small_groups", "group_conv", c.attrs(), {input}); },
        "groups of 24 input and 20 output channels: at most 16 each (or a stem"));
    const Tensor chosen = weft::testing::run_op("group_conv", c.attrs(), {input}, {}, "cpu", 8)[0];
    const Tensor onednn = run_op_with_kernel("onednn", "group_conv", c.attrs(), {input}, {}, 8)[0];
    EXPECT_TRUE(all_close(chosen, onednn, 0, 0));
}

class GroupConvSmallGroupsIsa : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (const std::string why = missing_isa(GetParam()); !why.empty()) GTEST_SKIP() << why;
    }
};

// IGC-L24M2's primary group convolutions (24 groups of 2, 4, 8 channels at 32, 16, 8 pixels)
// and the stride-2 ones that open stages 2 and 3, at batch 2; IGC-L4M8's 4 groups of 8.
TEST_P(GroupConvSmallGroupsIsa, MatchesOnTheIgcNetworksShapes) {
    const ForcedIsa forced(GetParam());
    expect_small_groups_matches(three_by_three(24, 2, 2, 32, 1), 11);
    expect_small_groups_matches(three_by_three(24, 2, 4, 32, 2), 12);
    expect_small_groups_matches(three_by_three(24, 4, 4, 16, 1), 13);
    expect_small_groups_matches(three_by_three(24, 4, 8, 16, 2), 14);
    expect_small_groups_matches(three_by_three(24, 8, 8, 8, 1), 15);
    expect_small_groups_matches(three_by_three(4, 8, 8, 32, 1), 16);
}

// The stems it takes: the CIFAR networks' 3 -> 48 and 3 -> 32 at 3x3, and the edges of its reach
// (4 -> 64, one group of two images' planes, odd sizes, a 1x3 kernel, bias and ReLU).
TEST_P(GroupConvSmallGroupsIsa, MatchesOnStems) {
    const ForcedIsa forced(GetParam());
    expect_small_groups_matches(three_by_three(1, 3, 48, 32, 1), 21);
    expect_small_groups_matches(three_by_three(1, 3, 32, 32, 1), 22);
    ConvCase c = three_by_three(1, 4, 64, 13, 1);
    c.bias = true, c.fused_relu = true;
    expect_small_groups_matches(c, 23);
    c = three_by_three(1, 1, 40, 11, 2);
    c.kernel_h = 1, c.padding_h = 0;
    expect_small_groups_matches(c, 24);
}

TEST_P(GroupConvSmallGroupsIsa, AddsBiasAndFusesRelu) {
    const ForcedIsa forced(GetParam());
    for (const bool bias : {false, true}) {
        for (const bool relu : {false, true}) {
            ConvCase c = three_by_three(6, 2, 3, 19, 1);
            c.bias = bias, c.fused_relu = relu;
            expect_small_groups_matches(c, 21);
        }
    }
}

// Random geometries (random_conv_case): up to 5 groups, stride 1 or 2 (3 across), padding 0 or 1.
TEST_P(GroupConvSmallGroupsIsa, MatchesOnRandomGeometries) {
    const ForcedIsa forced(GetParam());
    std::mt19937_64 rng(2017);
    RandomConvRanges ranges;
    ranges.max_groups = 5, ranges.random_fused_relu = true;
    for (int trial = 0; trial < 40; ++trial) {
        const ConvCase c = random_conv_case(rng, ranges);
        expect_small_groups_matches(c, 100 + trial);
    }
}

// AVX-512's tiles over the image itself (direct) and over a padded copy of it (this kernel's
// default) make the same sums in the same order: the same bits, on the IGC shapes, a stem and
// random geometries (padding 0 to 2, dilation, stride 2, edges that cut a vector).
TEST(GroupConvSmallGroups, DirectTilesGiveThePaddedCopysBits) {
    if (const std::string why = missing_isa("avx512"); !why.empty()) GTEST_SKIP() << why;
    std::vector<ConvCase> cases{three_by_three(24, 2, 2, 32, 1), three_by_three(24, 2, 4, 32, 2),
                                three_by_three(24, 4, 4, 16, 1), three_by_three(24, 8, 8, 8, 1),
                                three_by_three(1, 3, 48, 32, 1)};
    std::mt19937_64 rng(41);
    RandomConvRanges ranges;
    ranges.max_groups = 4, ranges.random_fused_relu = true;
    for (int trial = 0; trial < 30; ++trial) cases.push_back(random_conv_case(rng, ranges));
    ConvCase wide_padding = three_by_three(3, 2, 3, 11, 1);
    wide_padding.kernel_h = wide_padding.kernel_w = 5, wide_padding.padding_h = wide_padding.padding_w = 2;
    wide_padding.bias = true;
    cases.push_back(wide_padding);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const ConvCase& c = cases[i];
        SCOPED_TRACE(c.str());
        const Tensor input = random_tensor(c.input_shape(), 300 + i);
        weft::WeightMap params{{"weight", random_tensor(c.weight_shape(), 400 + i)}};
        if (c.bias) params["bias"] = random_tensor({c.out_channels}, 500 + i);
        const auto run = [&](const char* isa) {
            const ForcedIsa forced(isa);
            return run_op_with_kernel("small_groups", "group_conv", c.attrs(), {input}, params)[0];
        };
        EXPECT_TRUE(all_close(run("avx512_direct"), run("avx512_padded"), 0, 0));
    }
}

INSTANTIATE_TEST_SUITE_P(, GroupConvSmallGroupsIsa,
                         ::testing::Values("avx512", "avx512_direct", "avx2", "portable"),
                         [](const auto& info) { return info.param; });

}  // namespace
