// channel_permute against a naive reference of the paper's P^T (Eq. 2): channel i·(C/g)+j of
// the input is channel j·g+i of the output.
#include <functional>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/error.h"

namespace {

using weft::testing::numeric_gradient;
using weft::testing::run_op_backward;
using weft::testing::weighted_sum;
using weft::testing::all_close;
using weft::testing::f32;
using weft::testing::throws_error_containing;
using weft::testing::infer_op;
using weft::testing::random_tensor;
using weft::testing::run_op;
using weft::testing::tensor_from;

weft::Attributes groups_attr(std::int64_t groups) {
    weft::Attributes attrs;
    attrs.set("groups", groups);
    return attrs;
}

weft::Tensor permute(const weft::Tensor& x, std::int64_t groups) {
    return run_op("channel_permute", groups_attr(groups), {x}).at(0);
}

// The definition, one element at a time.
weft::Tensor reference_permute(const weft::Tensor& x, std::int64_t groups) {
    weft::Tensor y(x.desc());
    const std::int64_t n = x.shape()[0], c = x.shape()[1], plane = x.numel() / (n * c);
    const std::int64_t per_group = c / groups;
    for (std::int64_t b = 0; b < n; ++b)
        for (std::int64_t i = 0; i < groups; ++i)
            for (std::int64_t j = 0; j < per_group; ++j)
                for (std::int64_t p = 0; p < plane; ++p)
                    y.as<float>()[(b * c + j * groups + i) * plane + p] =
                        x.as<float>()[(b * c + i * per_group + j) * plane + p];
    return y;
}

// Random [N, g·k, H, W] with batch > 1 and odd spatial sizes.
struct PermuteCase {
    weft::Shape shape;
    std::int64_t groups;
};
std::vector<PermuteCase> random_cases(unsigned seed, int count) {
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    std::vector<PermuteCase> cases;
    for (int i = 0; i < count; ++i) {
        const std::int64_t groups = pick(1, 6), per_group = pick(1, 7);
        cases.push_back(
            {{pick(2, 3), groups * per_group, 2 * pick(0, 4) + 1, 2 * pick(0, 4) + 1}, groups});
    }
    return cases;
}

TEST(ChannelPermute, TransposesTheGroupsByChannelsMatrix) {
    // C = 6, g = 2: rows (c0 c1 c2), (c3 c4 c5) -> columns read out: c0 c3 c1 c4 c2 c5.
    const weft::Tensor x = tensor_from({1, 6, 1, 1}, {0, 1, 2, 3, 4, 5});
    EXPECT_TRUE(all_close(permute(x, 2), tensor_from({1, 6, 1, 1}, {0, 3, 1, 4, 2, 5})));
    // g = 3: rows (c0 c1), (c2 c3), (c4 c5) -> c0 c2 c4 c1 c3 c5.
    EXPECT_TRUE(all_close(permute(x, 3), tensor_from({1, 6, 1, 1}, {0, 2, 4, 1, 3, 5})));
}

TEST(ChannelPermute, MatchesTheNaiveReferenceOnRandomShapes) {
    for (const PermuteCase& c : random_cases(7, 8)) {
        SCOPED_TRACE(weft::shape_str(c.shape) + " groups " + std::to_string(c.groups));
        const weft::Tensor x = random_tensor(c.shape, 11);
        EXPECT_TRUE(all_close(permute(x, c.groups), reference_permute(x, c.groups)));
    }
}

TEST(ChannelPermute, PermutingByGThenByCOverGIsTheIdentity) {
    // P (groups M) undoes P^T (groups L) when C = L·M: Eq. 4 returns to primary order.
    for (const PermuteCase& c : random_cases(13, 6)) {
        SCOPED_TRACE(weft::shape_str(c.shape) + " groups " + std::to_string(c.groups));
        const weft::Tensor x = random_tensor(c.shape, 17);
        const weft::Tensor back = permute(permute(x, c.groups), c.shape[1] / c.groups);
        EXPECT_TRUE(all_close(back, x, 0.0, 0.0));
    }
}

TEST(ChannelPermute, PermutesFeatureVectorsOfRankTwo) {
    const weft::Tensor x = random_tensor({3, 12}, 19);
    EXPECT_TRUE(all_close(permute(x, 4), reference_permute(x, 4)));
}

TEST(ChannelPermute, KeepsTheShapeAndHasNoParametersOrCost) {
    const weft::NodeSignature sig =
        infer_op("channel_permute", groups_attr(4), {f32({2, 8, 5, 5})});
    ASSERT_EQ(sig.outputs.size(), 1u);
    EXPECT_EQ(sig.outputs[0].shape, (weft::Shape{2, 8, 5, 5}));
    EXPECT_TRUE(sig.params.empty());
    EXPECT_EQ(sig.macs, 0);
}

TEST(ChannelPermute, RejectsGroupsThatDoNotDivideTheChannels) {
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("channel_permute", groups_attr(5), {f32({2, 12, 3, 3})});
        },
        "groups = 5 must divide the channel count"));
}

TEST(ChannelPermute, RequiresThePositiveGroupsAttribute) {
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("channel_permute", {}, {f32({2, 12, 3, 3})});
        },
        "groups"));
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("channel_permute", groups_attr(0), {f32({2, 12, 3, 3})});
        },
        "out of range"));
}

TEST(ChannelPermute, RejectsTensorsWithoutAChannelDimension) {
    EXPECT_TRUE(throws_error_containing(
        [] { infer_op("channel_permute", groups_attr(2), {f32({12})}); }, "rank 2 or more"));
}

TEST(ChannelPermute, BackwardMatchesFiniteDifferences) {
    const weft::Tensor x = random_tensor({2, 6, 3, 2}, 70);
    const weft::Tensor r = random_tensor(x.shape(), 71);
    const weft::testing::BackwardResult result = run_op_backward("channel_permute", groups_attr(2), {x}, {r});
    const weft::Tensor expected = numeric_gradient(x, [&] { return weighted_sum({permute(x, 2)}, {r}); });
    EXPECT_TRUE(all_close(result.grad_inputs.at(0), expected, 1e-2, 1e-3));
}

TEST(ChannelPermute, BackwardIsTheInversePermutationWithGroupsCOverG) {
    for (const PermuteCase& c : random_cases(23, 5)) {
        SCOPED_TRACE(weft::shape_str(c.shape) + " groups " + std::to_string(c.groups));
        const weft::Tensor dy = random_tensor(c.shape, 29);
        const weft::testing::BackwardResult result =
            run_op_backward("channel_permute", groups_attr(c.groups), {random_tensor(c.shape, 31)}, {dy});
        EXPECT_TRUE(all_close(result.grad_inputs.at(0), permute(dy, c.shape[1] / c.groups), 0.0, 0.0));
    }
}

}  // namespace
