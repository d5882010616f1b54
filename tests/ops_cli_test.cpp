// `weft ops`: the reference of every operator and optimizer, read from their schemas alone —
// attributes, parameters, traits, backward, kernels — and docs/operators.md as it prints it.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_harness.h"

namespace fs = std::filesystem;

namespace {

using Result = weft::testing::CommandResult;

// Runs bin/weft with `args` and this build's plugins only, whatever the environment says.
Result weft_ops(const std::string& args) {
    static const weft::testing::ScratchDirectory scratch("weft_ops_cli_test");
    return weft::testing::run_weft("ops " + args, scratch.path(), {.env = "WEFT_PLUGIN_PATH="});
}

::testing::AssertionResult contains(const std::string& text, const std::string& fragment) {
    if (text.find(fragment) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "lacks [" << fragment << "]:\n" << text;
}

fs::path fixture_dir(const std::string& name) { return fs::path(WEFT_TEST_BINARY_DIR) / "tests/plugin_fixtures" / name; }

TEST(OpsCommand, DocsOperatorsMdIsWhatWeftOpsMarkdownPrints) {
    const Result r = weft_ops("--markdown");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(weft::testing::read_text(fs::path(WEFT_TEST_SOURCE_DIR) / "docs/operators.md"), r.out)
        << "regenerate it: build/bin/weft ops --markdown > docs/operators.md";
}

TEST(OpsCommand, ShowsEverythingTheSchemaDeclaresAndTheKernelsBestFirst) {
    const Result r = weft_ops("group_conv");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "inputs 1, outputs 1; in place: no; backward: keeps its inputs"));
    EXPECT_TRUE(contains(r.out, "    out_channels     integer          required   ≥ 1"));
    EXPECT_TRUE(contains(r.out, "    stride           list of integers [1]        ≥ 1"));
    EXPECT_TRUE(contains(r.out, "parameters (on input f32[1, 8, 8, 8] with out_channels = 4, kernel = [3]):"));
    EXPECT_TRUE(contains(r.out, "    weight           f32[4, 8, 3, 3]    he_normal       counted, learnable"));
    EXPECT_TRUE(contains(r.out, "traits: convolution"));
    const std::size_t small_groups = r.out.find("cpu   small_groups   priority 10"), onednn = r.out.find("cpu   onednn");
    ASSERT_NE(small_groups, std::string::npos) << r.out;
    EXPECT_LT(small_groups, onednn) << r.out;
    EXPECT_FALSE(contains(r.out, "optimizers:"));
}

TEST(OpsCommand, SaysWhereParametersDependOnTheInputAndWhy) {
    const Result r = weft_ops("pool");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "parameters: depend on the input (pool: mode 'max' needs attribute 'kernel'"));
}

TEST(OpsCommand, ReadsTraitsFromAPluginsSchemaNotFromOpNames) {
    const Result r = weft_ops("test_reverse_channels --plugin-path '" + fixture_dir("permutation").string() + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "traits: channel permutation (on 8 channels: destination 7, 6, 5, 4, 3, 2, 1, 0)"));
    EXPECT_TRUE(contains(weft_ops("relu").out, "traits: elementwise; activation 'relu'"));
    EXPECT_TRUE(contains(weft_ops("softmax").out, "traits: probabilities"));
    EXPECT_TRUE(contains(weft_ops("channel_permute").out, "destination 0, 4, 1, 5, 2, 6, 3, 7"));
}

TEST(OpsCommand, ListsOptimizersWithHyperparametersStateAndKernels) {
    const Result r = weft_ops("sgd");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "optimizers:\n\nsgd (libweft_optimizer_sgd.so)"));
    EXPECT_TRUE(contains(r.out, "    momentum         number           0.9        [0, 1]"));
    EXPECT_TRUE(contains(r.out, "    nesterov         boolean          true"));
    EXPECT_TRUE(contains(r.out, "state per parameter: momentum"));
    EXPECT_TRUE(contains(r.out, "    cpu   plain          libweft_optimizer_sgd_cpu.so"));
}

TEST(OpsCommand, JsonCarriesTheSameFactsForTools) {
    const Result r = weft_ops("--json");
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    const auto op = [&](const std::string& name) {
        for (const auto& o : j.at("ops"))
            if (o.at("name") == name) return o;
        ADD_FAILURE() << "no op " << name;
        return nlohmann::json();
    };
    const nlohmann::json batch_norm = op("batch_norm");
    EXPECT_EQ(batch_norm.at("parameters").at("list").size(), 4u);
    EXPECT_EQ(batch_norm.at("parameters").at("list")[2].at("learnable"), false);
    EXPECT_EQ(batch_norm.at("backward_needs").at("inputs"), true);
    const nlohmann::json relu = op("relu");
    EXPECT_EQ(relu.at("inplace_input"), 0);
    EXPECT_EQ(relu.at("traits").at("activation"), "relu");
    EXPECT_EQ(op("fc").at("attributes")[0].at("required"), true);
    EXPECT_EQ(op("pool").at("parameters").at("known"), false);
    const nlohmann::json group_conv = op("group_conv");  // named: a range-for over a temporary's member dangles
    for (const auto& k : group_conv.at("kernels"))
        EXPECT_TRUE(k.contains("backend") && k.contains("priority") && k.contains("available")) << k.dump();
    ASSERT_EQ(j.at("optimizers").size(), 1u);
    EXPECT_EQ(j.at("optimizers")[0].at("state"), nlohmann::json::array({"momentum"}));
}

TEST(OpsCommand, AnUnknownNameIsOneLineNamingWhatIsRegistered) {
    const Result r = weft_ops("leaky_relu");
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    EXPECT_TRUE(contains(r.err, "weft: error: weft ops: no operator or optimizer 'leaky_relu' is registered (operators: add,"));
    EXPECT_TRUE(contains(r.err, "optimizers: sgd)"));
}

}  // namespace
