// Graph passes rewrite the graph for speed; each must leave the outputs as they were.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/error.h"
#include "weft/executor.h"
#include "weft/graph_file.h"
#include "weft/graph_pass.h"
#include "weft/registry.h"

using namespace weft;
using weft::testing::build_registry;
namespace fs = std::filesystem;

namespace {

// Weights whose batch norms are far from the identity, so folding them is really exercised.
WeightMap distinctive_weights(const Graph& g) {
    WeightMap w = init_weights(g, 11);
    std::uint64_t seed = 100;
    for (auto& [name, t] : w) {
        const auto ends_with = [&](const std::string& s) { return name.size() > s.size() && name.ends_with(s); };
        if (ends_with(".running_var") || (ends_with(".weight") && t.desc().rank() == 1))
            t = weft::testing::random_tensor(t.shape(), ++seed, 0.5f, 1.5f);
        else if (ends_with(".running_mean") || (ends_with(".bias") && t.desc().rank() == 1))
            t = weft::testing::random_tensor(t.shape(), ++seed, -0.3f, 0.3f);
    }
    return w;
}

struct Outcome {
    Tensor output;
    std::vector<PassReport> reports;
    std::size_t nodes = 0;
};

Outcome run_with(const std::string& id, const std::string& passes) {
    const Registry& r = build_registry();
    Graph g = resolve_graph(id);
    g.set_batch(3);
    infer_shapes(g, r);
    WeightMap w = distinctive_weights(g);
    Tensor x = random_normal(g.values[g.inputs[0]].desc, 9);
    Outcome o;
    o.reports = run_passes(g, w, r, select_passes(r, passes, false));
    o.nodes = g.nodes.size();
    Executor exec(g, r, w, {});
    auto out = exec.make_outputs();
    exec.run(std::span<const Tensor>(&x, 1), out);
    o.output = out[0];
    return o;
}

int rewrites(const Outcome& o, const std::string& pass) {
    for (const PassReport& r : o.reports)
        if (r.name == pass) return r.rewrites;
    return -1;
}

}  // namespace

TEST(Passes, FoldingBatchNormAcrossPermutationsKeepsIgcOutputs) {
    const Outcome plain = run_with("igc-l24m2-d8", "none");
    const Outcome folded = run_with("igc-l24m2-d8", "fold_batch_norm");
    EXPECT_EQ(rewrites(folded, "fold_batch_norm"), 7);  // the stem and six IGC blocks
    EXPECT_EQ(plain.nodes - folded.nodes, 7u);
    EXPECT_TRUE(weft::testing::all_close(folded.output, plain.output, 1e-4, 1e-6));
}

TEST(Passes, EveryDefaultPassTogetherKeepsOutputsOfIgcAndRegularNetworks) {
    for (const char* id : {"igc-l24m2-d8", "igc-l4m8-d8", "regconv-w16-d8"}) {
        const Outcome plain = run_with(id, "none");
        const Outcome optimised = run_with(id, "default");
        EXPECT_LT(optimised.nodes, plain.nodes) << id;
        EXPECT_TRUE(weft::testing::all_close(optimised.output, plain.output, 1e-4, 1e-6)) << id;
    }
}

TEST(Passes, SelectionAcceptsNamesAndExclusionsAndRejectsUnknownOnes) {
    const Registry& r = build_registry();
    EXPECT_TRUE(select_passes(r, "none", false).empty());
    const auto all = select_passes(r, "default", false);
    ASSERT_FALSE(all.empty());
    const auto without = select_passes(r, "-fold_batch_norm", false);
    EXPECT_EQ(without.size() + 1, all.size());
    for (const GraphPass* p : without) EXPECT_NE(p->name, "fold_batch_norm");
    const auto only = select_passes(r, "fold_batch_norm", false);
    ASSERT_EQ(only.size(), 1u);
    // Inference-only passes skip training; what remains is valid for both, dead-node
    // elimination (core's own) first.
    const auto training = select_passes(r, "default", true);
    ASSERT_EQ(training.size(), 3u);
    EXPECT_EQ(training[0]->name, "eliminate_dead_nodes");
    EXPECT_EQ(training[1]->name, "fuse_batch_norm_relu");
    EXPECT_EQ(training[2]->name, "fold_permutations");
    try {
        select_passes(r, "fold_everything", false);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown pass 'fold_everything'"), std::string::npos) << e.what();
    }
}

// ---------------------------------------------------------------------------------------------
// Graph outputs are readers too: a value the user asked to see must come out as the graph
// computes it, whatever the passes rewrite behind it. One graph per pass, each with an
// intermediate value among its outputs.

namespace {

// A small graph from YAML text, shape-inferred at batch 2, with distinctive weights.
struct SmallGraph {
    Graph graph;
    WeightMap weights;
};

SmallGraph small_graph(const std::string& yaml, const Registry& registry) {
    const fs::path file = fs::temp_directory_path() / fmt::format("weft_passes_test_{}.yaml", ::getpid());
    std::ofstream(file) << yaml;
    SmallGraph s{load_graph_file(file), {}};
    fs::remove(file);
    s.graph.set_batch(2);
    infer_shapes(s.graph, registry);
    s.weights = distinctive_weights(s.graph);
    return s;
}

// Every output of the graph, after `passes`, with the same input.
std::vector<Tensor> outputs_after(SmallGraph s, const std::string& passes, const Registry& registry,
                                  std::vector<PassReport>* reports = nullptr) {
    const std::vector<PassReport> done = run_passes(s.graph, s.weights, registry, select_passes(registry, passes, false));
    if (reports) *reports = done;
    Executor exec(s.graph, registry, s.weights, {});
    const Tensor x = random_normal(s.graph.values[s.graph.inputs[0]].desc, 5);
    auto out = exec.make_outputs();
    exec.run(std::span<const Tensor>(&x, 1), out);
    return out;
}

void expect_same_outputs(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i)
        EXPECT_TRUE(weft::testing::all_close(actual[i], expected[i], 1e-5, 1e-6)) << "output " << i;
}

int count_of(const std::vector<PassReport>& reports, const std::string& pass) {
    for (const PassReport& r : reports)
        if (r.name == pass) return r.rewrites;
    return -1;
}

// conv -> bn -> relu, with `outputs` among conv, bn, relu.
std::string conv_bn_relu(const std::string& outputs, const std::string& between = "") {
    return "family: tiny\ninputs: [{name: data, shape: [3, 8, 8]}]\noutputs: [" + outputs + "]\ngraph:\n"
           "  - {op: group_conv, name: conv, out_channels: 4, kernel: 3, padding: 1}\n" + between +
           "  - {op: batch_norm, name: bn}\n"
           "  - {op: relu, name: relu}\n";
}

}  // namespace

TEST(PassesKeepGraphOutputs, FoldBatchNormLeavesAConvolutionThatIsAnOutput) {
    const Registry& r = build_registry();
    const SmallGraph g = small_graph(conv_bn_relu("conv, relu"), r);
    std::vector<PassReport> reports;
    expect_same_outputs(outputs_after(g, "fold_batch_norm", r, &reports), outputs_after(g, "none", r));
    EXPECT_EQ(count_of(reports, "fold_batch_norm"), 0);
}

TEST(PassesKeepGraphOutputs, FoldBatchNormStopsAtAPermutationWhoseInputIsAnOutput) {
    const Registry& r = build_registry();
    const SmallGraph g =
        small_graph(conv_bn_relu("conv, relu", "  - {op: channel_permute, name: shuffle, groups: 2}\n"), r);
    std::vector<PassReport> reports;
    expect_same_outputs(outputs_after(g, "fold_batch_norm", r, &reports), outputs_after(g, "none", r));
    EXPECT_EQ(count_of(reports, "fold_batch_norm"), 0);
}

TEST(PassesKeepGraphOutputs, FuseReluLeavesAnOutputBeforeItUnchanged) {
    const Registry& r = build_registry();
    // conv -> relu with both outputs: the ReLU must not move into the convolution.
    const std::string yaml = "family: tiny\ninputs: [{name: data, shape: [3, 8, 8]}]\noutputs: [conv, relu]\ngraph:\n"
                             "  - {op: group_conv, name: conv, out_channels: 4, kernel: 3, padding: 1}\n"
                             "  - {op: relu, name: relu}\n";
    const SmallGraph g = small_graph(yaml, r);
    std::vector<PassReport> reports;
    expect_same_outputs(outputs_after(g, "fuse_relu", r, &reports), outputs_after(g, "none", r));
    EXPECT_EQ(count_of(reports, "fuse_relu"), 0);
}

TEST(PassesKeepGraphOutputs, FuseBatchNormReluLeavesTheBatchNormOutputUnchanged) {
    const Registry& r = build_registry();
    const SmallGraph g = small_graph(conv_bn_relu("bn, relu"), r);
    std::vector<PassReport> reports;
    expect_same_outputs(outputs_after(g, "fuse_batch_norm_relu", r, &reports), outputs_after(g, "none", r));
    EXPECT_EQ(count_of(reports, "fuse_batch_norm_relu"), 0);
}

TEST(PassesKeepGraphOutputs, EveryDefaultPassTogetherOnEveryChoiceOfOutputs) {
    const Registry& r = build_registry();
    for (const char* outputs : {"conv", "bn", "relu", "conv, relu", "conv, bn", "bn, relu", "conv, bn, relu"}) {
        SCOPED_TRACE(outputs);
        for (const char* between : {"", "  - {op: channel_permute, name: shuffle, groups: 2}\n"}) {
            const SmallGraph g = small_graph(conv_bn_relu(outputs, between), r);
            expect_same_outputs(outputs_after(g, "default", r), outputs_after(g, "none", r));
        }
    }
}

TEST(PassesKeepGraphOutputs, DeadNodesGoFirstAndTheirWeightsWithThem) {
    const Registry& r = build_registry();
    SmallGraph g = small_graph(conv_bn_relu("conv"), r);
    const std::vector<Tensor> expected = outputs_after(g, "none", r);
    std::vector<PassReport> reports;
    expect_same_outputs(outputs_after(g, "default", r, &reports), expected);
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports.front().name, "eliminate_dead_nodes");
    EXPECT_EQ(reports.front().rewrites, 2);  // bn and relu: no output depends on them
    run_passes(g.graph, g.weights, r, select_passes(r, "eliminate_dead_nodes", false));
    EXPECT_EQ(g.graph.nodes.size(), 1u);
    for (const auto& [name, tensor] : g.weights) EXPECT_TRUE(name.starts_with("conv.")) << name;
}

// A stranger's permutation op, known to weft only through OpTraits::channel_permutation, gets
// batch norm folded through it like channel_permute.
TEST(PassesKeepGraphOutputs, BatchNormFoldsThroughAPluginPermutationDeclaredByItsTrait) {
    Registry r;
    r.load_directories({WEFT_TEST_PLUGIN_DIR, fs::path(WEFT_TEST_BINARY_DIR) / "tests/plugin_fixtures/permutation"});
    ASSERT_TRUE(r.find_op("test_reverse_channels"));
    const SmallGraph g = small_graph(conv_bn_relu("relu", "  - {op: test_reverse_channels, name: reverse}\n"), r);
    std::vector<PassReport> reports;
    expect_same_outputs(outputs_after(g, "default", r, &reports), outputs_after(g, "none", r));
    EXPECT_EQ(count_of(reports, "fold_batch_norm"), 1);
    EXPECT_EQ(count_of(reports, "fuse_relu"), 1);
}

// The same stranger's permutation inside an IGC block, and a ReLU after it: fuse_igc_block takes
// both into the fused node through their traits, and the outputs stay the graph's. The CPU's
// plugins alone, as `weft run --device cpu` loads them (a usable CUDA backend, without an
// igc_block kernel, would turn the fusion off).
TEST(PassesKeepGraphOutputs, AnIgcBlockFusesThroughAPluginPermutationDeclaredByItsTrait) {
    Registry r;
    r.load_directories({WEFT_TEST_PLUGIN_DIR, fs::path(WEFT_TEST_BINARY_DIR) / "tests/plugin_fixtures/permutation"},
                       {"cpu"});
    ASSERT_TRUE(r.find_op("test_reverse_channels"));
    const std::string yaml = "family: tiny\ninputs: [{name: data, shape: [8, 9, 7]}]\ngraph:\n"
                             "  - {op: group_conv, name: primary, out_channels: 8, kernel: 3, padding: 1, groups: 4}\n"
                             "  - {op: test_reverse_channels, name: reverse}\n"
                             "  - {op: pointwise_conv, name: secondary, out_channels: 8, groups: 2, bias: true}\n"
                             "  - {op: relu, name: relu}\n";
    const SmallGraph g = small_graph(yaml, r);
    std::vector<PassReport> reports;
    expect_same_outputs(outputs_after(g, "default", r, &reports), outputs_after(g, "none", r));
    EXPECT_EQ(count_of(reports, "fuse_igc_block"), 1);
    SmallGraph fused = g;
    run_passes(fused.graph, fused.weights, r, select_passes(r, "default", false));
    ASSERT_EQ(fused.graph.nodes.size(), 1u);
    EXPECT_EQ(fused.graph.nodes[0].op, "igc_block");
    EXPECT_TRUE(fused.graph.nodes[0].attrs.get_bool("fused_relu"));
}
