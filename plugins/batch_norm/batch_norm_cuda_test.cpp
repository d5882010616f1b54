// batch_norm's cuda kernel against the cpu kernel (the direct one, which the operator's own tests
// check against a reference): inference and training forward, running statistics, and dx, dγ, dβ,
// on IGC's shapes, odd planes and [N, C], plain and with the fused ReLU.
//
// Tolerances (float32): outputs 1e-5 relative + 1e-5 absolute (the batch statistics are summed in
// double on both, in another order); training's outputs, gradients and running statistics
// 1e-4 + 1e-4 (the cpu adds each plane in float before its double sum, so dγ and dβ over
// 256·32·32 items differ by up to ~1e-5 absolute). The fused ReLU's gradient jumps where its
// input crosses zero, so its training test keeps every input at least 0.5 from the batch mean
// (with γ = 1, β = 0 no normalised value comes near zero and the two masks must agree).
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend_compare.h"
#include "op_harness.h"

namespace {

using weft::testing::all_close;
using weft::testing::backward_matches;
using weft::testing::forward_matches;
using weft::testing::igc_and_odd_activation_shapes;
using weft::testing::random_tensor;
using weft::testing::Tolerance;

constexpr Tolerance kForward{1e-5, 1e-5};
constexpr Tolerance kTraining{1e-4, 1e-4};

weft::WeightMap random_parameters(std::int64_t channels, int seed) {
    return {{"weight", random_tensor({channels}, seed, 0.5f, 1.5f)},
            {"bias", random_tensor({channels}, seed + 1)},
            {"running_mean", random_tensor({channels}, seed + 2)},
            {"running_var", random_tensor({channels}, seed + 3, 0.5f, 2.f)}};
}

weft::Attributes settings(bool relu, double momentum = 0.9) {
    weft::Attributes attrs;
    attrs.set("fused_relu", relu);
    attrs.set("momentum", momentum);
    return attrs;
}

std::vector<weft::Shape> shapes() {
    std::vector<weft::Shape> all = igc_and_odd_activation_shapes();
    all.push_back({16, 10});      // [N, C]: planes of one item
    all.push_back({4, 6, 3, 5, 2});  // two spatial dimensions folded into one plane
    return all;
}

// sign(r)·(0.5 + |r|/2): every item at least 0.5 from zero, and the batch mean within a few
// hundredths of it.
weft::Tensor away_from_zero(const weft::Shape& shape, int seed) {
    weft::Tensor x = random_tensor(shape, seed);
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        float& v = x.as<float>()[i];
        v = std::copysign(0.5f + std::fabs(v) / 2.f, v);
    }
    return x;
}

TEST(BatchNormCuda, InferenceMatchesTheCpuKernelWithAndWithoutTheFusedRelu) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 1;
    for (const weft::Shape& shape : shapes())
        for (bool relu : {false, true}) {
            SCOPED_TRACE(testing::Message() << weft::shape_str(shape) << (relu ? " relu" : ""));
            EXPECT_TRUE(forward_matches("batch_norm", settings(relu), {random_tensor(shape, seed)}, kForward, "cuda",
                                        random_parameters(shape[1], seed + 1)));
            seed += 10;
        }
}

TEST(BatchNormCuda, TrainingMatchesTheCpuKernelInOutputsGradientsAndRunningStatistics) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 100;
    for (const weft::Shape& shape : shapes()) {
        SCOPED_TRACE(weft::shape_str(shape));
        const weft::Tensor x = random_tensor(shape, seed);
        const weft::Tensor dy = random_tensor(shape, seed + 1);
        EXPECT_TRUE(backward_matches("batch_norm", settings(false), {x}, {dy}, kTraining, "cuda",
                                     random_parameters(shape[1], seed + 2)));
        seed += 10;
    }
}

TEST(BatchNormCuda, TrainingKeepsItsAccuracyWhenTheMeanDwarfsTheSpread) {
    WEFT_SKIP_WITHOUT_CUDA();
    // x = 100 + U(-1, 1): E[x²] − E[x]² would cancel four digits in float.
    weft::Tensor x = random_tensor({64, 48, 16, 16}, 7);
    for (std::int64_t i = 0; i < x.numel(); ++i) x.as<float>()[i] += 100.f;
    const weft::Tensor dy = random_tensor(x.shape(), 8);
    EXPECT_TRUE(
        backward_matches("batch_norm", settings(false), {x}, {dy}, kTraining, "cuda", random_parameters(48, 9)));
}

TEST(BatchNormCuda, TrainingWithTheFusedReluMatchesTheCpuKernelAwayFromTheKink) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 200;
    for (const weft::Shape& shape : shapes()) {
        SCOPED_TRACE(weft::shape_str(shape));
        const weft::Tensor dy = random_tensor(shape, seed + 1);
        const weft::Tensor x = away_from_zero(shape, seed);
        EXPECT_TRUE(backward_matches("batch_norm", settings(true, 0.5), {x}, {dy}, kTraining));
        seed += 10;
    }
}

// --sync-bn on the GPU: kernels on shards of a batch (threads, each with a device of its own on
// the same GPU) that sum their statistics over the group give the whole batch's outputs, dx and
// running statistics, and γ's and β's gradients that add up to the whole batch's. Both sides
// sum in double, in other orders and about other shifts (the group's about the running mean),
// hence kTraining.
TEST(BatchNormCuda, StatisticsOverShardsEqualTheWholeBatchs) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 300;
    for (const auto& [shape, shards] : std::vector<std::pair<weft::Shape, int>>{
             {{8, 6, 5, 5}, 2}, {{16, 32, 8, 8}, 4}, {{6, 10}, 3}}) {
        for (bool relu : {false, true}) {
            SCOPED_TRACE(weft::shape_str(shape) + " in " + std::to_string(shards) + (relu ? " relu" : ""));
            const weft::Tensor x = relu ? away_from_zero(shape, seed) : random_tensor(shape, seed, -2.f, 3.f);
            const weft::Tensor dy = random_tensor(shape, seed + 1);
            const weft::WeightMap params = random_parameters(shape[1], seed + 2);
            seed += 10;
            const auto whole = weft::testing::run_op_backward("batch_norm", settings(relu), {x}, {dy}, params, {},
                                                              1, "cuda");
            const auto sharded = weft::testing::run_op_backward_sharded("batch_norm", settings(relu), {x}, {dy},
                                                                        shards, params, {}, "cuda");
            EXPECT_TRUE(all_close(sharded.outputs[0], whole.outputs[0], kTraining.rtol, kTraining.atol));
            EXPECT_TRUE(all_close(sharded.grad_inputs[0], whole.grad_inputs[0], kTraining.rtol, kTraining.atol));
            for (std::size_t p = 0; p < 2; ++p)
                EXPECT_TRUE(all_close(sharded.grad_params[p], whole.grad_params[p], kTraining.rtol, kTraining.atol))
                    << p;
            for (const char* name : {"running_mean", "running_var"})
                EXPECT_TRUE(all_close(sharded.params.at(name), whole.params.at(name), kTraining.rtol, kTraining.atol))
                    << name;
        }
    }
}

}  // namespace
