// softmax_cross_entropy against a reference computed in double straight from the definition,
// L = 1/N Σ_n Σ_k t_nk (log Σ_j exp(x_nj) − x_nk), and its gradient (softmax − t)/N.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/error.h"

namespace {

using weft::testing::all_close;
using weft::testing::f32;
using weft::testing::infer_op;
using weft::testing::numeric_gradient;
using weft::testing::random_tensor;
using weft::testing::run_op;
using weft::testing::run_op_backward;
using weft::testing::tensor_from;
using weft::testing::throws_error_containing;
using weft::testing::weighted_sum;

constexpr const char* kOp = "softmax_cross_entropy";

weft::Attributes smoothing(double epsilon) {
    weft::Attributes attrs;
    attrs.set("label_smoothing", epsilon);
    return attrs;
}

weft::TensorDesc i32(weft::Shape shape) { return weft::TensorDesc{weft::DType::i32, std::move(shape)}; }

weft::Tensor labels_from(const std::vector<std::int32_t>& values) {
    weft::Tensor t(i32({static_cast<std::int64_t>(values.size())}));
    std::copy(values.begin(), values.end(), t.as<std::int32_t>());
    return t;
}

weft::Tensor random_labels(std::int64_t rows, std::int64_t classes, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::int32_t> pick(0, static_cast<std::int32_t>(classes - 1));
    std::vector<std::int32_t> values(static_cast<std::size_t>(rows));
    for (std::int32_t& v : values) v = pick(rng);
    return labels_from(values);
}

// The smoothed target t_nk = (1 − ε)·[k = label_n] + ε/K.
double target(std::int64_t k, std::int32_t label, double epsilon, std::int64_t classes) {
    return (k == label ? 1.0 - epsilon : 0.0) + epsilon / static_cast<double>(classes);
}

// log Σ_j exp(x_j) of one row, the maximum subtracted so that ±1e4 logits stay finite.
double log_partition(const float* row, std::int64_t classes) {
    const double top = *std::max_element(row, row + classes);
    double sum = 0.0;
    for (std::int64_t j = 0; j < classes; ++j) sum += std::exp(row[j] - top);
    return top + std::log(sum);
}

double reference_loss(const weft::Tensor& logits, const weft::Tensor& labels, double epsilon) {
    const std::int64_t rows = logits.shape()[0], classes = logits.shape()[1];
    double total = 0.0;
    for (std::int64_t n = 0; n < rows; ++n) {
        const float* row = logits.as<float>() + n * classes;
        const double lse = log_partition(row, classes);
        for (std::int64_t k = 0; k < classes; ++k)
            total += target(k, labels.as<std::int32_t>()[n], epsilon, classes) * (lse - row[k]);
    }
    return total / static_cast<double>(rows);
}

weft::Tensor reference_grad(const weft::Tensor& logits, const weft::Tensor& labels, double epsilon,
                            float grad_loss) {
    const std::int64_t rows = logits.shape()[0], classes = logits.shape()[1];
    weft::Tensor grad(logits.desc());
    for (std::int64_t n = 0; n < rows; ++n) {
        const float* row = logits.as<float>() + n * classes;
        const double lse = log_partition(row, classes);
        for (std::int64_t k = 0; k < classes; ++k) {
            const double p = std::exp(row[k] - lse);
            grad.as<float>()[n * classes + k] = static_cast<float>(
                (p - target(k, labels.as<std::int32_t>()[n], epsilon, classes)) * grad_loss / rows);
        }
    }
    return grad;
}

float loss_of(const weft::Tensor& logits, const weft::Tensor& labels, double epsilon = 0.0) {
    const std::vector<weft::Tensor> out = run_op(kOp, smoothing(epsilon), {logits, labels});
    EXPECT_EQ(out.at(0).desc(), f32({1}));
    return out.at(0).as<float>()[0];
}

::testing::AssertionResult near_relative(double actual, double expected, double rtol) {
    if (std::fabs(actual - expected) <= rtol * std::fabs(expected)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << actual << " != expected " << expected << " (relative error "
                                         << std::fabs(actual - expected) / std::fabs(expected) << ")";
}

TEST(SoftmaxCrossEntropy, MatchesTheReferenceOnRandomShapesOfBothLogitRanks) {
    std::mt19937 rng(21);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
    for (int trial = 0; trial < 8; ++trial) {
        const std::int64_t rows = pick(1, 9), classes = pick(2, 40);
        const weft::Shape shape = trial % 2 ? weft::Shape{rows, classes, 1, 1} : weft::Shape{rows, classes};
        SCOPED_TRACE(weft::shape_str(shape));
        const weft::Tensor logits = random_tensor(shape, 100 + trial, -6.f, 6.f);
        const weft::Tensor labels = random_labels(rows, classes, 200 + trial);
        EXPECT_TRUE(near_relative(loss_of(logits, labels), reference_loss(logits, labels, 0.0), 1e-6));
    }
}

TEST(SoftmaxCrossEntropy, IsAccurateToOnePartInAMillionOverAThousandClasses) {
    const weft::Tensor logits = random_tensor({256, 1000}, 31, -20.f, 20.f);
    const weft::Tensor labels = random_labels(256, 1000, 32);
    EXPECT_TRUE(near_relative(loss_of(logits, labels), reference_loss(logits, labels, 0.0), 1e-6));
    EXPECT_TRUE(near_relative(loss_of(logits, labels, 0.1), reference_loss(logits, labels, 0.1), 1e-6));
}

TEST(SoftmaxCrossEntropy, LabelSmoothingMixesInTheUniformTarget) {
    const weft::Tensor logits = random_tensor({6, 10, 1, 1}, 41, -4.f, 4.f);
    const weft::Tensor labels = random_labels(6, 10, 42);
    for (double epsilon : {0.05, 0.1, 0.5, 0.9}) {
        SCOPED_TRACE(epsilon);
        EXPECT_TRUE(near_relative(loss_of(logits, labels, epsilon), reference_loss(logits, labels, epsilon), 1e-6));
    }
    // Equal logits: softmax is uniform, so every target, smoothed or not, costs log K.
    const weft::Tensor flat = tensor_from({2, 4}, std::vector<float>(8, 3.f));
    EXPECT_NEAR(loss_of(flat, labels_from({0, 3}), 0.3), std::log(4.0), 1e-6);
}

TEST(SoftmaxCrossEntropy, StaysFiniteAndExactForHugeLogits) {
    // exp(1e4) overflows f32 and double alike; only the max-subtracted form survives.
    const weft::Tensor logits = random_tensor({5, 20}, 51, -1e4f, 1e4f);
    const weft::Tensor labels = random_labels(5, 20, 52);
    for (double epsilon : {0.0, 0.2}) {
        const float loss = loss_of(logits, labels, epsilon);
        ASSERT_TRUE(std::isfinite(loss));
        EXPECT_TRUE(near_relative(loss, reference_loss(logits, labels, epsilon), 1e-6));
    }
    // The label at -1e4 against a rival at +1e4: −log softmax = 2e4 exactly (to f32).
    EXPECT_FLOAT_EQ(loss_of(tensor_from({1, 3}, {-1e4f, 1e4f, 0.f}), labels_from({0})), 2e4f);
}

TEST(SoftmaxCrossEntropy, ConfidentCorrectPredictionsCostAlmostNothing) {
    // Row n puts 60 on its label and 0 elsewhere: −log softmax = log(1 + 9·e^−60) ≈ 8e-26.
    std::vector<float> values(4 * 10, 0.f);
    const std::vector<std::int32_t> classes{7, 0, 9, 3};
    for (std::size_t n = 0; n < classes.size(); ++n) values[n * 10 + classes[n]] = 60.f;
    const weft::Tensor logits = tensor_from({4, 10}, values);
    const float loss = loss_of(logits, labels_from(classes));
    EXPECT_GE(loss, 0.f);
    EXPECT_LT(loss, 1e-20f);
    // The same logits against the wrong labels cost the full margin.
    EXPECT_NEAR(loss_of(logits, labels_from({0, 1, 2, 4})), 60.0, 1e-4);
}

TEST(SoftmaxCrossEntropy, BackwardIsSoftmaxMinusTargetOverN) {
    const weft::Tensor logits = random_tensor({7, 12}, 61, -5.f, 5.f);
    const weft::Tensor labels = random_labels(7, 12, 62);
    const weft::Tensor grad_loss = tensor_from({1}, {0.75f});
    for (double epsilon : {0.0, 0.1}) {
        SCOPED_TRACE(epsilon);
        const weft::testing::BackwardResult r = run_op_backward(kOp, smoothing(epsilon), {logits, labels}, {grad_loss});
        EXPECT_TRUE(near_relative(r.outputs.at(0).as<float>()[0], reference_loss(logits, labels, epsilon), 1e-6));
        EXPECT_TRUE(all_close(r.grad_inputs.at(0), reference_grad(logits, labels, epsilon, 0.75f), 1e-5, 1e-7));
    }
}

TEST(SoftmaxCrossEntropy, BackwardOfNK11LogitsKeepsTheirShape) {
    const weft::Tensor logits = random_tensor({3, 5, 1, 1}, 63, -2.f, 2.f);
    const weft::Tensor labels = random_labels(3, 5, 64);
    const weft::testing::BackwardResult r =
        run_op_backward(kOp, {}, {logits, labels}, {tensor_from({1}, {1.f})});
    EXPECT_EQ(r.grad_inputs.at(0).shape(), (weft::Shape{3, 5, 1, 1}));
    EXPECT_TRUE(all_close(r.grad_inputs.at(0), reference_grad(logits, labels, 0.0, 1.f), 1e-5, 1e-7));
}

TEST(SoftmaxCrossEntropy, BackwardMatchesFiniteDifferences) {
    for (double epsilon : {0.0, 0.2}) {
        SCOPED_TRACE(epsilon);
        weft::Tensor logits = random_tensor({4, 6, 1, 1}, 71, -3.f, 3.f);
        const weft::Tensor labels = random_labels(4, 6, 72);
        const weft::Tensor grad_loss = tensor_from({1}, {1.5f});
        const weft::Tensor analytic =
            run_op_backward(kOp, smoothing(epsilon), {logits, labels}, {grad_loss}).grad_inputs.at(0);
        const weft::Tensor numeric = numeric_gradient(
            logits, [&] { return weighted_sum(run_op(kOp, smoothing(epsilon), {logits, labels}), {grad_loss}); });
        EXPECT_TRUE(all_close(analytic, numeric, 1e-2, 1e-3));
    }
}

TEST(SoftmaxCrossEntropy, TheLabelsGradientIsZero) {
    const weft::Tensor labels = random_labels(5, 8, 81);
    const weft::testing::BackwardResult r =
        run_op_backward(kOp, {}, {random_tensor({5, 8}, 82), labels}, {tensor_from({1}, {1.f})});
    const weft::Tensor& grad_labels = r.grad_inputs.at(1);
    EXPECT_EQ(grad_labels.desc(), labels.desc());
    for (std::int64_t n = 0; n < grad_labels.numel(); ++n) EXPECT_EQ(grad_labels.as<std::int32_t>()[n], 0);
}

TEST(SoftmaxCrossEntropy, RejectsLabelsOutsideTheClasses) {
    const weft::Tensor logits = random_tensor({5, 10}, 91);
    EXPECT_TRUE(throws_error_containing([&] { run_op(kOp, {}, {logits, labels_from({0, 1, 2, 12, 4})}); },
                                        "label 12 of row 3 is outside the 10 classes"));
    EXPECT_TRUE(throws_error_containing([&] { run_op(kOp, {}, {logits, labels_from({-1, 1, 2, 3, 4})}); },
                                        "label -1 of row 0 is outside the 10 classes"));
    EXPECT_TRUE(throws_error_containing([&] { run_op(kOp, {}, {logits, labels_from({0, 1, 2, 3, 10})}); },
                                        "label 10 of row 4 is outside the 10 classes"));
    EXPECT_TRUE(throws_error_containing(
        [&] { run_op_backward(kOp, {}, {logits, labels_from({0, 1, 2, 3, 10})}, {tensor_from({1}, {1.f})}); },
        "label 10 of row 4 is outside the 10 classes"));
}

TEST(SoftmaxCrossEntropy, GivesAScalarLossWithoutParametersOrCost) {
    for (const weft::Shape& shape : {weft::Shape{64, 10}, weft::Shape{64, 10, 1, 1}}) {
        const weft::NodeSignature sig = infer_op(kOp, {}, {f32(shape), i32({64})});
        ASSERT_EQ(sig.outputs.size(), 1u);
        EXPECT_EQ(sig.outputs[0], f32({1}));
        EXPECT_TRUE(sig.params.empty());
        EXPECT_EQ(sig.macs, 0);
    }
}

TEST(SoftmaxCrossEntropy, RejectsLogitsOfTheWrongTypeOrShape) {
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, {}, {i32({8, 10}), i32({8})}); },
                                        "logits should be f32, got i32[8, 10]"));
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, {}, {f32({8, 10, 3}), i32({8})}); },
                                        "logits should be [N, K] or [N, K, 1, 1], got f32[8, 10, 3]"));
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, {}, {f32({8, 10, 2, 1}), i32({8})}); },
                                        "logits should be [N, K] or [N, K, 1, 1], got f32[8, 10, 2, 1]"));
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, {}, {f32({8, 0}), i32({8})}); },
                                        "need at least one row and one class"));
}

TEST(SoftmaxCrossEntropy, RejectsLabelsOfTheWrongTypeOrShape) {
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, {}, {f32({8, 10}), f32({8})}); },
                                        "labels should be i32 class indices, got f32[8]"));
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, {}, {f32({8, 10}), i32({8, 1})}); },
                                        "labels should be [N], one class index per row, got i32[8, 1]"));
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, {}, {f32({8, 10}), i32({6})}); },
                                        "labels i32[6] have 6 rows but logits f32[8, 10] have 8"));
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, {}, {f32({8, 10})}); },
                                        "takes 2 input(s), got 1"));
}

TEST(SoftmaxCrossEntropy, RejectsLabelSmoothingOutsideZeroToOne) {
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, smoothing(1.0), {f32({8, 10}), i32({8})}); },
                                        "label_smoothing 1 leaves no weight on the labels"));
    EXPECT_TRUE(throws_error_containing([] { infer_op(kOp, smoothing(-0.1), {f32({8, 10}), i32({8})}); },
                                        "'label_smoothing' = -0.1 is out of range: expected at least 0"));
}

}  // namespace
