// One operator on two backends (a new backend's kernel against the cpu kernel that the operator's
// own tests check against a reference), through the harness's entry points, within a tolerance
// the caller states: |actual − reference| <= atol + rtol·|reference| for every element.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "weft/attributes.h"
#include "weft/tensor.h"
#include "weft/testing/op_check.h"
#include "weft/weights.h"

namespace weft::testing {

// Tolerance is the testing library's (weft/testing/op_check.h): |a − b| <= atol + rtol·|b|.

// Inference through the executor (run_op) on `backend` and on `reference`: the outputs.
::testing::AssertionResult forward_matches(const std::string& op, const Attributes& attrs,
                                           const std::vector<Tensor>& inputs, Tolerance tolerance,
                                           const std::string& backend = "cuda", const WeightMap& params = {},
                                           const std::string& reference = "cpu");

// One training forward and backward (run_op_backward) on both: the outputs, the gradients of the
// inputs (f32 ones within the tolerance, others byte for byte) and of the parameters, and the
// parameters afterwards (running statistics).
::testing::AssertionResult backward_matches(const std::string& op, const Attributes& attrs,
                                            const std::vector<Tensor>& inputs, const std::vector<Tensor>& grad_outputs,
                                            Tolerance tolerance, const std::string& backend = "cuda",
                                            const WeightMap& params = {}, const std::string& reference = "cpu");

// Activations to compare kernels on: IGC's geometries (48 to 192 channels at 32×32, 16×16 and
// 8×8, batches up to 256) and odd sizes whose planes and totals are not multiples of 4, so that
// vectorised paths meet their scalar remainders and unaligned planes.
std::vector<Shape> igc_and_odd_activation_shapes();

// Whether two tensors agree: f32 within the tolerance, any other type byte for byte.
::testing::AssertionResult tensors_match(const Tensor& actual, const Tensor& expected, Tolerance tolerance);

}  // namespace weft::testing
