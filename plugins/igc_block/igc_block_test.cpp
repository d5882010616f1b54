// The fused IGC block: the fuse_igc_block pass turns the IGC blocks of the paper's networks into
// igc_block nodes (and leaves alone what it should), and the fused kernel gives the separate
// nodes' outputs on every instruction-set path, at any thread count, on the zoo's shapes and on
// awkward ones (odd sizes, stride 2, biases, uneven channel blocks, bands that do not divide the
// height).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "group_conv_small_groups_isa.h"
#include "op_harness.h"
#include "weft/executor.h"
#include "weft/graph_file.h"
#include "weft/graph_pass.h"
#include "weft/registry.h"

namespace {

using weft::Graph;
using weft::Tensor;
using weft::WeightMap;
using weft::testing::ForcedIsa;
using weft::testing::missing_isa;

struct Outcome {
    Tensor output;
    int fused = 0;                   // fuse_igc_block's rewrites
    std::vector<std::string> ops;    // the nodes left, in order
    std::vector<std::string> kernels;
};

// Weights with biases and batch norms far from the identity, so that folding and both biases of
// the fused block are exercised.
WeightMap distinctive_weights(const Graph& g) {
    WeightMap w = weft::init_weights(g, 5);
    std::uint64_t seed = 200;
    for (auto& [name, t] : w) {
        if (name.ends_with(".running_var") || (name.ends_with(".weight") && t.desc().rank() == 1))
            t = weft::testing::random_tensor(t.shape(), ++seed, 0.5f, 1.5f);
        else if (name.ends_with(".running_mean") || (name.ends_with(".bias") && t.desc().rank() == 1))
            t = weft::testing::random_tensor(t.shape(), ++seed, -0.3f, 0.3f);
    }
    return w;
}

// The CPU's plugins alone, as `weft run --device cpu` loads them: the pass fuses only where every
// usable backend has an igc_block kernel, and on a machine with a GPU the tests' full set holds
// the CUDA backend, which has none yet.
const weft::Registry& cpu_registry() {
    static weft::Registry registry;
    static const bool loaded = (registry.load_directory(WEFT_TEST_PLUGIN_DIR, {"cpu"}), true);
    (void)loaded;
    return registry;
}

Outcome run(Graph g, const std::string& passes, int threads) {
    const weft::Registry& r = cpu_registry();
    g.set_batch(3);
    weft::infer_shapes(g, r);
    WeightMap w = distinctive_weights(g);
    const Tensor x = weft::random_normal(g.values[g.inputs[0]].desc, 9);
    Outcome o;
    for (const weft::PassReport& report : weft::run_passes(g, w, r, weft::select_passes(r, passes, false)))
        if (report.name == "fuse_igc_block") o.fused = report.rewrites;
    weft::CompileOptions options;
    options.device.threads = threads;
    weft::Executor exec(g, r, w, options);
    for (std::size_t n = 0; n < g.nodes.size(); ++n) {
        o.ops.push_back(g.nodes[n].op);
        o.kernels.push_back(exec.kernel_name(static_cast<int>(n)));
    }
    auto out = exec.make_outputs();
    exec.run(std::span<const Tensor>(&x, 1), out);
    o.output = out[0];
    return o;
}

std::ptrdiff_t count(const std::vector<std::string>& ops, const std::string& op) {
    return std::count(ops.begin(), ops.end(), op);
}

// The fused outputs against the separate nodes' (the default passes without this one).
void expect_fused_matches(const Graph& g, int expected_fusions, int threads = 2) {
    const Outcome plain = run(g, "-fuse_igc_block", threads);
    const Outcome fused = run(g, "default", threads);
    EXPECT_EQ(count(plain.ops, "igc_block"), 0) << "the pass ran though it was switched off";
    EXPECT_EQ(fused.fused, expected_fusions);
    EXPECT_EQ(count(fused.ops, "igc_block"), expected_fusions);
    EXPECT_TRUE(weft::testing::all_close(fused.output, plain.output, 1e-4, 1e-5));
}

class IgcBlockIsa : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (const std::string why = missing_isa(GetParam()); !why.empty()) GTEST_SKIP() << why;
    }
};

// IGC-L24M2: every block fuses (two per stage at depth 8), no permutation or ReLU node is left,
// and the fused kernel is the one that runs them.
TEST_P(IgcBlockIsa, FusesEveryBlockOfIgcL24M2) {
    const ForcedIsa forced(GetParam());
    const Graph g = weft::resolve_graph("igc-l24m2-d8");
    expect_fused_matches(g, 6);
    const Outcome fused = run(g, "default", 2);
    EXPECT_EQ(count(fused.ops, "channel_permute"), 0);
    EXPECT_EQ(count(fused.ops, "pointwise_conv"), 0);
    EXPECT_EQ(count(fused.ops, "relu"), 0);
    for (std::size_t n = 0; n < fused.ops.size(); ++n)
        if (fused.ops[n] == "igc_block")
            EXPECT_NE(fused.kernels[n].find("igc_block_cpu:fused"), std::string::npos);
}

// IGC-L4M8: groups of 8 and 16 channels fuse, stage 3's groups of 32 stay with oneDNN, unfused.
TEST_P(IgcBlockIsa, LeavesWideGroupsToTheSeparateNodes) {
    const ForcedIsa forced(GetParam());
    expect_fused_matches(weft::resolve_graph("igc-l4m8-d8"), 4);
}

// Other blocks: the separable primary's second half (1x3) fuses with the secondary, the 3x1 before
// it stays a node of its own; GPC's block (no permutation, a dense secondary) fuses, and so does
// the +Ident. block, whose residual add then reads the fused node.
TEST_P(IgcBlockIsa, FusesOnlyThePatternInOtherBlocks) {
    const ForcedIsa forced(GetParam());
    weft::GraphFileOptions depth_8;
    depth_8.overrides["depth"] = "8";
    const Graph separable = weft::resolve_graph("igc-l24m2-sep-d20", depth_8);
    expect_fused_matches(separable, 6);
    EXPECT_EQ(count(run(separable, "default", 1).ops, "group_conv"), 7);  // the stem and six 3x1
    expect_fused_matches(weft::resolve_graph("six-gpc-l3m12"), 6);
    expect_fused_matches(weft::resolve_graph("igc-l24m2-ident-d74", depth_8), 6);  // 3 units of 2 blocks
}

class TempGraph {
public:
    explicit TempGraph(const std::string& yaml)
        : path_(std::filesystem::temp_directory_path() / fmt::format("igc_block_test_{}.yaml", ::getpid())) {
        std::ofstream(path_) << yaml;
    }
    ~TempGraph() { std::filesystem::remove(path_); }
    Graph load() const { return weft::load_graph_file(path_); }

private:
    std::filesystem::path path_;
};

// A hand-made block of awkward shape: L groups of `m` channels (an uneven 3 = 2 + 1 tile split),
// an odd image with stride 2, both convolutions biased, the secondary changing the width, and the
// ReLU between the two permutations.
std::string awkward_block(int L, int m, int secondary_groups, int out_per_group, int height, int width,
                          int stride) {
    return fmt::format(R"yaml(
family: awkward
inputs:
  - {{name: data, shape: [{in}, {h}, {w}]}}
graph:
  - {{op: group_conv, name: primary, out_channels: {c}, kernel: 3, stride: {s}, padding: 1, groups: {L}, bias: true}}
  - {{op: channel_permute, name: permute, groups: {L}}}
  - {{op: pointwise_conv, name: secondary, out_channels: {c2}, groups: {S}, bias: true}}
  - {{op: relu, name: relu}}
  - {{op: channel_permute, name: unpermute, groups: {S}}}
)yaml",
                       fmt::arg("in", L * m), fmt::arg("h", height), fmt::arg("w", width),
                       fmt::arg("c", L * m), fmt::arg("s", stride), fmt::arg("L", L),
                       fmt::arg("c2", secondary_groups * out_per_group), fmt::arg("S", secondary_groups));
}

TEST_P(IgcBlockIsa, MatchesOnAwkwardShapesAndThreadCounts) {
    const ForcedIsa forced(GetParam());
    // Shapes this small would run on one thread (weft::cpu::team_for): every thread, here.
    setenv("WEFT_CPU_MACS_PER_THREAD", "0", 1);
    struct Case {
        int L, m, S, out_per_group, height, width, stride;
    };
    for (const Case& c : {Case{5, 3, 3, 7, 13, 11, 1}, Case{4, 2, 2, 5, 19, 37, 2}, Case{3, 6, 6, 2, 7, 7, 1},
                          Case{8, 2, 4, 4, 33, 5, 1}, Case{2, 16, 4, 8, 9, 20, 2}}) {
        SCOPED_TRACE(fmt::format("L {} m {} S {} out/group {} {}x{} stride {}", c.L, c.m, c.S,
                                 c.out_per_group, c.height, c.width, c.stride));
        const TempGraph file(awkward_block(c.L, c.m, c.S, c.out_per_group, c.height, c.width, c.stride));
        for (const int threads : {1, 2, 3}) expect_fused_matches(file.load(), 1, threads);
    }
    unsetenv("WEFT_CPU_MACS_PER_THREAD");
}

INSTANTIATE_TEST_SUITE_P(, IgcBlockIsa, ::testing::Values("avx512", "avx512_padded", "avx2", "portable"),
                         [](const auto& info) { return info.param; });

// AVX-512's primary tiles over the image itself (the default) and over a padded copy of each
// band's rows give the same bits, on IGC-L24M2 (stride 2 included) and the awkward shapes.
TEST(IgcBlock, DirectTilesGiveThePaddedCopysBits) {
    if (const std::string why = missing_isa("avx512"); !why.empty()) GTEST_SKIP() << why;
    const auto same = [](const Graph& g) {
        const auto fused = [&](const char* isa) {
            const ForcedIsa forced(isa);
            return run(g, "default", 2).output;
        };
        EXPECT_TRUE(weft::testing::all_close(fused("avx512_direct"), fused("avx512_padded"), 0, 0));
    };
    same(weft::resolve_graph("igc-l24m2-d8"));
    const TempGraph odd(awkward_block(5, 3, 3, 7, 13, 11, 1)), strided(awkward_block(4, 2, 2, 5, 19, 37, 2));
    same(odd.load());
    same(strided.load());
}

// Nothing fuses where a value in the block is also read elsewhere: a graph output in the middle.
TEST(IgcBlock, LeavesABlockWhoseMiddleIsAlsoAnOutput) {
    const TempGraph file(R"yaml(
family: shared
inputs:
  - {name: data, shape: [8, 6, 6]}
graph:
  - {op: group_conv, name: primary, out_channels: 8, kernel: 3, padding: 1, groups: 4}
  - {op: channel_permute, name: permute, groups: 4}
  - {op: pointwise_conv, name: secondary, out_channels: 8, groups: 2}
  - {op: add, name: sum, inputs: [secondary, permute]}
)yaml");
    const Outcome fused = run(file.load(), "default", 1);
    EXPECT_EQ(fused.fused, 0);
    EXPECT_EQ(count(fused.ops, "igc_block"), 0);
}

// An igc_block written by hand with maps that are not permutations is refused in one line naming
// the map; its parameters and multiply-adds are the two convolutions'.
TEST(IgcBlock, ChecksItsMapsAndCountsBothConvolutions) {
    weft::Attributes attrs;
    attrs.set("out_channels", std::int64_t{8});
    attrs.set("kernel", std::vector<std::int64_t>{3});
    attrs.set("padding", std::vector<std::int64_t>{1});
    attrs.set("groups", std::int64_t{4});
    attrs.set("secondary_out_channels", std::int64_t{6});
    attrs.set("secondary_groups", std::int64_t{2});
    attrs.set("secondary_input", std::vector<std::int64_t>{0, 2, 4, 6, 1, 3, 5, 7});
    attrs.set("output_channel", std::vector<std::int64_t>{0, 2, 4, 1, 3, 5});
    const weft::TensorDesc input{weft::DType::f32, {2, 8, 5, 5}, weft::Layout::row_major};
    const weft::NodeSignature s = weft::testing::infer_op("igc_block", attrs, {input});
    EXPECT_EQ(s.outputs.at(0).shape, (weft::Shape{2, 6, 5, 5}));
    ASSERT_EQ(s.params.size(), 2u);  // no biases asked for
    EXPECT_EQ(s.params[0].desc.shape, (weft::Shape{8, 2, 3, 3}));
    EXPECT_EQ(s.params[1].desc.shape, (weft::Shape{6, 4, 1, 1}));
    EXPECT_EQ(s.macs, 2 * 25 * (8 * 2 * 9 + 6 * 4));

    const auto infer = [&] { weft::testing::infer_op("igc_block", attrs, {input}); };
    attrs.set("output_channel", std::vector<std::int64_t>{0, 2, 4, 1, 3, 3});
    EXPECT_TRUE(weft::testing::throws_error_containing(infer, "output_channel is not a permutation of 0..5"));
    attrs.set("output_channel", std::vector<std::int64_t>{0, 1, 2});
    EXPECT_TRUE(weft::testing::throws_error_containing(
        infer, "output_channel has 3 entries, expected one per channel (6)"));
}

// Training runs the block's own nodes: the pass is inference-only and the kernel says so.
TEST(IgcBlock, IsInferenceOnly) {
    const weft::Registry& r = cpu_registry();
    for (const weft::GraphPass* pass : weft::select_passes(r, "default", /*training=*/true))
        EXPECT_NE(pass->name, "fuse_igc_block");
}

}  // namespace
