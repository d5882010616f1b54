// softmax's cuda kernel against its cpu kernel, forward and backward, along the class axis of
// [N, K] and [N, K, 1, 1] and along other axes (strided rows), with logits large enough to
// overflow exp without the maximum subtracted. Tolerance (float32): 1e-5 relative + 1e-6 absolute
// (probabilities lie in [0, 1]; the two sides' exp and sums round differently).
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "backend_compare.h"
#include "op_harness.h"

namespace {

using weft::testing::backward_matches;
using weft::testing::forward_matches;
using weft::testing::random_tensor;
using weft::testing::Tolerance;

constexpr Tolerance kSoftmax{1e-5, 1e-6};

struct Case {
    weft::Shape shape;
    std::int64_t axis;
    float scale;  // logits in [-scale, scale]
};

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {{256, 10}, 1, 8.f},          {{256, 100, 1, 1}, 1, 8.f}, {{64, 1000}, 1, 20.f},
        {{3, 7}, 1, 200.f},           {{1, 1}, 1, 1.f},           {{4, 6, 5, 3}, 1, 4.f},  // strided rows
        {{5, 33}, 0, 4.f},            {{2, 3, 37}, 2, 100.f},
    };
    return all;
}

weft::Attributes along(std::int64_t axis) {
    weft::Attributes attrs;
    attrs.set("axis", axis);
    return attrs;
}

TEST(SoftmaxCuda, MatchesTheCpuKernelAlongAnyAxisWithLargeLogits) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 1;
    for (const Case& c : cases()) {
        SCOPED_TRACE(testing::Message() << weft::shape_str(c.shape) << " axis " << c.axis);
        EXPECT_TRUE(forward_matches("softmax", along(c.axis), {random_tensor(c.shape, seed++, -c.scale, c.scale)},
                                    kSoftmax));
    }
}

TEST(SoftmaxCuda, BackwardMatchesTheCpuKernel) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 100;
    for (const Case& c : cases()) {
        SCOPED_TRACE(testing::Message() << weft::shape_str(c.shape) << " axis " << c.axis);
        const weft::Tensor x = random_tensor(c.shape, seed++, -c.scale, c.scale);
        EXPECT_TRUE(backward_matches("softmax", along(c.axis), {x}, {random_tensor(c.shape, seed++)}, kSoftmax));
    }
}

}  // namespace
