// relu's cuda kernel against its cpu kernel (exactly: max(x, 0) and dy·[y > 0] are the same
// numbers on both), in place and into a buffer of its own.
#include <gtest/gtest.h>

#include "backend_compare.h"
#include "op_harness.h"

namespace {

using weft::testing::all_close;
using weft::testing::backward_matches;
using weft::testing::forward_matches;
using weft::testing::igc_and_odd_activation_shapes;
using weft::testing::random_tensor;
using weft::testing::run_op;
using weft::testing::run_op_forward;
using weft::testing::Tolerance;

constexpr Tolerance kExact{0.0, 0.0};

TEST(ReluCuda, MatchesTheCpuKernelExactlyOnIgcAndOddShapes) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 1;
    for (const weft::Shape& shape : igc_and_odd_activation_shapes()) {
        SCOPED_TRACE(weft::shape_str(shape));
        EXPECT_TRUE(forward_matches("relu", {}, {random_tensor(shape, seed++)}, kExact));
    }
}

TEST(ReluCuda, GivesTheSameOutputInPlaceAndIntoItsOwnBufferLeavingTheInputThen) {
    WEFT_SKIP_WITHOUT_CUDA();
    for (const weft::Shape& shape : {weft::Shape{8, 48, 32, 32}, weft::Shape{3, 5, 7, 9}}) {
        SCOPED_TRACE(weft::shape_str(shape));
        const weft::Tensor x = random_tensor(shape, 7);
        const weft::Tensor expected = run_op("relu", {}, {x}).at(0);
        const weft::testing::ForwardResult in_place = run_op_forward("relu", {}, {x}, /*in_place=*/true, "cuda");
        EXPECT_TRUE(all_close(in_place.outputs.at(0), expected, 0.0, 0.0));
        EXPECT_TRUE(all_close(in_place.inputs_after.at(0), expected, 0.0, 0.0));
        const weft::testing::ForwardResult apart = run_op_forward("relu", {}, {x}, /*in_place=*/false, "cuda");
        EXPECT_TRUE(all_close(apart.outputs.at(0), expected, 0.0, 0.0));
        EXPECT_TRUE(all_close(apart.inputs_after.at(0), x, 0.0, 0.0));
    }
}

TEST(ReluCuda, BackwardMatchesTheCpuKernelExactly) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 100;
    for (const weft::Shape& shape : igc_and_odd_activation_shapes()) {
        SCOPED_TRACE(weft::shape_str(shape));
        const weft::Tensor x = random_tensor(shape, seed++);
        EXPECT_TRUE(backward_matches("relu", {}, {x}, {random_tensor(shape, seed++)}, kExact));
    }
}

}  // namespace
