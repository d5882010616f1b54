// pointwise_conv's direct CPU kernel: chosen over oneDNN at stride 1, declining what it does not
// serve, and equal to the oneDNN kernel (forward, dL/dx, dL/dW, dL/db) on every instruction-set
// path it has — on the IGC networks' secondary convolutions and on random geometries whose planes
// and channel counts fall on both sides of the vector widths, register blocks and bands. Its sums
// are made in an order fixed by the geometry, so any thread count gives the same bits.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <omp.h>

#include "group_conv_small_groups_isa.h"
#include "op_harness.h"
#include "pointwise_conv_case.h"
#include "weft/executor.h"
#include "weft/graph_file.h"
#include "weft/registry.h"

namespace {

using weft::Tensor;
using weft::testing::all_close;
using weft::testing::build_registry;
using weft::testing::ForcedIsa;
using weft::testing::missing_isa;
using weft::testing::PointwiseCase;
using weft::testing::random_tensor;

PointwiseCase pointwise(std::int64_t batch, std::int64_t groups, std::int64_t in_per_group,
                        std::int64_t out_per_group, std::int64_t height, std::int64_t width, bool bias) {
    PointwiseCase c;
    c.batch = batch, c.groups = groups;
    c.in_channels = groups * in_per_group, c.out_channels = groups * out_per_group;
    c.height = height, c.width = width;
    c.bias = bias;
    return c;
}

// The secondary convolutions of IGC-L24M2 (2, 4, 8 groups of 24 over the three stages), IGC-L4M8's
// (8 groups of 4), GPC's dense 1x1, and a plane of 17 x 19 = 323 pixels: a band of 256 and a
// short one, ending in a partial vector.
std::vector<PointwiseCase> network_cases() {
    return {pointwise(2, 2, 24, 24, 32, 32, false), pointwise(2, 4, 24, 24, 16, 16, true),
            pointwise(2, 8, 24, 24, 8, 8, false),   pointwise(2, 8, 4, 4, 32, 32, true),
            pointwise(2, 1, 32, 32, 8, 8, true),    pointwise(3, 2, 24, 24, 17, 19, true)};
}

weft::testing::BackwardResult backward(const PointwiseCase& c, const std::string& kernel,
                                       std::uint64_t seed) {
    const Tensor input = random_tensor(c.input_shape(), seed);
    weft::WeightMap params{{"weight", random_tensor(c.weight_shape(), seed + 1)}};
    if (c.bias) params["bias"] = random_tensor({c.out_channels}, seed + 2);
    const Tensor r = random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()}, seed + 3);
    return weft::testing::run_op_backward("pointwise_conv", c.attrs(), {input}, {r}, params, kernel);
}

void expect_same_as_onednn(const PointwiseCase& c, std::uint64_t seed) {
    SCOPED_TRACE(c.str());
    const auto onednn = backward(c, "onednn", seed);
    const auto direct = backward(c, "direct", seed);
    EXPECT_TRUE(all_close(direct.outputs[0], onednn.outputs[0]));
    EXPECT_TRUE(all_close(direct.grad_inputs[0], onednn.grad_inputs[0]));
    ASSERT_EQ(direct.grad_params.size(), onednn.grad_params.size());
    for (std::size_t p = 0; p < onednn.grad_params.size(); ++p)
        EXPECT_TRUE(all_close(direct.grad_params[p], onednn.grad_params[p]));
    // And in inference, where the kernel is built without its training state.
    const Tensor input = random_tensor(c.input_shape(), seed);
    weft::WeightMap params{{"weight", random_tensor(c.weight_shape(), seed + 1)}};
    if (c.bias) params["bias"] = random_tensor({c.out_channels}, seed + 2);
    const auto forward = [&](const std::string& kernel) {
        return weft::testing::run_op_with_kernel(kernel, "pointwise_conv", c.attrs(), {input}, params)[0];
    };
    EXPECT_TRUE(all_close(forward("direct"), forward("onednn")));
}

TEST(PointwiseConvDirect, IsTheKernelTheRegistryPicksAtStrideOne) {
    const weft::RegisteredKernel& chosen = build_registry().select_kernel("pointwise_conv", "cpu", {});
    EXPECT_EQ(chosen.factory.name, "direct");
    EXPECT_GT(chosen.factory.priority, 0);  // above the oneDNN kernel
}

// The registry asks per node: IGC-L24M2's secondaries go to this kernel, and the executor says so.
TEST(PointwiseConvDirect, TakesTheSecondaryConvolutionsOfAnIgcNetwork) {
    weft::Graph g = weft::resolve_graph("igc-l24m2-d8");
    g.set_batch(2);
    weft::infer_shapes(g, build_registry());
    const weft::Executor exec(g, build_registry(), weft::init_weights(g, 1), {});
    const std::string secondary = exec.kernel_name(g.find_node("stage1.block0.secondary"));
    EXPECT_NE(secondary.find("pointwise_conv_direct_cpu:direct"), std::string::npos) << secondary;
}

// Residual projections (stride 2) and groups wider than 64 channels go to oneDNN, with the reason.
TEST(PointwiseConvDirect, DeclinesStridesAboveOneAndWideGroups) {
    const weft::RegisteredKernel* direct = build_registry().kernels("pointwise_conv", "cpu").front();
    ASSERT_EQ(direct->factory.name, "direct");
    const auto device = build_registry().create_device("cpu", {});
    const auto reason = [&](const PointwiseCase& c) {
        const weft::testing::OpNode node = weft::testing::op_node("pointwise_conv", c.attrs(),
                                                                  {{weft::DType::f32, c.input_shape()}});
        return direct->factory.declines(node.config(*device, /*training=*/true));
    };
    PointwiseCase strided = pointwise(1, 2, 4, 4, 8, 8, false);
    strided.stride_h = strided.stride_w = 2;
    EXPECT_EQ(reason(strided), "stride 2x2: the direct kernel reads every pixel (stride 1 only)");
    EXPECT_EQ(reason(pointwise(1, 1, 128, 64, 8, 8, false)),
              "groups of 128 input and 64 output channels: at most 64 each");
    EXPECT_EQ(reason(pointwise(1, 2, 24, 24, 8, 8, true)), "");
}

class PointwiseConvDirectIsa : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (const std::string why = missing_isa(GetParam()); !why.empty()) GTEST_SKIP() << why;
    }
};

TEST_P(PointwiseConvDirectIsa, GivesOnednnsOutputsAndGradientsOnTheNetworksShapes) {
    const ForcedIsa forced(GetParam());
    std::uint64_t seed = 100;
    for (const PointwiseCase& c : network_cases()) expect_same_as_onednn(c, seed += 4);
}

// Batch 1-3, 1-4 groups of 1-40 channels each side (every edge of the 4 x 3 and 8 x 3 register
// blocks), planes of 1 to 30 x 30 pixels (bands of 256 and their remainders, partial vectors).
TEST_P(PointwiseConvDirectIsa, GivesOnednnsOutputsAndGradientsOnRandomGeometries) {
    const ForcedIsa forced(GetParam());
    std::mt19937_64 rng(2019);
    const auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    for (int trial = 0; trial < 24; ++trial) {
        const PointwiseCase c = pointwise(pick(1, 3), pick(1, 4), pick(1, 40), pick(1, 40), pick(1, 30),
                                          pick(1, 30), pick(0, 1) == 1);
        expect_same_as_onednn(c, 300 + 4 * trial);
    }
}

INSTANTIATE_TEST_SUITE_P(, PointwiseConvDirectIsa, ::testing::Values("avx512", "avx2", "portable"),
                         [](const auto& info) { return info.param; });

// Channel c of every image of a [N, C, H, W] tensor moved to channel to[c] (`gather`: channel c
// taken from channel to[c]).
Tensor move_channels(const Tensor& t, const std::vector<std::int64_t>& to, bool gather) {
    Tensor moved(t.desc());
    const std::int64_t channels = t.shape()[1], plane = t.shape()[2] * t.shape()[3];
    for (std::int64_t n = 0; n < t.shape()[0]; ++n) {
        for (std::int64_t c = 0; c < channels; ++c) {
            const std::int64_t from = gather ? to[c] : c, into = gather ? c : to[c];
            std::copy_n(t.as<float>() + (n * channels + from) * plane, plane,
                        moved.as<float>() + (n * channels + into) * plane);
        }
    }
    return moved;
}

// With input_map and output_map (the fold_permutations pass's), the kernel equals oneDNN's
// convolution on the input with its channels gathered, its output scattered: forward, and every
// gradient (dx scattered back to the channels it was read from).
TEST(PointwiseConvDirect, ChannelMapsEqualMovingTheChannelsAroundTheConvolution) {
    const PointwiseCase c = pointwise(2, 3, 4, 5, 7, 9, true);
    std::mt19937_64 rng(77);
    std::vector<std::int64_t> input_map(static_cast<std::size_t>(c.in_channels)),
        output_map(static_cast<std::size_t>(c.out_channels));
    std::iota(input_map.begin(), input_map.end(), 0);
    std::iota(output_map.begin(), output_map.end(), 0);
    std::shuffle(input_map.begin(), input_map.end(), rng);
    std::shuffle(output_map.begin(), output_map.end(), rng);
    weft::Attributes mapped = c.attrs();
    mapped.set("input_map", input_map);
    mapped.set("output_map", output_map);

    const Tensor x = random_tensor(c.input_shape(), 81);
    const weft::WeightMap params{{"weight", random_tensor(c.weight_shape(), 82)},
                                 {"bias", random_tensor({c.out_channels}, 83)}};
    const Tensor r = random_tensor({c.batch, c.out_channels, c.height, c.width}, 84);
    const auto direct = weft::testing::run_op_backward("pointwise_conv", mapped, {x}, {r}, params, "direct");
    const auto plain =
        weft::testing::run_op_backward("pointwise_conv", c.attrs(), {move_channels(x, input_map, true)},
                                       {move_channels(r, output_map, true)}, params, "onednn");
    EXPECT_TRUE(all_close(direct.outputs[0], move_channels(plain.outputs[0], output_map, false)));
    EXPECT_TRUE(all_close(direct.grad_inputs[0], move_channels(plain.grad_inputs[0], input_map, false)));
    EXPECT_TRUE(all_close(direct.grad_params[0], plain.grad_params[0]));
    EXPECT_TRUE(all_close(direct.grad_params[1], plain.grad_params[1]));
}

// oneDNN reads tensors in order: it declines a node with maps, saying which pass made them.
TEST(PointwiseConvDirect, OnednnDeclinesChannelMaps) {
    const PointwiseCase c = pointwise(1, 2, 2, 2, 4, 4, false);
    weft::Attributes mapped = c.attrs();
    mapped.set("input_map", std::vector<std::int64_t>{1, 0, 3, 2});
    const weft::RegisteredKernel* onednn = build_registry().kernels("pointwise_conv", "cpu").back();
    ASSERT_EQ(onednn->factory.name, "onednn");
    const auto device = build_registry().create_device("cpu", {});
    const auto node = weft::testing::op_node("pointwise_conv", mapped, {{weft::DType::f32, c.input_shape()}});
    const std::string why = onednn->factory.declines(node.config(*device, false));
    EXPECT_NE(why.find("fold_permutations"), std::string::npos) << why;
}

// Every sum's order is fixed by the geometry (the bands, the images in order), not by which thread
// took which task: 1, 2 and 3 threads give the same bits, forward and backward.
TEST(PointwiseConvDirect, AnyThreadCountGivesTheSameBits) {
    const PointwiseCase c = pointwise(5, 2, 24, 24, 17, 19, true);
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto one = backward(c, "direct", 7);
    for (const int threads : {2, 3}) {
        SCOPED_TRACE(threads);
        omp_set_num_threads(threads);
        const auto many = backward(c, "direct", 7);
        EXPECT_TRUE(all_close(many.outputs[0], one.outputs[0], 0, 0));
        EXPECT_TRUE(all_close(many.grad_inputs[0], one.grad_inputs[0], 0, 0));
        for (std::size_t p = 0; p < one.grad_params.size(); ++p)
            EXPECT_TRUE(all_close(many.grad_params[p], one.grad_params[p], 0, 0));
    }
    omp_set_num_threads(before);
}

}  // namespace
