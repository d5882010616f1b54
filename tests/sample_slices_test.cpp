// Sample-parallel inference (CompileOptions::samples_per_slice): a batch run as slices on lanes
// gives the whole batch's outputs, in any split (a shorter last slice included), and a graph that
// cannot be sliced runs as a whole batch and says why.
#include <algorithm>
#include <cmath>

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

// The graph of zoo `id` at `batch`, after the default passes, with its weights.
struct Compiled {
    Graph graph;
    WeightMap weights;
};

Compiled zoo_graph(const std::string& id, std::int64_t batch) {
    const Registry& r = build_registry();
    Compiled c{resolve_graph(id), {}};
    c.graph.set_batch(batch);
    infer_shapes(c.graph, r);
    c.weights = init_weights(c.graph, 5);
    run_passes(c.graph, c.weights, r, select_passes(r, "default", false));
    return c;
}

CompileOptions sliced(std::int64_t samples, int lanes) {
    CompileOptions o;
    o.samples_per_slice = samples;
    o.lanes = lanes;
    return o;
}

std::vector<Tensor> run(Executor& exec, const Tensor& x) {
    std::vector<Tensor> out = exec.make_outputs();
    exec.run(std::span<const Tensor>(&x, 1), out);
    return out;
}

float max_abs(const Tensor& t) {
    float m = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(t.as<float>()[i]));
    return m;
}

// Kernels may take other paths at another batch size (oneDNN picks per shape), so the sums may
// round differently: equal to a few units in the last place of the largest output.
void expect_close(const Tensor& got, const Tensor& want) {
    ASSERT_EQ(got.shape(), want.shape());
    const float tolerance = 1e-5f * std::max(1.0f, max_abs(want));
    for (std::int64_t i = 0; i < want.numel(); ++i)
        ASSERT_NEAR(got.as<float>()[i], want.as<float>()[i], tolerance) << "element " << i;
}

}  // namespace

TEST(SampleSlices, EverySplitGivesTheWholeBatchsOutputs) {
    for (const char* id : {"igc-l24m2-d8", "regconv-w16-d8"}) {
        const Compiled c = zoo_graph(id, 7);
        const Tensor x = random_normal(c.graph.values[c.graph.inputs[0]].desc, 3);
        Executor whole(c.graph, build_registry(), c.weights, {});
        ASSERT_EQ(whole.lanes(), 0);
        const std::vector<Tensor> want = run(whole, x);
        // (samples, lanes): one lane, lanes sharing slices, a last slice of 1 and of 3, more
        // lanes than slices.
        for (const auto [samples, lanes] : {std::pair{1, 1}, {2, 2}, {3, 2}, {4, 3}, {2, 5}}) {
            SCOPED_TRACE(::testing::Message() << id << ": " << samples << " per slice on " << lanes << " lanes");
            Executor exec(c.graph, build_registry(), c.weights, sliced(samples, lanes));
            EXPECT_EQ(exec.samples_per_slice(), samples);
            EXPECT_EQ(exec.lanes(), std::min<int>(lanes, (7 + samples - 1) / samples));
            EXPECT_EQ(exec.whole_batch_reason(), "");
            const std::vector<Tensor> got = run(exec, x);
            ASSERT_EQ(got.size(), want.size());
            for (std::size_t i = 0; i < want.size(); ++i) expect_close(got[i], want[i]);
            // A slice runs on one thread whichever lane takes it: the same bits every run.
            const std::vector<Tensor> again = run(exec, x);
            for (std::size_t i = 0; i < want.size(); ++i)
                EXPECT_TRUE(std::equal(again[i].as<float>(), again[i].as<float>() + again[i].numel(),
                                       got[i].as<float>()));
        }
    }
}

TEST(SampleSlices, ABatchNoLargerThanASliceRunsWhole) {
    const Compiled c = zoo_graph("igc-l24m2-d8", 2);
    Executor exec(c.graph, build_registry(), c.weights, sliced(2, 2));
    EXPECT_EQ(exec.lanes(), 0);
    EXPECT_EQ(exec.samples_per_slice(), 0);
    EXPECT_NE(exec.whole_batch_reason().find("not larger than a slice"), std::string::npos)
        << exec.whole_batch_reason();
}

TEST(SampleSlices, AnOpMixingSamplesKeepsTheWholeBatchAndIsNamed) {
    // Softmax over axis 0 normalises across the batch: slices would give other numbers.
    Attributes attrs;
    attrs.set("axis", std::int64_t{0});
    const Graph g = single_node_graph(build_registry(), "softmax", attrs, {TensorDesc{DType::f32, {6, 3}}}, "across");
    const Tensor x = random_normal(g.values[g.inputs[0]].desc, 4);
    Executor exec(g, build_registry(), {}, sliced(1, 2));
    EXPECT_EQ(exec.lanes(), 0);
    EXPECT_NE(exec.whole_batch_reason().find("node 'across': op 'softmax'"), std::string::npos)
        << exec.whole_batch_reason();
    const Tensor y = run(exec, x)[0];
    for (std::int64_t k = 0; k < 3; ++k) {  // each column sums to 1 over the whole batch
        double sum = 0;
        for (std::int64_t n = 0; n < 6; ++n) sum += y.as<float>()[n * 3 + k];
        EXPECT_NEAR(sum, 1.0, 1e-5);
    }
}

TEST(SampleSlices, WrongInputsAreRefusedBeforeAnySliceRuns) {
    const Compiled c = zoo_graph("igc-l24m2-d8", 5);
    Executor exec(c.graph, build_registry(), c.weights, sliced(2, 2));
    ASSERT_EQ(exec.lanes(), 2);
    TensorDesc wrong = c.graph.values[c.graph.inputs[0]].desc;
    wrong.shape[0] = 4;
    const Tensor x(wrong);
    std::vector<Tensor> out = exec.make_outputs();
    EXPECT_THROW(exec.run(std::span<const Tensor>(&x, 1), out), Error);
}

TEST(SampleSlices, ProfilingAddsEveryLanesTimes) {
    const Compiled c = zoo_graph("igc-l24m2-d8", 6);
    Executor exec(c.graph, build_registry(), c.weights, sliced(2, 2));
    exec.set_profiling(true);
    run(exec, random_normal(c.graph.values[c.graph.inputs[0]].desc, 1));
    double total = 0;
    for (double s : exec.node_seconds()) total += s;
    EXPECT_GT(total, 0.0);
    exec.reset_profile();
    for (double s : exec.node_seconds()) EXPECT_EQ(s, 0.0);
}

TEST(SampleSlices, ABatchWhoseInputsCannotFitIsRefusedBeforeTheyAreMade) {
    // A slice's activations are 64 KB, but the caller holds the whole batch's input: 6.4 TB.
    const Graph g = single_node_graph(build_registry(), "relu", {}, {TensorDesc{DType::f32, {100'000'000'000, 16}}});
    try {
        Executor exec(g, build_registry(), {}, sliced(1000, 2));
        FAIL() << "compiled a batch of 6.4 TB of input";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("of memory"), std::string::npos) << e.what();
    }
}

TEST(SampleSlices, CheckNumericsSeesTheWholeBatchsInputsAndEveryLanesNodes) {
    const Graph g = single_node_graph(build_registry(), "add", {}, {TensorDesc{DType::f32, {4, 3}}, TensorDesc{DType::f32, {4, 3}}},
                                      "twice");
    CompileOptions options = sliced(1, 2);
    options.check_numerics = true;
    Executor exec(g, build_registry(), {}, options);
    ASSERT_EQ(exec.lanes(), 2);
    std::vector<Tensor> out = exec.make_outputs();
    Tensor x(g.values[g.inputs[0]].desc);
    x.as<float>()[10] = std::nanf("");  // the last sample's
    const std::vector<Tensor> nan_input{x, Tensor(g.values[g.inputs[1]].desc)};
    try {
        exec.run(nan_input, out);
        FAIL() << "a NaN input ran";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("graph input 'x0'"), std::string::npos) << e.what();
    }
    Tensor big(g.values[g.inputs[0]].desc);
    big.as<float>()[7] = 3e38f;  // finite, but twice it is not: a lane's node is named
    const std::vector<Tensor> overflowing{big, big};
    try {
        exec.run(overflowing, out);
        FAIL() << "an infinite output went unnoticed";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("node 'twice'"), std::string::npos) << e.what();
    }
}
