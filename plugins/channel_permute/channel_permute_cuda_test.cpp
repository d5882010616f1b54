// channel_permute's cuda kernel against its cpu kernel, exactly (both only move floats): IGC's
// permutations (groups L and M of 48 to 192 channels) and odd planes that defeat the float4 path,
// forward and backward.
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

constexpr Tolerance kExact{0.0, 0.0};

struct Case {
    weft::Shape shape;
    std::int64_t groups;
};

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {{256, 48, 32, 32}, 24},  // IGC-L24M2: P^T with g = L
        {{64, 96, 16, 16}, 4},    {{32, 192, 8, 8}, 2}, {{32, 192, 8, 8}, 96},
        {{3, 6, 7, 9}, 3},        {{2, 12, 5, 5}, 4},   {{2, 10}, 5},  // [N, C]: planes of one float
        {{2, 8, 7}, 2},           {{5, 9, 1, 1}, 9},    {{4, 6, 3, 3}, 1},
    };
    return all;
}

weft::Attributes groups(std::int64_t g) {
    weft::Attributes attrs;
    attrs.set("groups", g);
    return attrs;
}

TEST(ChannelPermuteCuda, MovesEveryPlaneWhereTheCpuKernelDoes) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 1;
    for (const Case& c : cases()) {
        SCOPED_TRACE(testing::Message() << weft::shape_str(c.shape) << " groups " << c.groups);
        EXPECT_TRUE(forward_matches("channel_permute", groups(c.groups), {random_tensor(c.shape, seed++)}, kExact));
    }
}

TEST(ChannelPermuteCuda, BackwardMovesEveryGradientPlaneBackWhereTheCpuKernelDoes) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 100;
    for (const Case& c : cases()) {
        SCOPED_TRACE(testing::Message() << weft::shape_str(c.shape) << " groups " << c.groups);
        const weft::Tensor x = random_tensor(c.shape, seed++);
        const weft::Tensor dy = random_tensor(c.shape, seed++);
        EXPECT_TRUE(backward_matches("channel_permute", groups(c.groups), {x}, {dy}, kExact));
    }
}

}  // namespace
