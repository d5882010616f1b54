// batch_norm against a naive reference (inference), batch statistics and finite differences
// (training); inference: y = (x - mean) / sqrt(var + eps) · weight +
// bias per channel, with PyTorch-named parameters the paper's #params leaves out.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>
#include <functional>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <omp.h>

#include "op_harness.h"
#include "weft/error.h"

namespace {

using weft::testing::all_close;
using weft::testing::f32;
using weft::testing::throws_error_containing;
using weft::testing::infer_op;
using weft::testing::random_tensor;
using weft::testing::numeric_gradient;
using weft::testing::run_op;
using weft::testing::run_op_backward;
using weft::testing::weighted_sum;

// Random parameters for C channels; variances kept positive.
weft::WeightMap random_params(std::int64_t channels, std::uint64_t seed, float var_lo = 0.1f,
                              float var_hi = 2.f) {
    return {{"weight", random_tensor({channels}, seed, 0.5f, 1.5f)},
            {"bias", random_tensor({channels}, seed + 1)},
            {"running_mean", random_tensor({channels}, seed + 2)},
            {"running_var", random_tensor({channels}, seed + 3, var_lo, var_hi)}};
}

weft::Tensor reference_batch_norm(const weft::Tensor& x, const weft::WeightMap& p, double eps) {
    weft::Tensor y(x.desc());
    const std::int64_t n = x.shape()[0], c = x.shape()[1], plane = x.numel() / (n * c);
    for (std::int64_t b = 0; b < n; ++b)
        for (std::int64_t ch = 0; ch < c; ++ch) {
            const double scale = p.at("weight").as<float>()[ch] /
                                 std::sqrt(double(p.at("running_var").as<float>()[ch]) + eps);
            const double mean = p.at("running_mean").as<float>()[ch];
            const double shift = p.at("bias").as<float>()[ch];
            for (std::int64_t i = (b * c + ch) * plane; i < (b * c + ch + 1) * plane; ++i)
                y.as<float>()[i] = static_cast<float>((x.as<float>()[i] - mean) * scale + shift);
        }
    return y;
}

weft::Attributes eps_attr(double eps) {
    weft::Attributes attrs;
    attrs.set("eps", eps);
    return attrs;
}

TEST(BatchNorm, MatchesTheNaiveReferenceOnRandomImageShapes) {
    std::mt19937 rng(3);
    auto pick = [&](int lo, int hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    for (int trial = 0; trial < 6; ++trial) {
        const weft::Shape shape{pick(2, 3), pick(1, 9), 2 * pick(0, 4) + 1, 2 * pick(0, 4) + 1};
        SCOPED_TRACE(weft::shape_str(shape));
        const weft::Tensor x = random_tensor(shape, 100 + trial, -2.f, 2.f);
        const weft::WeightMap params = random_params(shape[1], 200 + 10 * trial);
        EXPECT_TRUE(all_close(run_op("batch_norm", eps_attr(1e-3), {x}, params).at(0),
                              reference_batch_norm(x, params, 1e-3)));
    }
}

TEST(BatchNorm, NormalisesFeatureVectorsOfRankTwo) {
    const weft::Tensor x = random_tensor({5, 7}, 31, -2.f, 2.f);
    const weft::WeightMap params = random_params(7, 41);
    EXPECT_TRUE(all_close(run_op("batch_norm", {}, {x}, params).at(0),
                          reference_batch_norm(x, params, 2e-5)));
}

TEST(BatchNorm, UsesEpsTwoTimesTenToTheMinusFiveByDefault) {
    // Variances of the order of eps make the result depend visibly on eps.
    const weft::Tensor x = random_tensor({2, 3, 5, 5}, 51);
    const weft::WeightMap params = random_params(3, 61, 1e-5f, 3e-5f);
    const weft::Tensor y = run_op("batch_norm", {}, {x}, params).at(0);
    EXPECT_TRUE(all_close(y, reference_batch_norm(x, params, 2e-5)));
    EXPECT_FALSE(all_close(y, reference_batch_norm(x, params, 1e-5)));
}

TEST(BatchNorm, FreshParametersGiveNearlyTheIdentity) {
    // weight 1, bias 0, running_mean 0, running_var 1: y = x / sqrt(1 + eps).
    const weft::Tensor x = random_tensor({3, 4, 3, 5}, 71);
    weft::Tensor expected(x.desc());
    for (std::int64_t i = 0; i < x.numel(); ++i)
        expected.as<float>()[i] = static_cast<float>(x.as<float>()[i] / std::sqrt(1.0 + 2e-5));
    EXPECT_TRUE(all_close(run_op("batch_norm", {}, {x}).at(0), expected));
}

TEST(BatchNorm, DeclaresPyTorchNamedParametersThatThePaperDoesNotCount) {
    const weft::NodeSignature sig = infer_op("batch_norm", {}, {f32({2, 6, 4, 4})});
    ASSERT_EQ(sig.outputs.size(), 1u);
    EXPECT_EQ(sig.outputs[0].shape, (weft::Shape{2, 6, 4, 4}));
    EXPECT_EQ(sig.macs, 0);
    struct Expected {
        const char* name;
        weft::ParamInit init;
        bool learnable;
    };
    const Expected expected[] = {{"weight", weft::ParamInit::ones, true},
                                 {"bias", weft::ParamInit::zeros, true},
                                 {"running_mean", weft::ParamInit::zeros, false},
                                 {"running_var", weft::ParamInit::ones, false}};
    ASSERT_EQ(sig.params.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
        SCOPED_TRACE(expected[i].name);
        EXPECT_EQ(sig.params[i].name, expected[i].name);
        EXPECT_EQ(sig.params[i].desc.shape, (weft::Shape{6}));
        EXPECT_EQ(sig.params[i].init, expected[i].init);
        EXPECT_EQ(sig.params[i].learnable, expected[i].learnable);
        EXPECT_FALSE(sig.params[i].counted);
    }
}

TEST(BatchNorm, RejectsInputsWithoutAChannelDimension) {
    EXPECT_TRUE(
        throws_error_containing([] { infer_op("batch_norm", {}, {f32({16})}); }, "rank 2 or more"));
}

TEST(BatchNorm, RejectsMomentumOutsideZeroToOne) {
    weft::Attributes attrs;
    attrs.set("momentum", 1.5);
    EXPECT_TRUE(throws_error_containing(
        [&] {
            infer_op("batch_norm", attrs, {f32({2, 3})});
        },
        "out of range"));
}

weft::Tensor copy_of(const weft::Tensor& t) {
    weft::Tensor copy(t.desc());
    std::copy_n(t.as<float>(), t.numel(), copy.as<float>());
    return copy;
}

// Per-channel mean and biased variance of [N, C, ...], in double.
std::pair<std::vector<double>, std::vector<double>> channel_statistics(const weft::Tensor& x) {
    const std::int64_t n = x.shape()[0], c = x.shape()[1], plane = x.numel() / (n * c);
    std::vector<double> mean(c, 0.0), var(c, 0.0);
    for (std::int64_t ch = 0; ch < c; ++ch) {
        for (std::int64_t b = 0; b < n; ++b)
            for (std::int64_t i = 0; i < plane; ++i) mean[ch] += x.as<float>()[(b * c + ch) * plane + i];
        mean[ch] /= double(n * plane);
        for (std::int64_t b = 0; b < n; ++b)
            for (std::int64_t i = 0; i < plane; ++i) {
                const double d = x.as<float>()[(b * c + ch) * plane + i] - mean[ch];
                var[ch] += d * d;
            }
        var[ch] /= double(n * plane);
    }
    return {mean, var};
}

// Channels with different offsets and spreads, so normalising has something to undo.
weft::Tensor shifted_input(const weft::Shape& shape, std::uint64_t seed) {
    weft::Tensor x = random_tensor(shape, seed);
    const std::int64_t c = shape[1], plane = x.numel() / (shape[0] * c);
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        const std::int64_t ch = (i / plane) % c;
        x.as<float>()[i] = x.as<float>()[i] * float(1 + ch) + float(ch) - 1.f;
    }
    return x;
}

TEST(BatchNorm, TrainingForwardGivesEachChannelZeroMeanAndUnitVariance) {
    const weft::Tensor x = shifted_input({4, 3, 5, 5}, 100);
    const weft::Tensor dy = random_tensor(x.shape(), 101);
    const weft::testing::BackwardResult result = run_op_backward("batch_norm", {}, {x}, {dy});
    const auto [mean, var] = channel_statistics(result.outputs.at(0));
    for (std::size_t ch = 0; ch < mean.size(); ++ch) {
        EXPECT_NEAR(mean[ch], 0.0, 1e-5) << "channel " << ch;
        EXPECT_NEAR(var[ch], 1.0, 1e-3) << "channel " << ch;
    }
}

TEST(BatchNorm, TrainingFoldsTheBatchIntoTheRunningStatisticsWithMomentum) {
    const weft::Tensor x = shifted_input({3, 4, 3, 2}, 102);
    const weft::WeightMap params = random_params(4, 103);
    const weft::Tensor old_mean = copy_of(params.at("running_mean"));
    const weft::Tensor old_var = copy_of(params.at("running_var"));
    const weft::testing::BackwardResult result =
        run_op_backward("batch_norm", {}, {x}, {random_tensor(x.shape(), 104)}, params);
    const auto [mean, var] = channel_statistics(x);
    const double n = 3 * 3 * 2;  // elements per channel; the running variance is unbiased
    for (std::int64_t ch = 0; ch < 4; ++ch) {
        EXPECT_NEAR(result.params.at("running_mean").as<float>()[ch],
                    0.9 * old_mean.as<float>()[ch] + 0.1 * mean[ch], 1e-5);
        EXPECT_NEAR(result.params.at("running_var").as<float>()[ch],
                    0.9 * old_var.as<float>()[ch] + 0.1 * var[ch] * n / (n - 1), 1e-5);
    }
}

TEST(BatchNorm, TrainingBackwardMatchesFiniteDifferencesThroughTheBatchStatistics) {
    for (const weft::Shape& shape : {weft::Shape{2, 3, 3, 2}, weft::Shape{5, 4}}) {
        SCOPED_TRACE(weft::shape_str(shape));
        const weft::Tensor x = shifted_input(shape, 105);
        weft::WeightMap params = random_params(shape[1], 106);
        const weft::Tensor r = random_tensor(shape, 107);
        const weft::testing::BackwardResult result = run_op_backward("batch_norm", {}, {x}, {r}, params);
        // Each loss evaluation is a fresh training forward, so the batch statistics follow x.
        const auto loss = [&] { return weighted_sum(run_op_backward("batch_norm", {}, {x}, {r}, params).outputs, {r}); };
        EXPECT_TRUE(all_close(result.grad_inputs.at(0), numeric_gradient(x, loss), 1e-2, 2e-3));
        EXPECT_TRUE(all_close(result.grad_params.at(0), numeric_gradient(params.at("weight"), loss), 1e-2, 2e-3));
        EXPECT_TRUE(all_close(result.grad_params.at(1), numeric_gradient(params.at("bias"), loss), 1e-2, 2e-3));
        const weft::Tensor zeros(f32({shape[1]}));
        EXPECT_TRUE(all_close(result.grad_params.at(2), zeros, 0.0, 0.0));
        EXPECT_TRUE(all_close(result.grad_params.at(3), zeros, 0.0, 0.0));
    }
}

}  // namespace

namespace {

// fused_relu is exactly batch norm followed by ReLU: the same output, and the same gradients as
// batch norm's backward given the ReLU-masked incoming gradient — in training and inference.
TEST(BatchNorm, FusedReluEqualsBatchNormThenRelu) {
    const weft::Tensor x = random_tensor({4, 6, 5, 5}, 301, -2.f, 2.f);
    const weft::Tensor dy = random_tensor(x.shape(), 302);
    weft::WeightMap params{{"weight", random_tensor({6}, 303, 0.5f, 1.5f)}, {"bias", random_tensor({6}, 304)}};
    weft::Attributes fused;
    fused.set("fused_relu", true);
    const auto plain = run_op_backward("batch_norm", {}, {x}, {dy}, params);
    weft::Tensor relu_out(x.desc()), masked(x.desc());
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        const float y = plain.outputs[0].as<float>()[i];
        relu_out.as<float>()[i] = std::max(y, 0.f);
        masked.as<float>()[i] = y > 0.f ? dy.as<float>()[i] : 0.f;
    }
    const auto through_relu = run_op_backward("batch_norm", {}, {x}, {masked}, params);
    const auto one_op = run_op_backward("batch_norm", fused, {x}, {dy}, params);
    EXPECT_TRUE(all_close(one_op.outputs[0], relu_out, 1e-6, 1e-6));
    EXPECT_TRUE(all_close(one_op.grad_inputs[0], through_relu.grad_inputs[0], 1e-5, 1e-6));
    EXPECT_TRUE(all_close(one_op.grad_params[0], through_relu.grad_params[0], 1e-5, 1e-6));
    EXPECT_TRUE(all_close(one_op.grad_params[1], through_relu.grad_params[1], 1e-5, 1e-6));
    // Inference, with running statistics.
    const weft::Tensor inference = run_op("batch_norm", fused, {x}, params).at(0);
    const weft::Tensor separate = run_op("batch_norm", {}, {x}, params).at(0);
    for (std::int64_t i = 0; i < x.numel(); ++i)
        ASSERT_EQ(inference.as<float>()[i], std::max(separate.as<float>()[i], 0.f)) << i;
}

}  // namespace

namespace {

// Two training passes of batch norm agree: outputs, gradients, and the running statistics they
// leave behind; `exact`: bit for bit.
void expect_the_same_training_pass(const weft::testing::BackwardResult& actual,
                                   const weft::testing::BackwardResult& expected, bool exact = false) {
    const double k = exact ? 0.0 : 1.0;
    EXPECT_TRUE(all_close(actual.outputs[0], expected.outputs[0], k * 1e-5, k * 1e-5));
    EXPECT_TRUE(all_close(actual.grad_inputs[0], expected.grad_inputs[0], k * 1e-4, k * 1e-5));
    for (std::size_t p = 0; p < 4; ++p)
        EXPECT_TRUE(all_close(actual.grad_params[p], expected.grad_params[p], k * 1e-4, k * 1e-5)) << p;
    for (const char* name : {"running_mean", "running_var"})
        EXPECT_TRUE(all_close(actual.params.at(name), expected.params.at(name), k * 1e-5, k * 1e-6)) << name;
}

// The direct kernel (chosen by priority) against oneDNN's, forward and backward, training and
// inference, with and without the fused ReLU, on image and feature shapes.
TEST(BatchNorm, DirectKernelEqualsOnednn) {
    std::uint64_t seed = 400;
    // Planes shorter than the direct kernel's 64-value step, one step and a tail, whole steps.
    for (const weft::Shape& shape :
         std::vector<weft::Shape>{{4, 6, 5, 5}, {3, 5, 7, 3}, {8, 10}, {3, 4, 9, 11}, {2, 3, 16, 16}}) {
        for (bool relu : {false, true}) {
            SCOPED_TRACE(weft::shape_str(shape) + (relu ? " relu" : ""));
            weft::Attributes attrs;
            attrs.set("fused_relu", relu);
            const weft::Tensor x = random_tensor(shape, ++seed, -2.f, 3.f);
            const weft::Tensor dy = random_tensor(shape, ++seed);
            const std::int64_t c = shape[1];
            const weft::WeightMap params = random_params(c, seed += 4, 0.5f, 2.f);
            const auto direct = run_op_backward("batch_norm", attrs, {x}, {dy}, params, "direct");
            const auto onednn = run_op_backward("batch_norm", attrs, {x}, {dy}, params, "onednn");
            expect_the_same_training_pass(direct, onednn);
            const weft::Tensor a = weft::testing::run_op_with_kernel("direct", "batch_norm", attrs, {x}, params).at(0);
            const weft::Tensor b = weft::testing::run_op_with_kernel("onednn", "batch_norm", attrs, {x}, params).at(0);
            EXPECT_TRUE(all_close(a, b, 1e-5, 1e-5));
        }
    }
}

// The planes' moments combine into the channel's variance without E[x²] − μ²: with a mean 10⁴
// times the spread, that difference would lose every digit of the variance in float.
TEST(BatchNorm, DirectKernelKeepsTheVarianceWhenTheMeanDwarfsTheSpread) {
    const weft::Shape shape{4, 3, 12, 12};
    weft::Tensor x = random_tensor(shape, 450);
    for (std::int64_t i = 0; i < x.numel(); ++i) x.as<float>()[i] = 300.f + 0.03f * x.as<float>()[i];
    weft::WeightMap params = random_params(3, 451);
    for (std::int64_t c = 0; c < 3; ++c) params.at("running_var").as<float>()[c] = 0.f;
    const auto result = run_op_backward("batch_norm", {}, {x}, {random_tensor(shape, 452)}, params, "direct");
    const auto [mean, var] = channel_statistics(x);
    const double n = 4 * 12 * 12;
    for (std::int64_t c = 0; c < 3; ++c) {
        const double expected = 0.1 * var[c] * n / (n - 1);  // momentum 0.9 over a running 0
        EXPECT_NEAR(result.params.at("running_var").as<float>()[c], expected, 1e-4 * expected) << c;
    }
    const auto [out_mean, out_var] = channel_statistics(result.outputs.at(0));
    for (std::int64_t c = 0; c < 3; ++c) {
        const double gamma = params.at("weight").as<float>()[c];
        const double expected = gamma * gamma * var[c] / (var[c] + 2e-5);  // eps is not small here
        EXPECT_NEAR(out_var[c], expected, 1e-3 * expected) << c;
    }
}

// The direct kernel sums each plane in a fixed order and adds the planes up in image order, not
// in the order threads finish them: 1, 2 and 3 threads give the same bits.
TEST(BatchNorm, DirectKernelGivesTheSameBitsOnAnyThreadCount) {
    setenv("WEFT_CPU_MACS_PER_THREAD", "0", 1);  // small shapes on every thread too
    const int before = omp_get_max_threads();
    for (bool relu : {false, true}) {
        weft::Attributes attrs;
        attrs.set("fused_relu", relu);
        const weft::Tensor x = shifted_input({5, 7, 9, 11}, 460);
        const weft::Tensor dy = random_tensor(x.shape(), 461);
        const weft::WeightMap params = random_params(7, 462, 0.5f, 2.f);
        omp_set_num_threads(1);
        const auto one = run_op_backward("batch_norm", attrs, {x}, {dy}, params, "direct");
        for (const int threads : {2, 3}) {
            SCOPED_TRACE(std::to_string(threads) + (relu ? " relu" : ""));
            omp_set_num_threads(threads);
            expect_the_same_training_pass(run_op_backward("batch_norm", attrs, {x}, {dy}, params, "direct"), one,
                                          /*exact=*/true);
        }
    }
    omp_set_num_threads(before);
    unsetenv("WEFT_CPU_MACS_PER_THREAD");
}

}  // namespace

namespace {

using weft::testing::run_op_backward_sharded;

// --sync-bn: kernels on shards of a batch that sum their statistics through a Collective give
// the whole batch's outputs, input gradients and running statistics; their own γ and β
// gradients add up to the whole batch's.
TEST(BatchNorm, StatisticsOverShardsEqualTheWholeBatchs) {
    std::uint64_t seed = 500;
    for (const auto& [shape, shards] : std::vector<std::pair<weft::Shape, int>>{
             {{8, 6, 5, 5}, 2}, {{4, 3, 7, 3}, 4}, {{6, 10}, 3}}) {
        for (bool relu : {false, true}) {
            SCOPED_TRACE(weft::shape_str(shape) + " in " + std::to_string(shards) + (relu ? " relu" : ""));
            weft::Attributes attrs;
            attrs.set("fused_relu", relu);
            const weft::Tensor x = shifted_input(shape, ++seed);
            const weft::Tensor dy = random_tensor(shape, ++seed);
            const weft::WeightMap params = random_params(shape[1], seed += 4, 0.5f, 2.f);
            const auto whole = run_op_backward("batch_norm", attrs, {x}, {dy}, params);
            const auto sharded = run_op_backward_sharded("batch_norm", attrs, {x}, {dy}, shards, params);
            expect_the_same_training_pass(sharded, whole);
        }
    }
}

// The comparison above has teeth: each shard normalising with its own statistics (what ranks do
// without --sync-bn) gives other outputs.
TEST(BatchNorm, ShardsWithTheirOwnStatisticsDifferFromTheWholeBatch) {
    const weft::Shape shape{8, 6, 5, 5};
    const weft::Tensor x = shifted_input(shape, 520);
    const weft::Tensor dy = random_tensor(shape, 521);
    const weft::WeightMap params = random_params(6, 522, 0.5f, 2.f);
    const auto whole = run_op_backward("batch_norm", {}, {x}, {dy}, params);
    weft::Shape half = shape;
    half[0] = 4;
    weft::Tensor first(f32(half));
    std::copy_n(x.as<float>(), first.numel(), first.as<float>());
    const auto own = run_op_backward("batch_norm", {}, {first}, {random_tensor(half, 523)}, params);
    float largest = 0;
    for (std::int64_t i = 0; i < first.numel(); ++i)
        largest = std::max(
            largest, std::abs(own.outputs[0].as<float>()[i] - whole.outputs[0].as<float>()[i]));
    EXPECT_GT(largest, 1e-2f);
}

// One shard through the group computes exactly what the kernel computes alone: the group's
// passes are the same arithmetic, only split around the exchanges.
TEST(BatchNorm, OneShardThroughTheGroupIsBitForBitTheKernelAlone) {
    for (bool relu : {false, true}) {
        weft::Attributes attrs;
        attrs.set("fused_relu", relu);
        const weft::Tensor x = shifted_input({4, 5, 6, 6}, 530);
        const weft::Tensor dy = random_tensor(x.shape(), 531);
        const weft::WeightMap params = random_params(5, 532, 0.5f, 2.f);
        const auto alone = run_op_backward("batch_norm", attrs, {x}, {dy}, params);
        const auto grouped = run_op_backward_sharded("batch_norm", attrs, {x}, {dy}, 1, params);
        expect_the_same_training_pass(grouped, alone, /*exact=*/true);
    }
}

// oneDNN computes statistics over its own batch only, so it declines a node whose statistics
// are a group's rather than compute the wrong ones.
TEST(BatchNorm, OnednnDeclinesStatisticsOverAGroup) {
    const weft::Tensor x = shifted_input({4, 3, 3, 3}, 540);
    EXPECT_TRUE(throws_error_containing(
        [&] {
            run_op_backward_sharded("batch_norm", {}, {x}, {random_tensor(x.shape(), 541)}, 2, {}, "onednn");
        },
        "--sync-bn"));
}

}  // namespace
