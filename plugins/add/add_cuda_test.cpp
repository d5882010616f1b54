// add's cuda kernel against its cpu kernel: two inputs exactly (one rounding per element on
// both), more within 1e-6 (the cpu may group a longer sum differently), nine inputs crossing the
// kernel's eight per pass; in place over input 0 and into a buffer of its own.
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
using weft::testing::run_op;
using weft::testing::run_op_forward;
using weft::testing::Tolerance;

constexpr Tolerance kExact{0.0, 0.0};
constexpr Tolerance kLongSum{1e-6, 1e-6};

std::vector<weft::Tensor> random_inputs(const weft::Shape& shape, int count, int seed) {
    std::vector<weft::Tensor> inputs;
    for (int i = 0; i < count; ++i) inputs.push_back(random_tensor(shape, static_cast<std::uint64_t>(seed + i)));
    return inputs;
}

TEST(AddCuda, SumsTwoInputsExactlyAsTheCpuKernelOnIgcAndOddShapes) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 1;
    for (const weft::Shape& shape : igc_and_odd_activation_shapes()) {
        SCOPED_TRACE(weft::shape_str(shape));
        EXPECT_TRUE(forward_matches("add", {}, random_inputs(shape, 2, seed += 2), kExact));
    }
}

TEST(AddCuda, SumsThreeToNineInputsAsTheCpuKernel) {
    WEFT_SKIP_WITHOUT_CUDA();
    for (int count : {3, 8, 9})
        for (const weft::Shape& shape : {weft::Shape{16, 64, 16, 16}, weft::Shape{3, 5, 7, 9}}) {
            SCOPED_TRACE(testing::Message() << count << " inputs of " << weft::shape_str(shape));
            EXPECT_TRUE(forward_matches("add", {}, random_inputs(shape, count, 10 * count), kLongSum));
        }
}

TEST(AddCuda, GivesTheSameSumInPlaceOverInputZeroAndIntoItsOwnBuffer) {
    WEFT_SKIP_WITHOUT_CUDA();
    for (int count : {2, 9})
        for (const weft::Shape& shape : {weft::Shape{8, 48, 32, 32}, weft::Shape{3, 5, 7, 9}}) {
            SCOPED_TRACE(testing::Message() << count << " inputs of " << weft::shape_str(shape));
            const std::vector<weft::Tensor> inputs = random_inputs(shape, count, 50);
            const weft::Tensor expected = run_op("add", {}, inputs).at(0);
            const weft::testing::ForwardResult in_place = run_op_forward("add", {}, inputs, /*in_place=*/true, "cuda");
            EXPECT_TRUE(all_close(in_place.outputs.at(0), expected, kLongSum.rtol, kLongSum.atol));
            EXPECT_TRUE(all_close(in_place.inputs_after.at(0), in_place.outputs.at(0), 0.0, 0.0));
            const weft::testing::ForwardResult apart = run_op_forward("add", {}, inputs, /*in_place=*/false, "cuda");
            EXPECT_TRUE(all_close(apart.outputs.at(0), in_place.outputs.at(0), 0.0, 0.0));
            for (int i = 0; i < count; ++i) EXPECT_TRUE(all_close(apart.inputs_after.at(i), inputs[i], 0.0, 0.0));
        }
}

TEST(AddCuda, BackwardGivesEveryInputTheOutputGradient) {
    WEFT_SKIP_WITHOUT_CUDA();
    for (int count : {2, 3})
        for (const weft::Shape& shape : {weft::Shape{32, 96, 16, 16}, weft::Shape{3, 5, 7, 9}}) {
            SCOPED_TRACE(testing::Message() << count << " inputs of " << weft::shape_str(shape));
            const std::vector<weft::Tensor> inputs = random_inputs(shape, count, 70);
            EXPECT_TRUE(backward_matches("add", {}, inputs, {random_tensor(shape, 80)}, kExact));
        }
}

}  // namespace
