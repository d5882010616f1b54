// softmax against a reference computed in double with the maximum subtracted.
#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/error.h"

namespace {

using weft::testing::all_close;
using weft::testing::f32;
using weft::testing::throws_error_containing;
using weft::testing::infer_op;
using weft::testing::random_tensor;
using weft::testing::run_op;

weft::Attributes axis_attr(std::int64_t axis) {
    weft::Attributes attrs;
    attrs.set("axis", axis);
    return attrs;
}

// Softmax along `axis` of a row-major tensor: outer × K × inner.
weft::Tensor reference_softmax(const weft::Tensor& x, int axis) {
    const weft::Shape& s = x.shape();
    std::int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= s[d];
    for (int d = axis + 1; d < static_cast<int>(s.size()); ++d) inner *= s[d];
    const std::int64_t k = s[axis];
    weft::Tensor y(x.desc());
    for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t i = 0; i < inner; ++i) {
            auto at = [&](std::int64_t j) { return (o * k + j) * inner + i; };
            double top = -INFINITY, sum = 0;
            for (std::int64_t j = 0; j < k; ++j) top = std::max(top, double(x.as<float>()[at(j)]));
            for (std::int64_t j = 0; j < k; ++j) sum += std::exp(x.as<float>()[at(j)] - top);
            for (std::int64_t j = 0; j < k; ++j)
                y.as<float>()[at(j)] =
                    static_cast<float>(std::exp(x.as<float>()[at(j)] - top) / sum);
        }
    return y;
}

TEST(Softmax, MatchesTheReferenceOverTheClassesOfRandomLogits) {
    std::mt19937 rng(13);
    auto pick = [&](int lo, int hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    for (int trial = 0; trial < 6; ++trial) {
        const weft::Shape shape{pick(2, 5), 2 * pick(0, 50) + 1};
        SCOPED_TRACE(weft::shape_str(shape));
        const weft::Tensor x = random_tensor(shape, 40 + trial, -8.f, 8.f);
        EXPECT_TRUE(all_close(run_op("softmax", {}, {x}).at(0), reference_softmax(x, 1)));
    }
}

TEST(Softmax, AcceptsLogitsShapedNK11) {
    const weft::Tensor x = random_tensor({3, 10, 1, 1}, 50, -5.f, 5.f);
    const weft::Tensor y = run_op("softmax", {}, {x}).at(0);
    EXPECT_EQ(y.shape(), (weft::Shape{3, 10, 1, 1}));
    EXPECT_TRUE(all_close(y, reference_softmax(x, 1)));
}

TEST(Softmax, StaysFiniteAndSumsToOneForHugeLogits) {
    // exp(1000) overflows f32 and double alike; only the max-subtracted form survives.
    const weft::Tensor x = random_tensor({4, 100}, 60, 900.f, 1100.f);
    const weft::Tensor y = run_op("softmax", {}, {x}).at(0);
    EXPECT_TRUE(all_close(y, reference_softmax(x, 1)));
    for (std::int64_t n = 0; n < 4; ++n) {
        double sum = 0;
        for (std::int64_t k = 0; k < 100; ++k) {
            const float v = y.as<float>()[n * 100 + k];
            ASSERT_TRUE(std::isfinite(v));
            sum += v;
        }
        EXPECT_NEAR(sum, 1.0, 1e-5);
    }
}

TEST(Softmax, NormalisesAlongTheGivenAxis) {
    const weft::Tensor x = random_tensor({5, 3, 7}, 70, -3.f, 3.f);
    EXPECT_TRUE(all_close(run_op("softmax", axis_attr(0), {x}).at(0), reference_softmax(x, 0)));
    EXPECT_TRUE(all_close(run_op("softmax", axis_attr(2), {x}).at(0), reference_softmax(x, 2)));
}

TEST(Softmax, KeepsTheShapeAndHasNoParametersOrCost) {
    const weft::NodeSignature sig = infer_op("softmax", {}, {f32({8, 1000})});
    ASSERT_EQ(sig.outputs.size(), 1u);
    EXPECT_EQ(sig.outputs[0].shape, (weft::Shape{8, 1000}));
    EXPECT_TRUE(sig.params.empty());
    EXPECT_EQ(sig.macs, 0);
}

TEST(Softmax, RejectsAnAxisBeyondTheRank) {
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("softmax", axis_attr(2), {f32({8, 10})});
        },
        "axis 2 does not exist in f32[8, 10]"));
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("softmax", axis_attr(-1), {f32({8, 10})});
        },
        "out of range"));
}

}  // namespace

namespace {

// Along the class axis of [N, K] and along axis 1 of [N, C, H, W] (inner extent > 1).
TEST(Softmax, BackwardMatchesFiniteDifferences) {
    for (const auto& [shape, axis] : std::vector<std::pair<weft::Shape, int>>{{{3, 5}, 1}, {{2, 4, 2, 3}, 1}}) {
        const weft::Tensor x = random_tensor(shape, 71, -2.f, 2.f);
        const weft::Tensor dy = random_tensor(shape, 72);
        const auto result = weft::testing::run_op_backward("softmax", axis_attr(axis), {x}, {dy});
        EXPECT_TRUE(all_close(result.outputs.at(0), reference_softmax(x, axis), 1e-5, 1e-6));
        const weft::Tensor expected = weft::testing::numeric_gradient(
            x, [&] { return weft::testing::weighted_sum(run_op("softmax", axis_attr(axis), {x}), {dy}); }, 1e-3f);
        EXPECT_TRUE(all_close(result.grad_inputs.at(0), expected, 1e-2, 1e-4)) << weft::shape_str(shape);
    }
}

}  // namespace
