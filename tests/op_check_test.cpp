// The testing library plugin authors get installed (weft/testing/op_check.h): it runs the kernel
// it is asked for, and each check fails where the kernel is wrong — a wrong output against a
// reference, a wrong backward against finite differences — naming where.
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/testing/gtest.h"
#include "weft/testing/op_check.h"

namespace {

namespace fs = std::filesystem;
using weft::Tensor;
using weft::testing::check_against_reference;
using weft::testing::check_gradients;
using weft::testing::CheckResult;
using weft::testing::compare;
using weft::testing::OpCall;
using weft::testing::PluginSet;
using weft::testing::random_tensor;
using weft::testing::tensor_from;

fs::path fixture_dir(const std::string& name) { return fs::path(WEFT_TEST_BINARY_DIR) / "tests/plugin_fixtures" / name; }

// weft's plugins (for the cpu backend) and test_scale's libraries: `good` (the op and its
// `reference` kernel) and the given fixtures' kernels.
PluginSet scale_plugins(const std::vector<std::string>& fixtures) {
    std::vector<fs::path> dirs{weft::testing::weft_plugin_directory(), fixture_dir("good")};
    for (const std::string& f : fixtures) dirs.push_back(fixture_dir(f));
    return PluginSet(dirs);
}

OpCall scale_call(double factor, const std::string& kernel = {}) {
    OpCall call;
    call.op = "test_scale";
    call.attrs.set("factor", factor);
    call.inputs = {random_tensor({2, 3, 4}, 7)};
    call.kernel = kernel;
    return call;
}

::testing::AssertionResult fails_with(const CheckResult& result, const std::string& fragment) {
    if (result.passed()) return ::testing::AssertionFailure() << "the check passed";
    if (result.failure.find(fragment) == std::string::npos)
        return ::testing::AssertionFailure() << "failure '" << result.failure << "' lacks '" << fragment << "'";
    return ::testing::AssertionSuccess();
}

TEST(OpCheck, FindsTheWeftPluginDirectoryBesideTheLibraryItself) {
    EXPECT_EQ(fs::canonical(weft::testing::weft_plugin_directory()), fs::canonical(WEFT_TEST_PLUGIN_DIR));
}

TEST(OpCheck, CompareNamesTheFirstElementOutsideTheToleranceWithBothValues) {
    const Tensor expected = tensor_from({4}, {1.f, 2.f, 3.f, 4.f});
    EXPECT_TRUE(compare(tensor_from({4}, {1.f, 2.f, 3.f, 4.f}), expected, {0.0, 0.0}));
    EXPECT_TRUE(compare(tensor_from({4}, {1.f, 2.f, 3.001f, 4.f}), expected, {1e-3, 0.0}));
    EXPECT_TRUE(fails_with(compare(tensor_from({4}, {1.f, 2.f, 3.01f, 4.f}), expected, {1e-3, 0.0}),
                           "element 2 of [4]: 3.01 != expected 3"));
    const float nan = std::numeric_limits<float>::quiet_NaN();
    EXPECT_TRUE(fails_with(compare(tensor_from({4}, {1.f, nan, 3.f, 4.f}), expected, {1.0, 1.0}), "element 1"));
    EXPECT_TRUE(fails_with(compare(tensor_from({2, 2}, {1.f, 2.f, 3.f, 4.f}), expected), "shape [2, 2] != expected [4]"));
}

TEST(OpCheck, RunsTheKernelWeftChoosesOrTheOneForced) {
    const PluginSet plugins = scale_plugins({"marked"});  // `marked` (priority 5): factor·x + 1
    EXPECT_TRUE(plugins.refused().empty());
    const OpCall chosen = scale_call(3.0), forced = scale_call(3.0, "reference");
    EXPECT_EQ(weft::testing::chosen_kernel(plugins, chosen), "marked (libweft_marked.so)");
    EXPECT_EQ(weft::testing::chosen_kernel(plugins, forced), "reference (libweft_good.so)");
    const float x0 = chosen.inputs[0].as<float>()[0];
    EXPECT_FLOAT_EQ(run_op(plugins, chosen).at(0).as<float>()[0], 3.f * x0 + 1.f);
    EXPECT_FLOAT_EQ(run_op(plugins, forced).at(0).as<float>()[0], 3.f * x0);
}

TEST(OpCheck, AForcedKernelThatDeclinesTheNodeIsAnErrorNotARunOfAnotherKernel) {
    const PluginSet plugins = scale_plugins({"picky"});  // `picky` takes factor 2 only
    EXPECT_EQ(weft::testing::chosen_kernel(plugins, scale_call(2.0, "picky")), "picky (libweft_picky.so)");
    EXPECT_TRUE(weft::testing::throws_error_containing([&] { run_op(plugins, scale_call(3.0, "picky")); },
                                                       "the forced test_scale kernel 'picky' declined the node"));
}

TEST(OpCheck, AKernelMatchesAReferenceThatComputesTheSameAndFailsOneThatDoesNot) {
    EXPECT_TRUE(weft::testing::as_assertion(
        check_against_reference(scale_plugins({"override"}), scale_call(2.5), "reference")));
    EXPECT_TRUE(fails_with(check_against_reference(scale_plugins({"marked"}), scale_call(2.5), "reference"),
                           "marked (libweft_marked.so) against the reference reference (libweft_good.so): output 0"));
}

TEST(OpCheck, AReferenceCheckOfAKernelAgainstItselfFailsRatherThanPassingVacuously) {
    EXPECT_TRUE(fails_with(check_against_reference(scale_plugins({}), scale_call(2.0), "reference"), "itself"));
}

TEST(OpCheck, TheGradientCheckPassesARightBackwardAndNamesTheInputOfAWrongOne) {
    const PluginSet plugins = scale_plugins({"scale_gradients"});
    EXPECT_TRUE(weft::testing::as_assertion(check_gradients(plugins, scale_call(3.0, "right"))));
    EXPECT_TRUE(fails_with(check_gradients(plugins, scale_call(3.0, "wrong")),
                           "the backward of wrong (libweft_scale_gradients.so) differs from central differences"));
    EXPECT_TRUE(fails_with(check_gradients(plugins, scale_call(3.0, "wrong")), "dL/d(input 0) element 0"));
}

TEST(OpCheck, TheGradientCheckLeavesTheCallersTensorsAsTheyWere) {
    const OpCall call = scale_call(3.0, "right");
    const Tensor before = weft::testing::deep_copy(call.inputs[0]);
    ASSERT_TRUE(check_gradients(scale_plugins({"scale_gradients"}), call));
    EXPECT_TRUE(weft::testing::all_close(call.inputs[0], before, 0.0, 0.0));
}

TEST(OpCheck, TheGradientCheckCoversEveryInputAndLearnableParameterOfWeftsOperators) {
    const PluginSet& plugins = weft::testing::build_plugins();
    OpCall fc;
    fc.op = "fc";
    fc.attrs.set("out_features", std::int64_t{3});
    fc.inputs = {random_tensor({2, 5}, 11)};
    EXPECT_TRUE(weft::testing::as_assertion(check_gradients(plugins, fc)));
    // Batch statistics follow the input in every loss evaluation; running statistics are state,
    // not differentiated.
    OpCall batch_norm;
    batch_norm.op = "batch_norm";
    batch_norm.inputs = {random_tensor({3, 2, 2, 2}, 12)};
    batch_norm.params = {{"weight", random_tensor({2}, 13, 0.5f, 1.5f)}, {"bias", random_tensor({2}, 14)}};
    EXPECT_TRUE(weft::testing::as_assertion(check_gradients(plugins, batch_norm, {.tolerance = {1e-2, 2e-3}})));
}

TEST(OpCheck, AParameterTheSchemaDoesNotDeclareIsAnError) {
    OpCall fc;
    fc.op = "fc";
    fc.attrs.set("out_features", std::int64_t{3});
    fc.inputs = {random_tensor({2, 5}, 11)};
    fc.params = {{"weights", random_tensor({3, 5}, 1)}};
    EXPECT_TRUE(weft::testing::throws_error_containing([&] { run_op(weft::testing::build_plugins(), fc); },
                                                       "op 'fc' has no parameter 'weights' on this node (it has: weight, bias)"));
}

TEST(OpCheck, SaysWhyABackendCannotRun) {
    EXPECT_EQ(weft::testing::build_plugins().backend_unavailable_reason("cpu"), "");
    EXPECT_EQ(weft::testing::build_plugins().backend_unavailable_reason("tpu"), "no plugin registers the backend 'tpu'");
}

TEST(OpCheck, APluginDirectoryThatDoesNotExistIsAnError) {
    EXPECT_TRUE(weft::testing::throws_error_containing([] { PluginSet({"/nonexistent/plugins"}); },
                                                       "plugin directory '/nonexistent/plugins' does not exist"));
}

}  // namespace
