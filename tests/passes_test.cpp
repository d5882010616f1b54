// Graph passes rewrite the graph for speed; each must leave the outputs as they were.
#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/error.h"
#include "weft/executor.h"
#include "weft/graph_file.h"
#include "weft/graph_pass.h"
#include "weft/registry.h"

using namespace weft;
using weft::testing::build_registry;

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
    // Inference-only passes skip training; what remains is valid for both.
    const auto training = select_passes(r, "default", true);
    ASSERT_EQ(training.size(), 1u);
    EXPECT_EQ(training[0]->name, "fuse_batch_norm_relu");
    try {
        select_passes(r, "fold_everything", false);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown pass 'fold_everything'"), std::string::npos) << e.what();
    }
}
