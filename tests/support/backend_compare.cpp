#include "backend_compare.h"

#include <cstring>

#include "op_harness.h"

namespace weft::testing {

::testing::AssertionResult tensors_match(const Tensor& actual, const Tensor& expected, Tolerance tolerance) {
    if (actual.desc() != expected.desc())
        return ::testing::AssertionFailure() << actual.desc().str() << " != expected " << expected.desc().str();
    if (actual.desc().dtype == DType::f32) return as_assertion(compare(actual, expected, tolerance));
    if (std::memcmp(actual.data(), expected.data(), actual.bytes()) != 0)
        return ::testing::AssertionFailure() << actual.desc().str() << " differs from the expected bytes";
    return ::testing::AssertionSuccess();
}

std::vector<Shape> igc_and_odd_activation_shapes() {
    return {{256, 48, 32, 32}, {64, 96, 16, 16}, {32, 192, 8, 8}, {2, 64, 8, 8},
            {3, 5, 7, 9},      {2, 3, 5, 5},     {1, 1, 1, 1},    {4, 6, 3, 2}};
}

namespace {

::testing::AssertionResult all_match(const char* what, const std::vector<Tensor>& actual,
                                     const std::vector<Tensor>& expected, Tolerance tolerance) {
    if (actual.size() != expected.size())
        return ::testing::AssertionFailure() << actual.size() << " " << what << " != expected " << expected.size();
    for (std::size_t i = 0; i < actual.size(); ++i)
        if (::testing::AssertionResult r = tensors_match(actual[i], expected[i], tolerance); !r)
            return ::testing::AssertionFailure() << what << " " << i << ": " << r.message();
    return ::testing::AssertionSuccess();
}

}  // namespace

::testing::AssertionResult forward_matches(const std::string& op, const Attributes& attrs,
                                           const std::vector<Tensor>& inputs, Tolerance tolerance,
                                           const std::string& backend, const WeightMap& params,
                                           const std::string& reference) {
    return all_match("output", run_op(op, attrs, inputs, params, backend),
                     run_op(op, attrs, inputs, params, reference), tolerance);
}

::testing::AssertionResult backward_matches(const std::string& op, const Attributes& attrs,
                                            const std::vector<Tensor>& inputs, const std::vector<Tensor>& grad_outputs,
                                            Tolerance tolerance, const std::string& backend, const WeightMap& params,
                                            const std::string& reference) {
    const BackwardResult actual = run_op_backward(op, attrs, inputs, grad_outputs, params, {}, 1, backend);
    const BackwardResult expected = run_op_backward(op, attrs, inputs, grad_outputs, params, {}, 1, reference);
    if (auto r = all_match("output", actual.outputs, expected.outputs, tolerance); !r) return r;
    if (auto r = all_match("input gradient", actual.grad_inputs, expected.grad_inputs, tolerance); !r) return r;
    if (auto r = all_match("parameter gradient", actual.grad_params, expected.grad_params, tolerance); !r) return r;
    for (const auto& [name, value] : expected.params)
        if (auto r = tensors_match(actual.params.at(name), value, tolerance); !r)
            return ::testing::AssertionFailure() << "parameter '" << name << "' after the step: " << r.message();
    return ::testing::AssertionSuccess();
}

}  // namespace weft::testing
