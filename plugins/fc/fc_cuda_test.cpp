// fc's cuda kernel (cuBLAS) against its cpu kernel (oneDNN), forward and backward, with and
// without bias, on IGC's head ([N, C, 1, 1] after global pooling), a flattened [N, C, 8, 8] and
// odd sizes. Tolerance (float32): 1e-4 relative + 1e-5 absolute — both accumulate products in
// float32 FMA, in different orders, over at most a few thousand terms here.
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

constexpr Tolerance kGemm{1e-4, 1e-5};

struct Case {
    weft::Shape input;
    std::int64_t out_features;
};

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {{256, 192, 1, 1}, 10},  // the CIFAR-10 head
        {{64, 48, 8, 8}, 100},   // flattens 3072 features
        {{32, 96}, 1000},
        {{3, 5, 7}, 13},
        {{1, 1}, 1},
    };
    return all;
}

weft::Attributes fc(std::int64_t out_features, bool bias) {
    weft::Attributes attrs;
    attrs.set("out_features", out_features);
    attrs.set("bias", bias);
    return attrs;
}

TEST(FcCuda, MatchesTheCpuKernelWithAndWithoutBias) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 1;
    for (const Case& c : cases())
        for (bool bias : {true, false}) {
            SCOPED_TRACE(testing::Message() << weft::shape_str(c.input) << " -> " << c.out_features
                                            << (bias ? " with bias" : ""));
            EXPECT_TRUE(forward_matches("fc", fc(c.out_features, bias), {random_tensor(c.input, seed++)}, kGemm));
        }
}

TEST(FcCuda, BackwardMatchesTheCpuKernelInInputWeightAndBiasGradients) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 100;
    for (const Case& c : cases())
        for (bool bias : {true, false}) {
            SCOPED_TRACE(testing::Message() << weft::shape_str(c.input) << " -> " << c.out_features
                                            << (bias ? " with bias" : ""));
            const weft::Tensor x = random_tensor(c.input, seed++);
            const weft::Tensor dy = random_tensor({c.input[0], c.out_features}, seed++);
            EXPECT_TRUE(backward_matches("fc", fc(c.out_features, bias), {x}, {dy}, kGemm));
        }
}

}  // namespace
