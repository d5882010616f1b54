// One whole training step of weft (forward in training mode, backward, Nesterov SGD with weight
// decay) against PyTorch running the same graph from an independent rebuild
// (torch_crosscheck.py): logits, loss, every updated parameter and every running statistic.
// The finite-difference checks in training_test.cpp only see gradients through weft's own
// forward; here the forward rules, the batch-norm statistics and the optimiser are checked
// against another framework as well. Skipped where no Python with torch is found.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "cli_harness.h"
#include "op_harness.h"
#include "weft/graph_file.h"
#include "weft/optimizer.h"
#include "weft/training.h"
#include "weft/training/model.h"

namespace weft {
namespace {

namespace fs = std::filesystem;
using testing::all_close;
using testing::build_registry;
using testing::shell_quote;
using testing::torch_python;

constexpr float kLearningRate = 0.1f;
constexpr float kWeightDecay = 1e-4f;

nlohmann::json attr_json(const AttrValue& value) {
    return std::visit([](const auto& v) { return nlohmann::json(v); }, value);
}

// What the PyTorch side needs to rebuild the graph: nodes in an order that runs, with the
// attributes shape inference completed (defaults filled in) and which parameters SGD updates.
nlohmann::json graph_json(const Graph& graph, const std::string& loss) {
    nlohmann::json j;
    for (int n : graph.topological_order()) {
        const Node& node = graph.nodes[n];
        nlohmann::json attrs = nlohmann::json::object();
        for (const auto& [name, value] : node.attrs.values()) attrs[name] = attr_json(value);
        nlohmann::json params = nlohmann::json::array();
        for (const ParamSpec& p : node.params) params.push_back({{"name", p.name}, {"learnable", p.learnable}});
        nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array();
        for (int v : node.inputs) inputs.push_back(graph.values[v].name);
        for (int v : node.outputs) outputs.push_back(graph.values[v].name);
        j["nodes"].push_back({{"name", node.name}, {"op", node.op}, {"attrs", attrs},
                              {"inputs", inputs}, {"outputs", outputs}, {"params", params}});
    }
    for (const Value& v : graph.values) j["values"][v.name] = v.desc.shape;
    for (int v : graph.inputs) j["inputs"].push_back(graph.values[v].name);
    for (int v : graph.outputs) j["outputs"].push_back(graph.values[v].name);
    j["loss"] = loss;
    return j;
}

// NumPy's .npy format, version 1.0: magic, header length, a Python dict literal padded so the
// data starts 64-byte aligned, then the little-endian data.
void write_npy(const fs::path& path, const Tensor& t) {
    const char* descr = t.desc().dtype == DType::i32 ? "<i4" : "<f4";
    ASSERT_TRUE(t.desc().dtype == DType::i32 || t.desc().dtype == DType::f32);
    std::string shape;
    for (std::int64_t d : t.desc().shape) shape += fmt::format("{}, ", d);
    std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, shape);
    const std::size_t preamble = 10;  // magic (6), version (2), header length (2)
    header.append(63 - (preamble + header.size()) % 64, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const auto length = static_cast<std::uint16_t>(header.size());
    const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
    out.write(length_bytes, 2);
    out << header;
    out.write(static_cast<const char*>(t.data()), static_cast<std::streamsize>(t.bytes()));
    ASSERT_TRUE(out.good()) << path;
}

struct Case {
    Graph graph;
    training::LossHead head;
    WeightMap weights;
    std::vector<Tensor> inputs;  // images, labels
};

Graph zoo_graph(const std::string& family, std::int64_t batch) {
    GraphFileOptions options;
    options.overrides = {{"L", "2"}, {"M", "2"}, {"depth", "8"}, {"size", "8"}, {"classes", "4"}};
    Graph g = resolve_graph(family, options);
    g.set_batch(batch);
    infer_shapes(g, build_registry());
    return g;
}

// init_weights leaves batch norm at scale 1, shift 0, mean 0, variance 1; under those a swapped
// scale and shift, or a running update that blends the wrong way, could still agree. Random
// values make every parameter count.
void randomise_batch_norm(const Graph& graph, WeightMap& weights, std::uint64_t seed) {
    struct Range {
        const char* param;
        float lo, hi;
    };
    for (const Node& node : graph.nodes) {
        if (node.op != "batch_norm") continue;
        for (const Range& r : {Range{"weight", 0.5f, 1.5f}, Range{"bias", -0.5f, 0.5f},
                               Range{"running_mean", -0.5f, 0.5f}, Range{"running_var", 0.5f, 1.5f}}) {
            Tensor& t = weights.at(node.name + "." + r.param);
            t = testing::random_tensor(t.desc().shape, seed++, r.lo, r.hi);
        }
    }
}

Case make_case(Graph g, std::uint64_t seed) {
    Case c;
    c.head = training::attach_loss(g, build_registry());
    c.graph = std::move(g);
    c.weights = init_weights(c.graph, seed);
    randomise_batch_norm(c.graph, c.weights, seed * 1000);
    const std::int64_t batch = c.graph.batch();
    Tensor labels(TensorDesc{DType::i32, {batch}, Layout::row_major});
    for (std::int64_t i = 0; i < batch; ++i) labels.as<std::int32_t>()[i] = static_cast<std::int32_t>((i * 3 + 1) % 4);
    c.inputs = {testing::random_tensor(c.graph.values[c.graph.inputs[0]].desc.shape, seed + 7), labels};
    return c;
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
    double worst = 0;
    for (std::int64_t i = 0; i < a.numel(); ++i)
        worst = std::max(worst, std::fabs(double(a.as<float>()[i]) - double(b.as<float>()[i])));
    return worst;
}

double max_abs(const Tensor& t) {
    double largest = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) largest = std::max(largest, std::fabs(double(t.as<float>()[i])));
    return largest;
}

Tensor difference(const Tensor& a, const Tensor& b) {
    Tensor d(a.desc());
    for (std::int64_t i = 0; i < a.numel(); ++i) d.as<float>()[i] = a.as<float>()[i] - b.as<float>()[i];
    return d;
}

class TempDir {
public:
    explicit TempDir(const std::string& name)
        : path_(fs::temp_directory_path() / fmt::format("weft_torch_crosscheck_{}_{}", name, ::getpid())) {
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

void check_step_against_torch(const std::string& name, Case c) {
    const std::optional<std::string>& python = torch_python();
    if (!python) GTEST_SKIP() << "no Python interpreter with numpy and torch (set WEFT_TORCH_PYTHON)";
    TempDir dir(name);
    std::ofstream(dir.path() / "graph.json") << graph_json(c.graph, c.head.loss).dump(1);
    save_safetensors(dir.path() / "weights.safetensors", c.weights);
    write_npy(dir.path() / "images.npy", c.inputs[0]);
    write_npy(dir.path() / "labels.npy", c.inputs[1]);

    CompileOptions options;
    options.device.threads = 1;
    TrainingExecutor exec(c.graph, build_registry(), c.weights, options, c.head.loss);
    OptimizerOptions sgd_options;
    sgd_options.name = "sgd";
    sgd_options.hyperparameters.set("momentum", 0.9);
    sgd_options.hyperparameters.set("nesterov", true);
    sgd_options.weight_decay = kWeightDecay;
    sgd_options.decay_uncounted = true;  // torch.optim.SGD decays every parameter it is given
    Optimizer sgd(exec, build_registry(), sgd_options);
    std::vector<Tensor> outputs = exec.make_outputs();
    exec.step(c.inputs, outputs);
    WeightMap grads;  // taken before the optimiser, which may reuse them
    for (const auto& p : exec.parameters()) {
        if (!p.spec.learnable) continue;
        Tensor g(p.spec.desc);
        std::copy_n(p.grad.as<float>(), p.grad.numel(), g.as<float>());
        grads.emplace(p.name, g);
    }
    sgd.step(kLearningRate);
    const WeightMap after = exec.weights();

    const std::string script = (fs::path(WEFT_TEST_SOURCE_DIR) / "tests" / "torch_crosscheck.py").string();
    const std::string command =
        fmt::format("{} {} {} --lr {} --weight-decay {}", shell_quote(*python), shell_quote(script),
                    shell_quote(dir.path().string()), kLearningRate, kWeightDecay);
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    const WeightMap reference = load_safetensors(dir.path() / "reference.safetensors");

    // The reference runs in float64: what remains is weft's float32 rounding (and any error).
    auto compare = [&](const std::string& what, const Tensor& actual, const Tensor& expected) {
        ASSERT_EQ(actual.desc().shape, expected.desc().shape) << what;
        fmt::print("  {:<44} max |weft - torch| {:<9.3g} max |torch| {:.3g}\n", what,
                   max_abs_difference(actual, expected), max_abs(expected));
        EXPECT_TRUE(all_close(actual, expected, 1e-4, 1e-5)) << what;
    };
    fmt::print("{}: {} nodes, {} parameters\n", name, c.graph.nodes.size(), after.size());
    for (std::size_t k = 0; k < c.graph.outputs.size(); ++k)
        compare("output " + c.graph.values[c.graph.outputs[k]].name, outputs[k],
                reference.at("output/" + c.graph.values[c.graph.outputs[k]].name));
    std::size_t compared = 0;
    for (const auto& p : exec.parameters()) {
        ASSERT_TRUE(reference.contains(p.name)) << p.name;
        compare(p.name, after.at(p.name), reference.at(p.name));
        ++compared;
        if (!p.spec.learnable) continue;
        // A parameter barely moves in one step, so its new value keeps only a few digits of the
        // gradient; the gradient and the step (lr·(1 + μ)·(g + wd·w) on the first) show all.
        compare("grad " + p.name, grads.at(p.name), reference.at("grad/" + p.name));
        compare("step " + p.name, difference(after.at(p.name), c.weights.at(p.name)),
                reference.at("step/" + p.name));
        compared += 2;
    }
    EXPECT_EQ(compared + c.graph.outputs.size(), reference.size());
}

TEST(TorchCrosscheck, SmallIgcStepMatchesPyTorch) {
    check_step_against_torch("igc", make_case(zoo_graph("igc-l24m2-d8", 8), 3));
}

// Identity shortcuts read a value twice: its gradient is a sum, which PyTorch's autograd forms
// independently.
TEST(TorchCrosscheck, SmallResidualStepMatchesPyTorch) {
    check_step_against_torch("residual", make_case(zoo_graph("igc-l24m2-ident-d50", 8), 5));
}

}  // namespace
}  // namespace weft
