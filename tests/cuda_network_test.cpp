// Whole networks of the paper on the GPU against the CPU: the logits of a forward pass, and one
// full training step — the loss, every parameter's gradient, the weights after the SGD update and
// the batch-norm running statistics. The per-op CUDA tests check each kernel alone; this checks
// that the compiled graph (buffer plan, in-place reuse, gradient accumulation, the optimiser on
// the device, the graph-boundary copies) puts them together as the CPU does. Skipped, with the
// reason, where there is no GPU. The same comparisons run on every host against the "guarded"
// test backend (the cpu kernels on memory the host cannot touch, tests/support/guarded_backend.h),
// where they must agree bit for bit: that keeps this test's own code exercised without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include <ostream>
#include <tuple>

#include <gtest/gtest.h>

#include "guarded_backend.h"
#include "op_harness.h"
#include "weft/executor.h"
#include "weft/graph_file.h"
#include "weft/optimizer.h"
#include "weft/training.h"
#include "weft/training/model.h"
#include "weft/weights.h"

namespace weft {
namespace {

// IGC's tiny-group primary convolutions (small_groups on the GPU) and the regular network
// beside it in the paper's Table 2 (cuDNN's convolutions), at their CIFAR depth of 20.
const std::vector<std::string> kNetworks = {"igc-l24m2-d20", "regconv-w16-d20"};
constexpr std::int64_t kBatch = 8;

// cuDNN and oneDNN sum each convolution in another order; through twenty layers the float32
// results drift apart by a few units in the fourth digit of the tensor's scale. A wrong kernel, a
// lost gradient or a buffer reused too early moves values by whole percents of it.
constexpr double kCudaRelativeToScale = 5e-3;

// The backend under test against the cpu: cuda, or the guarded stand-in that must equal the cpu.
struct Target {
    std::string backend;
    double relative_to_scale;  // 0 for bit for bit
};
void PrintTo(const Target& target, std::ostream* os) { *os << target.backend; }
const std::vector<Target> kTargets = {{"guarded", 0}, {"cuda", kCudaRelativeToScale}};


double max_abs(const Tensor& t) {
    double m = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, double(std::abs(t.as<float>()[i])));
    return m;
}

// |actual - expected| everywhere within `relative` of expected's largest magnitude, plus `floor`
// for tensors that are zero up to rounding (a convolution's bias in front of a batch norm gets no
// gradient but noise). Both 0: bit for bit.
::testing::AssertionResult close_at_scale(const Tensor& actual, const Tensor& expected, double relative,
                                          double floor = 0) {
    if (actual.desc().shape != expected.desc().shape)
        return ::testing::AssertionFailure() << "shape " << shape_str(actual.desc().shape) << ", expected "
                                             << shape_str(expected.desc().shape);
    const double bound = relative * max_abs(expected) + floor;
    for (std::int64_t i = 0; i < expected.numel(); ++i) {
        const double a = actual.as<float>()[i], e = expected.as<float>()[i];
        if (!(std::abs(a - e) <= bound))
            return ::testing::AssertionFailure() << "element " << i << ": " << a << ", expected " << e
                                                 << " (bound " << bound << ")";
    }
    return ::testing::AssertionSuccess();
}

Graph zoo_network(const std::string& id) {
    setenv("WEFT_GRAPH_PATH", WEFT_TEST_GRAPH_DIR, 1);
    Graph g = resolve_graph(id);
    g.set_batch(kBatch);
    infer_shapes(g, testing::build_registry());
    return g;
}

CompileOptions on(const std::string& backend) {
    CompileOptions options;
    options.backend = backend;
    return options;
}

// A host copy of a tensor in the executor's device memory.
Tensor to_host(TrainingExecutor& exec, const TensorView& view) {
    Tensor host(view.desc);
    exec.device().copy_to_host(host.data(), view.data, host.bytes());
    return host;
}

class CudaNetwork : public ::testing::TestWithParam<std::tuple<std::string, Target>> {
protected:
    void SetUp() override {
        if (target().backend == "cuda") WEFT_SKIP_WITHOUT_CUDA();
    }
    const std::string& network() const { return std::get<0>(GetParam()); }
    const Target& target() const { return std::get<1>(GetParam()); }
    double relative() const { return target().relative_to_scale; }
    // The floor under a tensor's tolerance: none where the results must be equal.
    double floor(double scale) const { return relative() == 0 ? 0 : scale; }
};

TEST_P(CudaNetwork, LogitsMatchTheCpu) {
    const Registry& registry = testing::build_registry();
    Graph g = zoo_network(network());
    ASSERT_FALSE(training::drop_probabilities_head(g, registry).empty()) << "the network should end in softmax";
    const WeightMap weights = init_weights(g, 1);
    const Tensor images = random_normal(g.values[g.inputs.at(0)].desc, 2);
    std::vector<Tensor> logits;
    for (const std::string& backend : {std::string("cpu"), target().backend}) {
        Executor exec(g, testing::registry_for(backend), weights, on(backend));
        std::vector<Tensor> outputs = exec.make_outputs();
        exec.run(std::span<const Tensor>(&images, 1), outputs);
        logits.push_back(std::move(outputs.at(0)));
    }
    EXPECT_GT(max_abs(logits[0]), 0) << "the CPU's logits are all zero: the comparison would prove nothing";
    EXPECT_TRUE(close_at_scale(logits[1], logits[0], relative()));
}

TEST_P(CudaNetwork, OneTrainingStepMatchesTheCpu) {
    const Registry& registry = testing::build_registry();
    Graph g = zoo_network(network());
    const training::LossHead head = training::attach_loss(g, registry);
    const WeightMap initial = init_weights(g, 1);
    std::vector<Tensor> inputs{random_normal(g.values[g.inputs.at(0)].desc, 2), Tensor(g.values[g.inputs.at(1)].desc)};
    for (std::int64_t i = 0; i < kBatch; ++i) inputs[1].as<std::int32_t>()[i] = static_cast<std::int32_t>((3 * i) % 10);

    struct Step {
        std::vector<Tensor> outputs;       // loss, logits
        std::vector<std::string> names;    // parameter names, in the executor's order
        std::vector<Tensor> gradients;     // after the step, before the update
        WeightMap updated;                 // parameters and running statistics after the update
    };
    std::vector<Step> steps;
    for (const std::string& backend : {std::string("cpu"), target().backend}) {
        TrainingExecutor exec(g, testing::registry_for(backend), initial, on(backend), head.loss);
        Optimizer sgd(exec, testing::registry_for(backend), OptimizerOptions{});
        Step s;
        s.outputs = exec.make_outputs();
        exec.step(inputs, s.outputs);
        for (const TrainingExecutor::Parameter& p : exec.parameters()) {
            if (!p.spec.learnable) continue;  // running statistics: state, no gradient
            s.names.push_back(p.name);
            s.gradients.push_back(to_host(exec, p.grad));
        }
        sgd.step(0.1f);
        s.updated = exec.weights();
        steps.push_back(std::move(s));
    }
    const Step& cpu = steps[0];
    const Step& gpu = steps[1];  // or the guarded stand-in
    EXPECT_TRUE(close_at_scale(gpu.outputs[0], cpu.outputs[0], relative() == 0 ? 0 : 1e-4)) << "loss";
    EXPECT_TRUE(close_at_scale(gpu.outputs[1], cpu.outputs[1], relative())) << "logits";

    ASSERT_EQ(gpu.names, cpu.names);
    ASSERT_FALSE(cpu.names.empty());
    double largest_gradient = 0;
    for (const Tensor& t : cpu.gradients) largest_gradient = std::max(largest_gradient, max_abs(t));
    ASSERT_GT(largest_gradient, 0) << "no gradient on the CPU: the comparison would prove nothing";
    for (std::size_t i = 0; i < cpu.names.size(); ++i)
        EXPECT_TRUE(close_at_scale(gpu.gradients[i], cpu.gradients[i], relative(), floor(1e-4 * largest_gradient)))
            << "gradient of " << cpu.names[i];

    ASSERT_EQ(gpu.updated.size(), cpu.updated.size());
    int running_statistics = 0;
    for (const auto& [name, expected] : cpu.updated) {
        const auto it = gpu.updated.find(name);
        ASSERT_NE(it, gpu.updated.end()) << name;
        if (name.find("running") != std::string::npos) ++running_statistics;
        EXPECT_TRUE(close_at_scale(it->second, expected, relative(), floor(1e-6))) << "after the update: " << name;
    }
    EXPECT_GT(running_statistics, 0) << "the networks have batch norms: their running statistics should be compared";
}

INSTANTIATE_TEST_SUITE_P(Zoo, CudaNetwork, ::testing::Combine(::testing::ValuesIn(kNetworks), ::testing::ValuesIn(kTargets)),
                         [](const auto& info) {
                             std::string name = std::get<0>(info.param) + "_on_" + std::get<1>(info.param).backend;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

}  // namespace
}  // namespace weft
