// The training step end to end: the planner's buffers, whole-network gradients against finite
// differences, SGD and schedules against their formulas, a network memorising a few images, and
// checkpoints that resume to the same weights.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <cstdlib>

#include <unistd.h>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <csignal>

#include "op_harness.h"
#include "tiny_training_run.h"
#include "weft/cpu/cpu_device.h"
#include "weft/graph_file.h"
#include "weft/graph_pass.h"
#include "weft/optimizer.h"
#include "weft/report/files.h"
#include "weft/training.h"
#include "weft/training/evaluate.h"
#include "weft/training/model.h"
#include "weft/training/trainer.h"

namespace weft {
namespace {

using testing::all_close;
using testing::build_registry;
using testing::throws_error_containing;
using testing::tiny_run;
using testing::tiny_runtime;
using testing::write_tiny_cifar;

// A small IGC network from the zoo's own family file: every operator of the paper's networks
// (convolutions, batch norm, ReLU, permutations, pooling, FC) at a size finite differences afford.
Graph small_igc(std::int64_t batch, const std::string& size = "8", const std::string& classes = "4") {
    GraphFileOptions options;
    options.variant = "";
    options.overrides = {{"L", "2"}, {"M", "2"}, {"depth", "8"}, {"size", size}, {"classes", classes}};
    Graph g = resolve_graph("igc-l24m2-d8", options);
    g.set_batch(batch);
    infer_shapes(g, build_registry());
    return g;
}

// The residual family: values read twice (identity shortcut), so gradients must be summed.
Graph small_residual(std::int64_t batch) {
    GraphFileOptions options;
    options.overrides = {{"L", "2"}, {"M", "2"}, {"depth", "8"}, {"size", "8"}, {"classes", "4"}};
    Graph g = resolve_graph("igc-l24m2-ident-d50", options);
    g.set_batch(batch);
    infer_shapes(g, build_registry());
    return g;
}

// Tiny tensors: a second thread only adds barriers (and on a busy machine, waits).
CompileOptions single_thread() {
    CompileOptions o;
    o.device.threads = 1;
    return o;
}

Tensor labels_tensor(const std::vector<int>& labels) {
    Tensor t(TensorDesc{DType::i32, {static_cast<std::int64_t>(labels.size())}, Layout::row_major});
    for (std::size_t i = 0; i < labels.size(); ++i) t.as<std::int32_t>()[i] = labels[i];
    return t;
}

struct Trainable {
    Graph graph;
    training::LossHead head;
    WeightMap weights;
};

Trainable trainable(Graph g, std::uint64_t seed = 3) {
    Trainable t;
    t.head = training::attach_loss(g, build_registry());
    t.graph = std::move(g);
    t.weights = init_weights(t.graph, seed);
    return t;
}

TEST(TrainingPlan, LossHeadReplacesSoftmaxAndAddsLabels) {
    Trainable t = trainable(small_igc(2));
    ASSERT_EQ(t.graph.outputs.size(), 2u);
    EXPECT_EQ(t.graph.values[t.graph.outputs[0]].desc.shape, (Shape{1}));
    EXPECT_EQ(t.graph.values[t.graph.outputs[1]].desc.shape, (Shape{2, 4}));
    for (const Node& n : t.graph.nodes) EXPECT_NE(n.op, "softmax") << n.name;
    EXPECT_EQ(t.graph.values[t.graph.inputs[1]].desc.dtype, DType::i32);
}

// Label smoothing reaches the loss node: the step's loss is (1 − ε)·CE(label) + ε/K·Σ_k CE(k),
// recomputed here from the logits the same step returns.
TEST(TrainingPlan, LossAttributesReachTheLossNode) {
    const double epsilon = 0.2;
    Graph g = small_igc(4);
    Attributes attrs;
    attrs.set("label_smoothing", epsilon);
    const training::LossHead head = training::attach_loss(g, build_registry(), "softmax_cross_entropy", attrs);
    const WeightMap weights = init_weights(g, 5);
    TrainingExecutor exec(g, build_registry(), weights, single_thread(), head.loss);
    const std::vector<int> labels{0, 3, 1, 2};
    std::vector<Tensor> inputs{testing::random_tensor(g.values[g.inputs[0]].desc.shape, 4), labels_tensor(labels)};
    std::vector<Tensor> outputs = exec.make_outputs();
    exec.step(inputs, outputs);
    double expected = 0;
    for (int n = 0; n < 4; ++n) {
        const float* x = outputs[1].as<float>() + n * 4;
        double z = 0;
        for (int k = 0; k < 4; ++k) z += std::exp(double(x[k]));
        const double log_z = std::log(z);
        double uniform = 0;
        for (int k = 0; k < 4; ++k) uniform += log_z - x[k];
        expected += (1 - epsilon) * (log_z - x[labels[n]]) + epsilon / 4 * uniform;
    }
    expected /= 4;
    EXPECT_NEAR(outputs[0].as<float>()[0], expected, 1e-5);

    // The op's own schema checks the value: an invalid one fails when the head is attached.
    Graph bad = small_igc(4);
    attrs.set("label_smoothing", 1.0);
    EXPECT_TRUE(throws_error_containing(
        [&] { training::attach_loss(bad, build_registry(), "softmax_cross_entropy", attrs); }, "label_smoothing"));
}

TEST(TrainConfig, LabelSmoothingIsPartOfTheRunsIdentity) {
    training::TrainConfig c;
    c.model.graph = "igc-l24m2-d8";
    c.data = "cifar10:somewhere";
    c.label_smoothing = 0.1;
    EXPECT_DOUBLE_EQ(training::TrainConfig::from_json(c.to_json()).label_smoothing, 0.1);
    // run.json files written before the option existed read back as no smoothing.
    EXPECT_EQ(training::TrainConfig::from_json(R"({"graph": "g", "data": "d", "epochs": 1, "batch": 2, "lr": 0.1,
                                                   "schedule": "cosine"})")
                  .label_smoothing,
              0.0);
}

TEST(TrainingPlan, ReusesMemoryAndKeepsOnlyWhatBackwardNeeds) {
    Trainable t = trainable(small_igc(8, "16"));
    const int loss = t.graph.find_value(t.head.loss);
    const TrainingPlan plan = plan_training(t.graph, build_registry(), loss);
    // Liveness placement must beat keeping every activation and gradient for the whole step.
    EXPECT_LT(plan.arena_bytes, plan.activation_bytes + plan.gradient_bytes);
    // Every node on the way from parameters to the loss runs backward; gradients of the image
    // input are never made.
    for (int n : plan.order) EXPECT_TRUE(plan.needs_backward[n]) << t.graph.nodes[n].name;
    for (int v : t.graph.inputs) EXPECT_EQ(plan.grads[v].bytes, 0u);
    // ReLU after batch norm runs in place: batch norm's gradient reads its input, not its output.
    int in_place = 0;
    for (int n : plan.order) in_place += plan.in_place[n];
    EXPECT_GT(in_place, 0);
}

TEST(TrainingPlan, SumsGradientsOfValuesReadTwice) {
    Trainable t = trainable(small_residual(2));
    const TrainingPlan plan = plan_training(t.graph, build_registry(), t.graph.find_value(t.head.loss));
    int sums = 0;
    for (const auto& per_node : plan.grad_inputs)
        for (const auto& target : per_node) sums += target.accumulate;
    EXPECT_GT(sums, 0) << "identity shortcuts read a value twice; its gradient needs a sum";
}

// The planned step (memory reused, ReLU and add in place, gradients summed in scratch) against
// the unoptimised one (every buffer its own): the same numbers, bit for bit.
void check_planned_equals_unplanned(Trainable t) {
    const std::int64_t batch = t.graph.batch();
    std::vector<int> labels(batch);
    for (int i = 0; i < batch; ++i) labels[i] = (i * 3 + 1) % 4;
    std::vector<Tensor> inputs{testing::random_tensor(t.graph.values[t.graph.inputs[0]].desc.shape, 4), labels_tensor(labels)};
    CompileOptions planned, unplanned;
    planned.device.threads = unplanned.device.threads = 1;
    unplanned.reuse_memory = false;
    TrainingExecutor a(t.graph, build_registry(), t.weights, planned, t.head.loss);
    TrainingExecutor b(t.graph, build_registry(), t.weights, unplanned, t.head.loss);
    EXPECT_LT(a.plan().arena_bytes, b.plan().arena_bytes);
    std::vector<Tensor> out_a = a.make_outputs(), out_b = b.make_outputs();
    for (int step = 0; step < 2; ++step) {  // the second step runs on buffers the first left dirty
        a.step(inputs, out_a);
        b.step(inputs, out_b);
        for (std::size_t k = 0; k < out_a.size(); ++k) EXPECT_TRUE(all_close(out_a[k], out_b[k], 0, 0));
        for (std::size_t p = 0; p < a.parameters().size(); ++p) {
            const auto& pa = a.parameters()[p];
            const auto& pb = b.parameters()[p];
            ASSERT_EQ(pa.name, pb.name);
            for (std::int64_t i = 0; i < pa.grad.numel(); ++i)
                ASSERT_EQ(pa.grad.as<float>()[i], pb.grad.as<float>()[i]) << pa.name << "[" << i << "]";
        }
    }
}

TEST(TrainingPlan, PlannedStepEqualsUnplannedStep) { check_planned_equals_unplanned(trainable(small_igc(4, "16"))); }

TEST(TrainingPlan, PlannedResidualStepEqualsUnplannedStep) { check_planned_equals_unplanned(trainable(small_residual(4))); }

// The training-time passes (ReLU fused into batch norm) against the plain graph: one step gives
// the same loss, logits and parameter gradients.
TEST(TrainingPlan, FusedBatchNormReluStepEqualsThePlainStep) {
    Trainable plain = trainable(small_residual(4));
    Trainable fused = plain;
    const auto reports = run_passes(fused.graph, fused.weights, build_registry(),
                                    select_passes(build_registry(), "fuse_batch_norm_relu", true));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_GT(reports[0].rewrites, 3);
    std::vector<Tensor> inputs{testing::random_tensor(plain.graph.values[plain.graph.inputs[0]].desc.shape, 8),
                               labels_tensor({0, 1, 2, 3})};
    TrainingExecutor a(plain.graph, build_registry(), plain.weights, single_thread(), plain.head.loss);
    TrainingExecutor b(fused.graph, build_registry(), fused.weights, single_thread(), fused.head.loss);
    std::vector<Tensor> out_a = a.make_outputs(), out_b = b.make_outputs();
    a.step(inputs, out_a);
    b.step(inputs, out_b);
    for (std::size_t k = 0; k < out_a.size(); ++k) EXPECT_TRUE(all_close(out_b[k], out_a[k], 1e-5, 1e-6));
    std::map<std::string, const TrainingExecutor::Parameter*> by_name;
    for (const auto& p : b.parameters()) by_name[p.name] = &p;
    for (const auto& p : a.parameters()) {
        const auto* q = by_name.at(p.name);
        for (std::int64_t i = 0; i < p.grad.numel(); ++i)
            ASSERT_NEAR(q->grad.as<float>()[i], p.grad.as<float>()[i], 1e-5 + 1e-4 * std::fabs(p.grad.as<float>()[i]))
                << p.name << "[" << i << "]";
    }
}

// A batch for a small classifier: seeded random images and labels cycling through 4 classes.
std::vector<Tensor> small_batch(const Graph& g, std::uint64_t seed) {
    std::vector<int> labels(g.batch());
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>((i * 3 + 1) % 4);
    const Shape& shape = g.values[g.inputs[0]].desc.shape;
    return {testing::random_tensor(shape, seed), labels_tensor(labels)};
}

// The two executors' outputs and every parameter's gradient (and, with `values`, the parameters
// themselves: running statistics move in a step) are the same bits, matched by name.
void expect_same_step(const TrainingExecutor& a, const std::vector<Tensor>& out_a, const TrainingExecutor& b,
                      const std::vector<Tensor>& out_b, bool values) {
    for (std::size_t k = 0; k < out_a.size(); ++k) EXPECT_TRUE(all_close(out_b[k], out_a[k], 0, 0));
    std::map<std::string, const TrainingExecutor::Parameter*> by_name;
    for (const auto& p : b.parameters()) by_name[p.name] = &p;
    ASSERT_EQ(by_name.size(), a.parameters().size());
    for (const auto& p : a.parameters()) {
        const auto* q = by_name.at(p.name);
        for (std::int64_t i = 0; i < p.grad.numel(); ++i)
            ASSERT_EQ(q->grad.as<float>()[i], p.grad.as<float>()[i]) << p.name << "[" << i << "]";
        for (std::int64_t i = 0; values && i < p.value.numel(); ++i)
            ASSERT_EQ(q->value.as<float>()[i], p.value.as<float>()[i]) << p.name << "[" << i << "]";
    }
}

// The channel permutations around each secondary convolution folded into its channel maps
// (fold_permutations) against the graph as written, both on the direct pointwise kernel: moving
// channels is no arithmetic, so a step gives the same loss, logits and parameter gradients bit for
// bit, at two threads. `left`: the permutation nodes next to no pointwise_conv.
void check_folded_permutations_step(Trainable plain, long left = 0) {
    Trainable folded = plain;
    const auto reports = run_passes(folded.graph, folded.weights, build_registry(),
                                    select_passes(build_registry(), "fold_permutations", true));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_GT(reports[0].rewrites, 0);
    const auto permutes = [](const Graph& g) {
        return std::count_if(g.nodes.begin(), g.nodes.end(),
                             [](const Node& n) { return n.op == "channel_permute"; });
    };
    EXPECT_GT(permutes(plain.graph), 0);
    EXPECT_EQ(permutes(folded.graph), left);
    const std::vector<Tensor> inputs = small_batch(plain.graph, 9);
    CompileOptions two_threads;
    two_threads.device.threads = 2;
    TrainingExecutor a(plain.graph, build_registry(), plain.weights, two_threads, plain.head.loss);
    TrainingExecutor b(folded.graph, build_registry(), folded.weights, two_threads, folded.head.loss);
    std::vector<Tensor> out_a = a.make_outputs(), out_b = b.make_outputs();
    a.step(inputs, out_a);
    b.step(inputs, out_b);
    expect_same_step(a, out_a, b, out_b, /*values=*/false);
}

Graph small_variant(const std::string& variant) {
    GraphFileOptions options;
    options.overrides = {{"L", "3"}, {"M", "2"}, {"depth", "8"}, {"size", "16"}, {"classes", "4"}};
    Graph g = resolve_graph(variant, options);
    g.set_batch(4);
    infer_shapes(g, build_registry());
    return g;
}

// L = 3, M = 2, so that no permutation is its own inverse. (The residual family's shortcuts read
// the blocks' inputs, so there too every permutation folds.) In the IGC block the secondary
// convolution gets both maps; in the swapped block (Sec. 4) the 1x1 primary gets only an output
// map, so a kernel that took one side's map for the other's would fail here.
TEST(TrainingPlan, FoldedPermutationsStepEqualsThePlainStepBitForBit) {
    check_folded_permutations_step(trainable(small_variant("igc-l24m2-d8")));
    // Each of the six blocks keeps the permutation after its 3x3 secondary convolution.
    check_folded_permutations_step(trainable(small_variant("igc-l24m2-swap-d20")), 6);
}

TEST(TrainingPlan, FoldedPermutationsResidualStepEqualsThePlainStepBitForBit) {
    check_folded_permutations_step(trainable(small_residual(4)));
}

// An adapting CPU device may change its team between any two kernels of a step (CpuDevice::
// threads_now). Here the team alternates 1, 2, 1, ... at every kernel call and the step must equal
// one of a fixed team of two, bit for bit: weft's CPU kernels make every sum in an order their
// geometry fixes, whatever the team, and size per-thread scratch for the most threads; oneDNN's
// primitives, built again for each team, happen to give the same bits at these sizes.
void check_step_with_a_changing_team(Trainable t) {
    const auto reports = run_passes(t.graph, t.weights, build_registry(),
                                    select_passes(build_registry(), "default", true));
    ASSERT_FALSE(reports.empty());
    const std::vector<Tensor> inputs = small_batch(t.graph, 5);
    CompileOptions two_threads;
    two_threads.device.threads = 2;
    CompileOptions adapting = two_threads;
    adapting.device.adapt_threads = true;
    TrainingExecutor fixed(t.graph, build_registry(), t.weights, two_threads, t.head.loss);
    TrainingExecutor changing(t.graph, build_registry(), t.weights, adapting, t.head.loss);
    auto& device = cpu::cpu_device(changing.device());
    int calls = 0;
    device.set_team_source([&] { return ++calls % 2 + 1; });
    std::vector<Tensor> out_a = fixed.make_outputs(), out_b = changing.make_outputs();
    for (int step = 0; step < 2; ++step) {  // twice: values include the running statistics
        fixed.step(inputs, out_a);
        changing.step(inputs, out_b);
    }
    EXPECT_GT(device.team_changes(), 20);
    expect_same_step(fixed, out_a, changing, out_b, /*values=*/true);
}

TEST(TrainingPlan, ATeamChangingBetweenKernelsGivesTheFixedTeamsStepBitForBit) {
    // Shapes this small would run on one thread (weft::cpu::team_for): the team's, here.
    setenv("WEFT_CPU_MACS_PER_THREAD", "0", 1);
    check_step_with_a_changing_team(trainable(small_variant("igc-l24m2-d8")));
    check_step_with_a_changing_team(trainable(small_residual(4)));
    // Every convolution on oneDNN, each built again for the one-thread team (PerTeam).
    GraphFileOptions options;
    options.overrides = {{"width", "8"}, {"depth", "8"}, {"size", "16"}, {"classes", "4"}};
    Graph regconv = resolve_graph("regconv-w16-d8", options);
    regconv.set_batch(4);
    infer_shapes(regconv, build_registry());
    check_step_with_a_changing_team(trainable(std::move(regconv)));
    unsetenv("WEFT_CPU_MACS_PER_THREAD");
}

TEST(TrainingPlan, RefusesANonScalarLoss) {
    Graph g = small_igc(2);
    const int out = g.outputs[0];
    EXPECT_TRUE(throws_error_containing([&] { plan_training(g, build_registry(), out); }, "must be one f32 number"));
}

// dL/dw of the whole network against central differences of the loss the executor computes.
void check_network_gradients(Trainable t, int probes_per_param) {
    const Registry& registry = build_registry();
    const std::int64_t batch = t.graph.batch();
    const Shape image = t.graph.values[t.graph.inputs[0]].desc.shape;
    std::vector<Tensor> inputs{testing::random_tensor(image, 11), labels_tensor({0, 3, 1, 2, 3, 0, 1, 2})};
    ASSERT_LE(batch, 8);
    if (batch < 8) {
        Tensor l(TensorDesc{DType::i32, {batch}, Layout::row_major});
        std::copy_n(inputs[1].as<std::int32_t>(), batch, l.as<std::int32_t>());
        inputs[1] = l;
    }
    CompileOptions one_thread;
    one_thread.device.threads = 1;  // tiny tensors: threads would only add overhead
    TrainingExecutor exec(t.graph, registry, t.weights, one_thread, t.head.loss);
    std::vector<Tensor> outputs = exec.make_outputs();
    exec.step(inputs, outputs);
    std::map<std::string, Tensor> grads;
    for (const auto& p : exec.parameters()) {
        Tensor g(p.spec.desc);
        std::copy_n(p.grad.as<float>(), p.grad.numel(), g.as<float>());
        grads.emplace(p.name, g);
    }
    // The loss at perturbed weights, in double where it matters: the executor's own forward.
    TrainingExecutor probe(t.graph, registry, t.weights, one_thread, t.head.loss);
    std::vector<Tensor> probe_out = probe.make_outputs();
    auto loss_at = [&](const WeightMap& w) {
        probe.set_weights(w);
        probe.step(inputs, probe_out);
        return double(probe_out[0].as<float>()[0]);
    };
    std::mt19937 rng(5);
    int checked = 0, kinks = 0, close = 0;
    for (const auto& p : exec.parameters()) {
        if (!p.spec.learnable) continue;
        for (int k = 0; k < probes_per_param; ++k) {
            const std::int64_t i = std::uniform_int_distribution<std::int64_t>(0, p.spec.desc.numel() - 1)(rng);
            WeightMap w = t.weights;
            Tensor moved(p.spec.desc);
            std::copy_n(w.at(p.name).as<float>(), moved.numel(), moved.as<float>());
            w[p.name] = moved;
            const float original = moved.as<float>()[i];
            auto central = [&](float h) {
                moved.as<float>()[i] = original + h;
                const double up = loss_at(w);
                moved.as<float>()[i] = original - h;
                const double down = loss_at(w);
                moved.as<float>()[i] = original;
                return (up - down) / (2 * h);
            };
            const double numeric = central(1e-3f);
            // Where a step moves some ReLU input across zero the difference quotient is not the
            // derivative; two step sizes disagree there, and such probes are counted, not judged.
            if (std::fabs(numeric - central(5e-4f)) > 1e-3 + 2e-2 * std::fabs(numeric)) {
                ++kinks;
                continue;
            }
            const double analytic = grads.at(p.name).as<float>()[i];
            const double error = std::fabs(analytic - numeric);
            // ReLU kinks nearer than the step still bend some quotients a little: most probes
            // must agree tightly, none may be far off (a wrong rule is off everywhere).
            close += error <= 1e-3 + 2e-2 * std::fabs(numeric);
            EXPECT_NEAR(analytic, numeric, 2e-3 + 0.25 * std::fabs(numeric)) << p.name << "[" << i << "]";
            ++checked;
        }
    }
    EXPECT_GT(checked, 20);
    EXPECT_LT(kinks, checked / 5) << "too many probes at kinks to judge the gradient";
    EXPECT_GE(close, checked * 17 / 20) << close << " of " << checked << " probes within 2%";
}

TEST(TrainingGradients, SmallIgcNetworkMatchesFiniteDifferences) { check_network_gradients(trainable(small_igc(4)), 3); }

TEST(TrainingGradients, ResidualNetworkMatchesFiniteDifferences) {
    check_network_gradients(trainable(small_residual(4)), 2);
}

// The sgd plugin's options as the trainer builds them.
OptimizerOptions sgd_options(float momentum, float weight_decay, bool decay_uncounted) {
    OptimizerOptions o;
    o.name = "sgd";
    o.hyperparameters.set("momentum", static_cast<double>(momentum));
    o.weight_decay = weight_decay;
    o.decay_uncounted = decay_uncounted;
    return o;
}

TEST(Sgd, NesterovStepsFollowTheFormula) {
    Trainable t = trainable(small_igc(2));
    TrainingExecutor exec(t.graph, build_registry(), t.weights, single_thread(), t.head.loss);
    std::vector<Tensor> inputs{testing::random_tensor(t.graph.values[t.graph.inputs[0]].desc.shape, 2), labels_tensor({1, 2})};
    std::vector<Tensor> outputs = exec.make_outputs();
    const OptimizerOptions o = sgd_options(0.9f, 0.01f, /*decay_uncounted=*/false);
    Optimizer sgd(exec, build_registry(), o);
    const WeightMap w0 = exec.weights();
    exec.step(inputs, outputs);
    std::map<std::string, std::vector<float>> g1;
    for (const auto& p : exec.parameters()) g1[p.name].assign(p.grad.as<float>(), p.grad.as<float>() + p.grad.numel());
    sgd.step(0.5f);
    const WeightMap w1 = exec.weights();
    for (const auto& p : exec.parameters()) {
        for (std::int64_t i = 0; i < std::min<std::int64_t>(p.value.numel(), 16); ++i) {
            const float w = w0.at(p.name).as<float>()[i];
            if (!p.spec.learnable) continue;
            const float wd = p.spec.counted ? 0.01f : 0.f;
            const float d = g1[p.name][i] + wd * w;
            const float v = d;  // first step: v = 0.9·0 + d
            EXPECT_NEAR(w1.at(p.name).as<float>()[i], w - 0.5f * (d + 0.9f * v), 1e-6) << p.name;
        }
    }
    // The momentum buffers round-trip through the checkpoint form.
    const WeightMap state = sgd.state();
    Optimizer other(exec, build_registry(), o);
    other.load_state(state);
    const WeightMap again = other.state();
    for (const auto& [name, tensor] : state) EXPECT_TRUE(all_close(again.at(name), tensor, 0, 0)) << name;
    WeightMap broken = state;
    broken.erase(broken.begin());
    EXPECT_TRUE(throws_error_containing([&] { other.load_state(broken); }, "optimizer state has no"));
}

TEST(LrSchedule, StepCosineAndWarmup) {
    const LrSchedule step = LrSchedule::parse("step:10,20", 0.1, 30);
    EXPECT_DOUBLE_EQ(step.at(0), 0.1);
    EXPECT_DOUBLE_EQ(step.at(9.99), 0.1);
    EXPECT_NEAR(step.at(10), 0.01, 1e-12);
    EXPECT_NEAR(step.at(25), 0.001, 1e-12);
    const LrSchedule gamma = LrSchedule::parse("step:5@0.5", 1.0, 10);
    EXPECT_DOUBLE_EQ(gamma.at(6), 0.5);
    const LrSchedule cosine = LrSchedule::parse("cosine", 0.2, 10);
    EXPECT_DOUBLE_EQ(cosine.at(0), 0.2);
    EXPECT_NEAR(cosine.at(5), 0.1, 1e-12);
    EXPECT_NEAR(cosine.at(10), 0.0, 1e-12);
    const LrSchedule warm = LrSchedule::parse("cosine", 0.2, 10, 2);
    EXPECT_NEAR(warm.at(1), 0.1, 1e-12);
    EXPECT_NEAR(warm.at(2), 0.2, 1e-12);
    EXPECT_NEAR(warm.at(6), 0.1, 1e-12);
    EXPECT_TRUE(throws_error_containing([] { LrSchedule::parse("step:20,10", 0.1, 30); }, "milestones must increase"));
    EXPECT_TRUE(throws_error_containing([] { LrSchedule::parse("exp", 0.1, 30); }, "unknown schedule"));
    EXPECT_TRUE(throws_error_containing([] { LrSchedule::parse("step:a", 0.1, 30); }, "is not a number"));
    EXPECT_TRUE(throws_error_containing([] { LrSchedule::parse("step:5@-1", 0.1, 30); }, "GAMMA"));
}

// The summary `weft train` prints before its first step: start, warm-up and end values, and the
// epochs they are reached at; past its end a schedule holds its last value.
TEST(LrSchedule, DescribesItsStartWarmUpAndEndAndHoldsTheEndValueAfterwards) {
    EXPECT_EQ(LrSchedule::parse("cosine", 0.1, 15, 1).describe(),
              "linear warm-up from 0 to 0.1 over 1 epoch, then cosine from 0.1 at epoch 1 to 0 at epoch 15");
    EXPECT_EQ(LrSchedule::parse("step:10,20@0.5", 0.2, 30).describe(), "0.2, ×0.5 at epochs 10, 20 (ends at 0.05)");
    EXPECT_EQ(LrSchedule::parse("constant", 0.05, 3).describe(), "constant 0.05");
    EXPECT_EQ(LrSchedule::parse("cosine", 0.2, 10).at(14), 0.0);
    EXPECT_NEAR(LrSchedule::parse("step:5", 0.2, 10).at(14), 0.02, 1e-12);
}

TEST(Training, SmallIgcNetworkMemorisesAFewDozenImages) {
    const std::int64_t n = 32;
    Trainable t = trainable(small_igc(n, "8", "4"), 7);
    TrainingExecutor exec(t.graph, build_registry(), t.weights, single_thread(), t.head.loss);
    Optimizer sgd(exec, build_registry(), sgd_options(0.9f, 0.f, true));
    std::vector<int> labels(n);
    for (int i = 0; i < n; ++i) labels[i] = (i * 7 + 3) % 4;
    std::vector<Tensor> inputs{testing::random_tensor(t.graph.values[t.graph.inputs[0]].desc.shape, 21), labels_tensor(labels)};
    std::vector<Tensor> outputs = exec.make_outputs();
    float first = 0, last = 0;
    for (int step = 0; step < 150; ++step) {
        exec.step(inputs, outputs);
        if (step == 0) first = outputs[0].as<float>()[0];
        last = outputs[0].as<float>()[0];
        sgd.step(0.05f);
    }
    int correct = 0;
    for (int i = 0; i < n; ++i) {
        const float* s = outputs[1].as<float>() + i * 4;
        correct += (std::max_element(s, s + 4) - s) == labels[i];
    }
    EXPECT_LT(last, 0.1f * first) << "loss " << first << " -> " << last;
    EXPECT_EQ(correct, n);
}

// A stop requested inside an epoch (what SIGINT and SIGTERM do in `weft train`) checkpoints after
// the step in flight; resumed from there, the run ends with the uninterrupted run's weights.
TEST(Training, StoppedInsideAnEpochAndResumedEndsWithTheSameWeights) {
    namespace fs = std::filesystem;
    const auto data = write_tiny_cifar("stop", 16);
    const auto straight = data / "straight", stopped = data / "stopped";
    training::train(tiny_run(data, straight, 2), build_registry(), tiny_runtime(false));
    training::TrainRuntime runtime = tiny_runtime(false);
    int asked = 0;
    runtime.stop_requested = [&] { return ++asked == 4 ? SIGINT : 0; };  // before training, then after step 3
    try {
        training::train(tiny_run(data, stopped, 2), build_registry(), runtime);
        FAIL() << "expected training::Interrupted";
    } catch (const training::Interrupted& e) {
        EXPECT_EQ(e.signal(), SIGINT);
        EXPECT_NE(std::string(e.what()).find("interrupted by SIGINT at epoch 1, step 3 of"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(stopped / "last.safetensors")) << "no epoch ended, so there are no epoch weights";
    const auto resumed = training::train(tiny_run(data, stopped, 2), build_registry(), tiny_runtime(true));
    ASSERT_EQ(resumed.size(), 2u);
    const WeightMap a = load_safetensors(straight / "checkpoint.safetensors");
    const WeightMap b = load_safetensors(stopped / "checkpoint.safetensors");
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_TRUE(all_close(b.at(name), t, 0, 0)) << name;
    EXPECT_EQ(report::MetricsCsv::read(straight / "metrics.csv").at(0).at("train_loss"),
              report::MetricsCsv::read(stopped / "metrics.csv").at(0).at("train_loss"));
}

TEST(Training, ResumedRunEndsWithTheSameWeightsAsAnUninterruptedOne) {
    const auto data = write_tiny_cifar("resume", 16);
    const auto straight = data / "straight", split = data / "split";
    training::train(tiny_run(data, straight, 2), build_registry(), tiny_runtime(false));
    training::train(tiny_run(data, split, 1), build_registry(), tiny_runtime(false));
    // A second start into the same directory without --resume is refused, not overwritten.
    EXPECT_TRUE(throws_error_containing(
        [&] { training::train(tiny_run(data, split, 2), build_registry(), tiny_runtime(false)); }, "--resume"));
    const auto resumed = training::train(tiny_run(data, split, 2), build_registry(), tiny_runtime(true));
    ASSERT_EQ(resumed.size(), 1u);
    EXPECT_EQ(resumed[0].epoch, 2);
    std::map<std::string, std::string> meta_a, meta_b;
    const WeightMap a = load_safetensors(straight / "last.safetensors", &meta_a);
    const WeightMap b = load_safetensors(split / "last.safetensors", &meta_b);
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_TRUE(all_close(b.at(name), t, 0, 0)) << name;
    EXPECT_EQ(meta_a.at("weft.epoch"), "2");
    // metrics.csv of the split run has exactly one row per epoch.
    std::ifstream csv(split / "metrics.csv");
    std::string line;
    int lines = 0;
    while (std::getline(csv, line)) ++lines;
    EXPECT_EQ(lines, 3);
    EXPECT_TRUE(std::filesystem::exists(split / "curves.svg"));
    EXPECT_TRUE(std::filesystem::exists(split / "best.safetensors"));
    std::filesystem::remove_all(data);
}

// A job of one rank, through every step data-parallel training adds (the gradient exchange in
// buckets during backward, the parameters broadcast, the running statistics averaged, the stop
// agreed, evaluation's counts summed), trains bit for bit what one process trains: the exchange
// itself, not only its maths, is in place. The communicator counts what it was asked to do.
class OneRankCommunicator final : public training::Communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string description() const override { return "one rank"; }
    void allreduce_sum(std::span<float>) override { ++blocking; }
    void allreduce_sum(std::span<double>) override { ++blocking; }
    void allreduce_max(std::span<double>) override { ++blocking; }
    void start_allreduce_sum(std::span<float> values) override {
        ++started;
        floats += values.size();
    }
    void progress() override {}
    void wait_all() override { ++waits; }
    void broadcast(std::span<std::byte>, int) override { ++broadcasts; }
    [[noreturn]] void abort(int status) override { std::_Exit(status); }

    int blocking = 0, started = 0, waits = 0, broadcasts = 0;
    std::size_t floats = 0;
};

TEST(Training, OneRankThroughTheCommunicatorTrainsBitForBitAsOneProcess) {
    const auto data = write_tiny_cifar("one-rank", 16);  // 80 images: 5 steps of 16 per epoch
    training::train(tiny_run(data, data / "alone", 2), build_registry(), tiny_runtime(false));
    OneRankCommunicator communicator;
    training::TrainRuntime runtime = tiny_runtime(false);
    runtime.communicator = &communicator;
    runtime.bucket_bytes = 4096;  // several buckets even for this small network
    training::train(tiny_run(data, data / "ranked", 2), build_registry(), runtime);
    const WeightMap a = load_safetensors(data / "alone" / "checkpoint.safetensors");
    const WeightMap b = load_safetensors(data / "ranked" / "checkpoint.safetensors");
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_TRUE(all_close(b.at(name), t, 0, 0)) << name;
    // Every step waited once for buckets that together hold every learnable parameter.
    EXPECT_EQ(communicator.waits, 10);
    EXPECT_GT(communicator.started, 10 * 2);
    std::size_t learnable = 0;
    for (const auto& [name, t] : b)
        if (name.rfind("momentum/", 0) == 0) learnable += static_cast<std::size_t>(t.numel());
    EXPECT_EQ(communicator.floats, 10 * learnable);
    EXPECT_GT(communicator.broadcasts, 0);
    std::filesystem::remove_all(data);
}

// The exchange on the device (NCCL for GPU ranks) in place of the host's: the averager hands
// every bucket's gradients, where they lie, to a DeviceAllreduce, and nothing goes through the
// communicator's host sums. Here a stand-in on the cpu (the mean over one rank is the values)
// counts what it is given; tests of NCCL itself need a GPU (runner/nccl/test).
struct ExchangeCounts {
    int started = 0, waits = 0;
    std::size_t floats = 0;
};
class OneRankDeviceAllreduce final : public training::DeviceAllreduce {
public:
    explicit OneRankDeviceAllreduce(ExchangeCounts& counts) : counts_(counts) {}
    std::string description() const override { return "one rank on the device"; }
    void start_mean(std::span<const TensorView> gradients) override {
        ++counts_.started;
        for (const TensorView& g : gradients) counts_.floats += static_cast<std::size_t>(g.desc.numel());
    }
    void wait_all() override { ++counts_.waits; }

private:
    ExchangeCounts& counts_;  // the trainer owns the exchange; the test keeps the counts
};

TEST(Training, OneRankThroughADeviceExchangeTrainsBitForBitAsOneProcess) {
    const auto data = write_tiny_cifar("one-rank-device", 16);  // 80 images: 5 steps of 16 per epoch
    training::train(tiny_run(data, data / "alone", 2), build_registry(), tiny_runtime(false));
    OneRankCommunicator communicator;
    ExchangeCounts exchange;
    training::TrainRuntime runtime = tiny_runtime(false);
    runtime.communicator = &communicator;
    runtime.bucket_bytes = 4096;
    runtime.device_allreduce = [&](Device&, training::Communicator&) {
        return std::unique_ptr<training::DeviceAllreduce>(std::make_unique<OneRankDeviceAllreduce>(exchange));
    };
    const std::size_t expected_floats = [&] {
        training::train(tiny_run(data, data / "device", 2), build_registry(), runtime);
        std::size_t learnable = 0;
        for (const auto& [name, t] : load_safetensors(data / "device" / "checkpoint.safetensors"))
            if (name.rfind("momentum/", 0) == 0) learnable += static_cast<std::size_t>(t.numel());
        return 10 * learnable;
    }();
    const WeightMap a = load_safetensors(data / "alone" / "checkpoint.safetensors");
    const WeightMap b = load_safetensors(data / "device" / "checkpoint.safetensors");
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_TRUE(all_close(b.at(name), t, 0, 0)) << name;
    EXPECT_EQ(communicator.started, 0) << "gradients went through the host";
    EXPECT_EQ(exchange.waits, 10);
    EXPECT_GT(exchange.started, 10 * 2);
    EXPECT_EQ(exchange.floats, expected_floats);
    std::filesystem::remove_all(data);
}

// --sync-bn on a job of one rank: every batch-norm layer sums its statistics through the ranks
// (twice in forward: the mean, then the squares about it; once in backward) and, the group being
// this process alone, trains bit for bit what one process trains.
TEST(Training, OneRankWithSyncBnSumsEveryBatchNormsStatisticsAndTrainsBitForBitAsOneProcess) {
    const auto data = write_tiny_cifar("one-rank-sync", 16);  // 80 images: 5 steps of 16 per epoch
    training::train(tiny_run(data, data / "alone", 2), build_registry(), tiny_runtime(false));
    OneRankCommunicator plain, synced;
    training::TrainRuntime runtime = tiny_runtime(false);
    runtime.communicator = &plain;
    training::train(tiny_run(data, data / "plain", 2), build_registry(), runtime);
    runtime.communicator = &synced;
    training::TrainConfig config = tiny_run(data, data / "synced", 2);
    config.sync_batch_norm = true;
    training::train(config, build_registry(), runtime);
    const WeightMap a = load_safetensors(data / "alone" / "checkpoint.safetensors");
    const WeightMap b = load_safetensors(data / "synced" / "checkpoint.safetensors");
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_TRUE(all_close(b.at(name), t, 0, 0)) << name;
    int layers = 0;
    for (const Node& n : runtime.make_graph(16).nodes) layers += n.op == "batch_norm";
    ASSERT_GT(layers, 0);
    EXPECT_EQ(synced.blocking - plain.blocking, 10 * 3 * layers);  // 10 steps
    std::filesystem::remove_all(data);
}

TEST(Training, DataThatDoesNotFitTheGraphIsRefusedWithTheFix) {
    const auto data = write_tiny_cifar("fit", 4);
    training::TrainConfig c = tiny_run(data, data / "out", 1);
    training::TrainRuntime r = tiny_runtime(false);
    r.make_graph = [](std::int64_t batch) {
        GraphFileOptions options;
        options.overrides = {{"L", "2"}, {"M", "2"}, {"in_channels", "1"}, {"size", "28"}};
        Graph g = resolve_graph("igc-l24m2-d8", options);
        g.set_batch(batch);
        infer_shapes(g, build_registry());
        return g;
    };
    c.batch = 4;
    EXPECT_TRUE(throws_error_containing([&] { training::train(c, build_registry(), r); }, "--set in_channels=3"));
    std::filesystem::remove_all(data);
}

TEST(Evaluate, MirrorWidthReversesEachRow) {
    Tensor t(TensorDesc{DType::f32, {1, 2, 2, 3}});
    for (int i = 0; i < 12; ++i) t.as<float>()[i] = float(i);
    training::mirror_width(t);
    const std::vector<float> expected{2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9};
    for (int i = 0; i < 12; ++i) EXPECT_EQ(t.as<float>()[i], expected[i]) << i;
}

// Mirror-averaged evaluation sees both views of every image: a set and its mirror image score
// identically with it, unlike single views; and the averaged probability's loss is at most the
// mean of the two single-view losses (−log is convex).
TEST(Evaluate, MirrorAveragingUsesBothViewsOfEachImage) {
    datasets::Dataset data;
    data.name = "synthetic";
    data.channels = 3;
    data.height = data.width = 8;
    data.class_names = {"a", "b", "c", "d"};
    std::mt19937 rng(11);
    const int count = 10;  // not a multiple of the batch: the padded last batch is ignored
    for (int i = 0; i < count; ++i) {
        data.labels.push_back(static_cast<std::int32_t>(rng() % 4));
        for (int k = 0; k < 3 * 64; ++k) data.pixels.push_back(static_cast<std::uint8_t>(rng() % 256));
    }
    datasets::Dataset mirrored = data;
    for (std::int64_t row = 0; row < count * 3 * 8; ++row)
        std::reverse(mirrored.pixels.begin() + row * 8, mirrored.pixels.begin() + (row + 1) * 8);
    const datasets::Normalization normalization = datasets::channel_statistics(data);

    const Graph g = small_igc(4);
    const WeightMap weights = init_weights(g, 13);
    Executor exec(g, build_registry(), weights, single_thread());
    auto run = [&](const datasets::Dataset& d, bool mirror) {
        return training::evaluate(exec, d, normalization, true, false, "eval", mirror);
    };
    const training::Evaluation plain = run(data, false), plain_mirrored = run(mirrored, false);
    const training::Evaluation both = run(data, true), both_mirrored = run(mirrored, true);
    ASSERT_EQ(both.count, count);
    // The network is not symmetric, so the single views differ ...
    EXPECT_NE(plain.loss, plain_mirrored.loss);
    // ... and averaging the two views makes the order irrelevant.
    EXPECT_EQ(both.confusion, both_mirrored.confusion);
    EXPECT_NEAR(both.loss, both_mirrored.loss, 1e-6);
    EXPECT_LE(both.loss, 0.5 * (plain.loss + plain_mirrored.loss) + 1e-6);
    EXPECT_LT(both.loss, std::max(plain.loss, plain_mirrored.loss));
}

}  // namespace
}  // namespace weft
