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

}  // namespace
