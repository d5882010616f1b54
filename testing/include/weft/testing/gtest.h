// GoogleTest for weft/testing/op_check.h, for plugin tests that use it: a CheckResult as an
// assertion, closeness of two tensors, and weft::Error messages. Header-only and optional; the
// testing library itself does not depend on GoogleTest.
//   EXPECT_TRUE(weft::testing::as_assertion(check_gradients(plugins, call)));
//   EXPECT_TRUE(weft::testing::all_close(actual, expected, 1e-5, 1e-6));
#pragma once

#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "weft/error.h"
#include "weft/testing/op_check.h"

namespace weft::testing {

inline ::testing::AssertionResult as_assertion(const CheckResult& result) {
    if (result.passed()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << result.failure;
}

// compare() as an assertion: |actual − expected| <= atol + rtol·|expected| everywhere.
inline ::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol = 1e-4,
                                            double atol = 1e-5) {
    return as_assertion(compare(actual, expected, Tolerance{rtol, atol}));
}

// Succeeds when `fn` throws a weft::Error whose message contains `fragment`.
inline ::testing::AssertionResult throws_error_containing(const std::function<void()>& fn,
                                                          const std::string& fragment) {
    try {
        fn();
    } catch (const Error& e) {
        if (std::string(e.what()).find(fragment) != std::string::npos) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "message '" << e.what() << "' lacks '" << fragment << "'";
    }
    return ::testing::AssertionFailure() << "no weft::Error thrown";
}

}  // namespace weft::testing
