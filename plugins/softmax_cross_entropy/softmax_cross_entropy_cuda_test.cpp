// softmax_cross_entropy's cuda kernel against its cpu kernel: the loss and its gradient, with and
// without label smoothing, for CIFAR's and ImageNet's class counts, [N, K] and [N, K, 1, 1], and
// logits of ±1e4 that overflow any unstabilised softmax. Both compute in double from the same
// floats; tolerance (float32): 1e-5 relative + 1e-7 absolute. A label outside the classes, which
// the cpu kernel refuses with an error, makes the cuda loss and that row's gradient NaN.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "backend_compare.h"
#include "op_harness.h"

namespace {

using weft::testing::backward_matches;
using weft::testing::forward_matches;
using weft::testing::random_tensor;
using weft::testing::run_op;
using weft::testing::run_op_backward;
using weft::testing::tensor_from;
using weft::testing::Tolerance;

constexpr const char* kOp = "softmax_cross_entropy";
constexpr Tolerance kLoss{1e-5, 1e-7};

weft::Tensor labels_for(std::int64_t rows, std::int64_t classes, unsigned seed) {
    weft::Tensor t(weft::TensorDesc{weft::DType::i32, {rows}});
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::int32_t> pick(0, static_cast<std::int32_t>(classes - 1));
    for (std::int64_t n = 0; n < rows; ++n) t.as<std::int32_t>()[n] = pick(rng);
    return t;
}

weft::Attributes smoothing(double epsilon) {
    weft::Attributes attrs;
    attrs.set("label_smoothing", epsilon);
    return attrs;
}

struct Case {
    weft::Shape logits;
    float scale;  // logits in [-scale, scale]
};

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {{256, 10}, 8.f}, {{64, 100, 1, 1}, 8.f}, {{32, 1000}, 20.f}, {{3, 37}, 1e4f}, {{1, 1}, 1.f}, {{5, 2}, 3.f},
    };
    return all;
}

TEST(SoftmaxCrossEntropyCuda, LossMatchesTheCpuKernelWithAndWithoutLabelSmoothing) {
    WEFT_SKIP_WITHOUT_CUDA();
    unsigned seed = 1;
    for (const Case& c : cases())
        for (double epsilon : {0.0, 0.1}) {
            SCOPED_TRACE(testing::Message() << weft::shape_str(c.logits) << " smoothing " << epsilon);
            const weft::Tensor logits = random_tensor(c.logits, seed, -c.scale, c.scale);
            EXPECT_TRUE(forward_matches(kOp, smoothing(epsilon), {logits, labels_for(c.logits[0], c.logits[1], seed)},
                                        kLoss));
            ++seed;
        }
}

TEST(SoftmaxCrossEntropyCuda, GradientMatchesTheCpuKernelForAScaledIncomingGradient) {
    WEFT_SKIP_WITHOUT_CUDA();
    unsigned seed = 100;
    for (const Case& c : cases())
        for (double epsilon : {0.0, 0.1}) {
            SCOPED_TRACE(testing::Message() << weft::shape_str(c.logits) << " smoothing " << epsilon);
            const weft::Tensor logits = random_tensor(c.logits, seed, -c.scale, c.scale);
            const weft::Tensor labels = labels_for(c.logits[0], c.logits[1], seed);
            EXPECT_TRUE(backward_matches(kOp, smoothing(epsilon), {logits, labels}, {tensor_from({1}, {0.7f})}, kLoss));
            ++seed;
        }
}

TEST(SoftmaxCrossEntropyCuda, ALabelOutsideTheClassesMakesTheLossAndItsRowsGradientNan) {
    WEFT_SKIP_WITHOUT_CUDA();
    const weft::Tensor logits = random_tensor({4, 10}, 3);
    weft::Tensor labels = labels_for(4, 10, 3);
    labels.as<std::int32_t>()[2] = 10;
    EXPECT_TRUE(std::isnan(run_op(kOp, {}, {logits, labels}, {}, "cuda").at(0).as<float>()[0]));
    const weft::testing::BackwardResult r = run_op_backward(kOp, {}, {logits, labels}, {tensor_from({1}, {1.f})}, {},
                                                            {}, 1, "cuda");
    const float* dx = r.grad_inputs.at(0).as<float>();
    for (std::int64_t k = 0; k < 10; ++k) {
        EXPECT_TRUE(std::isnan(dx[2 * 10 + k])) << "class " << k;
        EXPECT_FALSE(std::isnan(dx[1 * 10 + k])) << "class " << k << " of a row with a valid label";
    }
}

}  // namespace
