// add against an element-wise sum of its inputs, out of place and in place over input 0.
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

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

weft::Tensor reference_sum(const std::vector<weft::Tensor>& xs) {
    weft::Tensor y(xs[0].desc());
    for (std::int64_t i = 0; i < y.numel(); ++i) {
        double sum = 0;
        for (const weft::Tensor& x : xs) sum += x.as<float>()[i];
        y.as<float>()[i] = static_cast<float>(sum);
    }
    return y;
}

std::vector<weft::Tensor> random_inputs(const weft::Shape& shape, int count, std::uint64_t seed) {
    std::vector<weft::Tensor> xs;
    for (int i = 0; i < count; ++i) xs.push_back(random_tensor(shape, seed + i));
    return xs;
}

// Runs add's cpu kernel directly on host tensors (the cpu device computes in host memory), its
// output either a fresh tensor or, as the scheduler arranges for in-place nodes, input 0 itself.
weft::Tensor run_add_kernel(const std::vector<weft::Tensor>& xs, bool in_place) {
    const weft::Registry& registry = weft::testing::build_registry();
    const std::unique_ptr<weft::Device> device = registry.create_device("cpu", {});
    const weft::Attributes attrs;
    std::vector<weft::TensorDesc> descs;
    std::vector<weft::TensorView> inputs;
    for (const weft::Tensor& x : xs) {
        descs.push_back(x.desc());
        inputs.push_back(x.view());
    }
    const weft::KernelConfig config{"add", attrs, descs, {descs[0]}, {}, *device, false, in_place};
    const std::unique_ptr<weft::Kernel> kernel =
        registry.select_kernel("add", "cpu").factory.create(config);
    weft::Tensor y = in_place ? xs[0] : weft::Tensor(descs[0]);
    const std::vector<weft::TensorView> outputs{y.view()};
    kernel->forward(weft::ForwardArgs{inputs, outputs, {}, nullptr});
    return y;
}

TEST(Add, SumsTwoInputsOnRandomShapes) {
    std::mt19937 rng(9);
    auto pick = [&](int lo, int hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    for (int trial = 0; trial < 5; ++trial) {
        const weft::Shape shape{pick(2, 3), pick(1, 9), 2 * pick(0, 5) + 1, 2 * pick(0, 5) + 1};
        SCOPED_TRACE(weft::shape_str(shape));
        const std::vector<weft::Tensor> xs = random_inputs(shape, 2, 10 * trial);
        EXPECT_TRUE(all_close(run_op("add", {}, xs).at(0), reference_sum(xs)));
    }
}

TEST(Add, SumsAnyNumberOfInputs) {
    for (int count : {3, 4, 5}) {
        SCOPED_TRACE(count);
        const std::vector<weft::Tensor> xs = random_inputs({2, 3, 5, 7}, count, 100 + count);
        EXPECT_TRUE(all_close(run_op("add", {}, xs).at(0), reference_sum(xs)));
    }
}

TEST(Add, WritesASeparateOutputWithoutTouchingTheInputs) {
    const std::vector<weft::Tensor> xs = random_inputs({3, 4, 3, 5}, 3, 200);
    const weft::Tensor expected = reference_sum(xs);
    EXPECT_TRUE(all_close(run_add_kernel(xs, /*in_place=*/false), expected));
    EXPECT_TRUE(all_close(xs[0], random_tensor({3, 4, 3, 5}, 200), 0.0, 0.0));
}

TEST(Add, RunsInPlaceOverInputZero) {
    EXPECT_EQ(weft::testing::build_registry().op("add").inplace_input, 0);
    const std::vector<weft::Tensor> xs = random_inputs({2, 6, 5, 5}, 3, 300);
    const weft::Tensor expected = reference_sum(xs);
    run_add_kernel(xs, /*in_place=*/true);
    EXPECT_TRUE(all_close(xs[0], expected));
}

TEST(Add, KeepsTheShapeAndHasNoParametersOrCost) {
    const weft::NodeSignature sig = infer_op("add", {}, {f32({2, 8, 3, 3}), f32({2, 8, 3, 3})});
    ASSERT_EQ(sig.outputs.size(), 1u);
    EXPECT_EQ(sig.outputs[0].shape, (weft::Shape{2, 8, 3, 3}));
    EXPECT_TRUE(sig.params.empty());
    EXPECT_EQ(sig.macs, 0);
}

TEST(Add, RejectsInputsOfDifferentShapes) {
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("add", {}, {f32({2, 8, 3, 3}), f32({2, 8, 3, 3}), f32({2, 4, 3, 3})});
        },
        "input 2 is f32[2, 4, 3, 3]"));
}

TEST(Add, RejectsASingleInput) {
    EXPECT_TRUE(throws_error_containing([] { infer_op("add", {}, {f32({2, 8})}); }, "at least 2"));
}

TEST(Add, BackwardMatchesFiniteDifferencesForEveryInput) {
    const std::vector<weft::Tensor> xs{random_tensor({2, 3, 4, 4}, 60), random_tensor({2, 3, 4, 4}, 61),
                                       random_tensor({2, 3, 4, 4}, 62)};
    const weft::Tensor r = random_tensor(xs[0].shape(), 63);
    const weft::testing::BackwardResult result = run_op_backward("add", {}, xs, {r});
    ASSERT_EQ(result.grad_inputs.size(), xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) {
        SCOPED_TRACE("input " + std::to_string(i));
        const weft::Tensor expected =
            numeric_gradient(xs[i], [&] { return weighted_sum(run_op("add", {}, xs), {r}); });
        EXPECT_TRUE(all_close(result.grad_inputs[i], expected, 1e-2, 1e-3));
    }
}

TEST(Add, BackwardGivesEachInputTheOutputGradientUnchanged) {
    const std::vector<weft::Tensor> xs{random_tensor({3, 5}, 64), random_tensor({3, 5}, 65)};
    const weft::Tensor dy = random_tensor({3, 5}, 66);
    const weft::testing::BackwardResult result = run_op_backward("add", {}, xs, {dy});
    for (const weft::Tensor& dx : result.grad_inputs) EXPECT_TRUE(all_close(dx, dy, 0.0, 0.0));
}

}  // namespace
