// relu against max(x, 0), out of place and in place.
#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/error.h"

namespace {

using weft::testing::numeric_gradient;
using weft::testing::run_op_backward;
using weft::testing::weighted_sum;
using weft::testing::all_close;
using weft::testing::infer_op;
using weft::testing::random_tensor;
using weft::testing::run_op;

weft::Tensor reference_relu(const weft::Tensor& x) {
    weft::Tensor y(x.desc());
    for (std::int64_t i = 0; i < x.numel(); ++i) y.as<float>()[i] = std::max(x.as<float>()[i], 0.f);
    return y;
}

weft::Tensor copy_of(const weft::Tensor& t) {
    weft::Tensor copy(t.desc());
    std::memcpy(copy.data(), t.data(), t.bytes());
    return copy;
}

// Runs relu's cpu kernel directly on host tensors (the cpu device computes in host memory), its
// output either a fresh tensor or, as the scheduler arranges for in-place nodes, `x` itself.
weft::Tensor run_relu_kernel(weft::Tensor x, bool in_place) {
    const weft::Registry& registry = weft::testing::build_registry();
    const std::unique_ptr<weft::Device> device = registry.create_device("cpu", {});
    const weft::Attributes attrs;
    const weft::KernelConfig config{"relu", attrs,   {x.desc()}, {x.desc()},
                                    {},     *device, false,      in_place};
    const std::unique_ptr<weft::Kernel> kernel =
        registry.select_kernel("relu", "cpu").factory.create(config);
    weft::Tensor y = in_place ? x : weft::Tensor(x.desc());
    const std::vector<weft::TensorView> inputs{x.view()}, outputs{y.view()};
    kernel->forward(weft::ForwardArgs{inputs, outputs, {}, nullptr});
    return y;
}

TEST(Relu, MatchesMaxOfXAndZeroOnRandomShapes) {
    std::mt19937 rng(5);
    auto pick = [&](int lo, int hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    for (int trial = 0; trial < 5; ++trial) {
        const weft::Shape shape{pick(2, 3), pick(1, 9), 2 * pick(0, 5) + 1, 2 * pick(0, 5) + 1};
        SCOPED_TRACE(weft::shape_str(shape));
        const weft::Tensor x = random_tensor(shape, 10 + trial);
        EXPECT_TRUE(all_close(run_op("relu", {}, {x}).at(0), reference_relu(x)));
    }
    const weft::Tensor logits = random_tensor({3, 10}, 20);
    EXPECT_TRUE(all_close(run_op("relu", {}, {logits}).at(0), reference_relu(logits)));
}

TEST(Relu, WritesASeparateOutputWithoutTouchingTheInput) {
    const weft::Tensor x = random_tensor({2, 5, 7, 3}, 30);
    const weft::Tensor original = copy_of(x);
    EXPECT_TRUE(all_close(run_relu_kernel(x, /*in_place=*/false), reference_relu(original)));
    EXPECT_TRUE(all_close(x, original, 0.0, 0.0));
}

TEST(Relu, RunsInPlaceOverItsInput) {
    EXPECT_EQ(weft::testing::build_registry().op("relu").inplace_input, 0);
    const weft::Tensor x = random_tensor({3, 4, 5, 5}, 40);
    const weft::Tensor expected = reference_relu(x);
    run_relu_kernel(x, /*in_place=*/true);
    EXPECT_TRUE(all_close(x, expected));
}

TEST(Relu, KeepsTheShapeAndHasNoParametersOrCost) {
    weft::TensorDesc desc;
    desc.shape = {2, 3, 9, 9};
    const weft::NodeSignature sig = infer_op("relu", {}, {desc});
    ASSERT_EQ(sig.outputs.size(), 1u);
    EXPECT_EQ(sig.outputs[0], desc);
    EXPECT_TRUE(sig.params.empty());
    EXPECT_EQ(sig.macs, 0);
}

TEST(Relu, BackwardMatchesFiniteDifferencesAwayFromTheKink) {
    weft::Tensor x = random_tensor({2, 3, 4, 5}, 50);
    // Keep every element at least 0.1 from zero, where the derivative jumps.
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        float& v = x.as<float>()[i];
        v = v < 0.f ? v - 0.1f : v + 0.1f;
    }
    const weft::Tensor r = random_tensor(x.shape(), 51);
    const weft::testing::BackwardResult result = run_op_backward("relu", {}, {x}, {r});
    const weft::Tensor expected =
        numeric_gradient(x, [&] { return weighted_sum(run_op("relu", {}, {x}), {r}); });
    EXPECT_TRUE(all_close(result.grad_inputs.at(0), expected, 1e-2, 1e-3));
}

TEST(Relu, BackwardPassesTheGradientOnlyWhereTheOutputIsPositive) {
    const weft::Tensor x = random_tensor({3, 7}, 52);
    const weft::Tensor dy = random_tensor(x.shape(), 53);
    const weft::testing::BackwardResult result = run_op_backward("relu", {}, {x}, {dy});
    weft::Tensor expected(x.desc());
    for (std::int64_t i = 0; i < x.numel(); ++i)
        expected.as<float>()[i] = x.as<float>()[i] > 0.f ? dy.as<float>()[i] : 0.f;
    EXPECT_TRUE(all_close(result.grad_inputs.at(0), expected, 0.0, 0.0));
}

}  // namespace
