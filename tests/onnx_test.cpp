// ONNX in and out (docs/onnx.md): every zoo family exported, accepted by the ONNX checker and read
// back to the same graph and bit-identical outputs; PyTorch networks exported by torch.onnx.export
// imported with PyTorch's logits; malformed files refused in one line. The checker and PyTorch
// parts skip where their Python modules are absent.
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_harness.h"
#include "op_harness.h"
#include "weft/executor.h"
#include "weft/graph_file.h"
#include "weft/graph_pass.h"
#include "weft/npy.h"
#include "weft/onnx/onnx_model.h"

namespace weft {
namespace {

namespace fs = std::filesystem;
using onnx_format::export_onnx;
using onnx_format::parse_onnx;
using testing::build_registry;
using testing::onnx_python;
using testing::run_weft;
using testing::ScratchDirectory;
using testing::shell_quote;
using testing::torch_python;

const ScratchDirectory& scratch() {
    static const ScratchDirectory dir("weft_onnx_test");
    return dir;
}

std::vector<Tensor> run_graph(const Graph& graph, const WeightMap& weights,
                              const std::vector<Tensor>& inputs) {
    CompileOptions options;
    options.device.threads = 1;
    Executor exec(graph, build_registry(), weights, options);
    std::vector<Tensor> outputs = exec.make_outputs();
    exec.run(inputs, outputs);
    return outputs;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
    return a.desc() == b.desc() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

// Nodes, their ops, attributes, inputs and outputs by name, graph inputs and outputs.
void expect_same_structure(const Graph& a, const Graph& b, const std::string& what) {
    ASSERT_EQ(a.nodes.size(), b.nodes.size()) << what;
    auto names = [](const Graph& g, const std::vector<int>& values) {
        std::vector<std::string> n;
        for (int v : values) n.push_back(g.values[v].name);
        return n;
    };
    EXPECT_EQ(names(a, a.inputs), names(b, b.inputs)) << what;
    EXPECT_EQ(names(a, a.outputs), names(b, b.outputs)) << what;
    for (std::size_t i = 0; i < a.nodes.size(); ++i) {
        const Node &x = a.nodes[i], &y = b.nodes[i];
        EXPECT_EQ(x.name, y.name) << what;
        EXPECT_EQ(x.op, y.op) << what << ": node " << x.name;
        EXPECT_EQ(x.attrs.values(), y.attrs.values()) << what << ": node " << x.name;
        EXPECT_EQ(names(a, x.inputs), names(b, y.inputs)) << what << ": node " << x.name;
        EXPECT_EQ(names(a, x.outputs), names(b, y.outputs)) << what << ": node " << x.name;
    }
}

fs::path write_bytes(const std::string& name, const std::string& bytes) {
    const fs::path path = scratch() / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

// The ONNX checker with its full check (shape inference included) over `files`; "" when it passes.
std::string onnx_checker_failures(const std::vector<fs::path>& files) {
    // The model, not its path: ONNX 1.12's check_model(path, full_check=True) writes the inferred
    // shapes back into the file.
    std::string script =
        "import onnx, sys\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), "
        "full_check=True)\n";
    std::ofstream(scratch() / "check.py") << script;
    std::string cmd = shell_quote(*onnx_python()) + " " + shell_quote((scratch() / "check.py").string());
    for (const fs::path& f : files) cmd += " " + shell_quote(f.string());
    cmd += " >" + shell_quote((scratch() / "check.txt").string()) + " 2>&1";
    return std::system(cmd.c_str()) == 0 ? "" : testing::read_text(scratch() / "check.txt");
}

struct ZooCase {
    std::string family, variant;
    Graph graph;
    WeightMap weights;
};

// The first variant of every family in the zoo, at batch 1.
std::vector<ZooCase> zoo_cases() {
    std::vector<ZooCase> cases;
    std::set<std::string> families;
    for (const auto& [info, variant] : list_zoo()) {
        if (!families.insert(info.family).second) continue;
        ZooCase c{info.family, variant.id, load_graph_file(info.path, {variant.id, {}}), {}};
        infer_shapes(c.graph, build_registry());
        c.weights = init_weights(c.graph, 7);
        cases.push_back(std::move(c));
    }
    return cases;
}

Tensor random_input(const Graph& g) {
    return random_normal(g.values[g.inputs[0]].desc, 11);
}

TEST(OnnxRoundTrip, EveryZooFamilyReadsBackAsTheSameGraphWithBitIdenticalOutputs) {
    const Registry& registry = build_registry();
    std::vector<fs::path> files;
    const std::vector<ZooCase> cases = zoo_cases();
    ASSERT_GE(cases.size(), 5u);
    for (const ZooCase& c : cases) {
        SCOPED_TRACE(c.variant);
        // As written (--passes none): batch norm stays BatchNormalization, the structure returns.
        const std::string bytes = export_onnx(c.graph, c.weights, {});
        files.push_back(write_bytes(c.variant + ".onnx", bytes));
        const onnx_format::OnnxModel back = parse_onnx(bytes, c.variant + ".onnx", registry);
        expect_same_structure(c.graph, back.graph, c.variant);
        ASSERT_EQ(back.weights.size(), c.weights.size());
        for (const auto& [name, t] : c.weights) EXPECT_TRUE(same_bytes(t, back.weights.at(name))) << name;
        EXPECT_EQ(back.graph.meta.at("family"), c.graph.meta.at("family"));
        const std::vector<Tensor> x{random_input(c.graph)};
        const auto want = run_graph(c.graph, c.weights, x), got = run_graph(back.graph, back.weights, x);
        EXPECT_TRUE(same_bytes(want[0], got[0])) << c.variant << ": outputs differ";

        // After the inference passes (what `weft export` writes by default): batch norm folded,
        // ReLU fused into the node before it and written as a Relu after it; read back and run
        // with the same passes, the outputs are the same bits.
        Graph passed = c.graph;
        WeightMap passed_weights = c.weights;
        const std::string exported = onnx_format::export_pass_selection("default", registry);
        run_passes(passed, passed_weights, registry, select_passes(registry, exported, false));
        const std::string passed_bytes = export_onnx(passed, passed_weights, {});
        files.push_back(write_bytes(c.variant + "_passes.onnx", passed_bytes));
        onnx_format::OnnxModel passed_back = parse_onnx(passed_bytes, c.variant + "_passes.onnx", registry);
        run_passes(passed_back.graph, passed_back.weights, registry,
                   select_passes(registry, exported, false));
        const auto passed_got = run_graph(passed_back.graph, passed_back.weights, x);
        const auto passed_want = run_graph(passed, passed_weights, x);
        EXPECT_TRUE(same_bytes(passed_want[0], passed_got[0]))
            << c.variant << ": outputs after passes differ";
    }
    if (!onnx_python())
        GTEST_SKIP() << "no Python with the onnx module (python3-onnx): the checker was not run";
    EXPECT_EQ(onnx_checker_failures(files), "");
}

// The tiny graph the refusal tests start from: exported bytes of a small zoo variant.
const std::string& small_model() {
    static const std::string bytes = [] {
        ZooCase c = std::move(zoo_cases().front());
        return export_onnx(c.graph, c.weights, {});
    }();
    return bytes;
}

onnx::ModelProto small_proto() {
    onnx::ModelProto m;
    EXPECT_TRUE(m.ParseFromString(small_model()));
    return m;
}

std::string refusal(const std::string& bytes) {
    try {
        parse_onnx(bytes, "bad.onnx", build_registry());
    } catch (const Error& e) {
        return e.what();
    }
    return "(accepted)";
}

std::string refusal(const onnx::ModelProto& m) {
    return refusal(m.SerializeAsString());
}

onnx::TensorProto* first_float_initializer(onnx::ModelProto& m) {
    for (onnx::TensorProto& t : *m.mutable_graph()->mutable_initializer())
        if (t.data_type() == onnx::TensorProto::FLOAT) return &t;
    return nullptr;
}

TEST(OnnxRefusals, TruncatedProtobufIsOneLineNamingTheFile) {
    const std::string cut = small_model().substr(0, small_model().size() / 2);
    const std::string why = refusal(cut);
    EXPECT_NE(why.find("bad.onnx: not a valid ONNX model"), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos);
}

TEST(OnnxRefusals, DanglingInputNamesTheNodeAndTheName) {
    onnx::ModelProto m = small_proto();
    onnx::NodeProto& n = *m.mutable_graph()->mutable_node(1);
    n.set_input(0, "nowhere");
    const std::string why = refusal(m);
    EXPECT_NE(why.find(fmt::format("node '{}' ({})", n.name(), n.op_type())), std::string::npos) << why;
    EXPECT_NE(why.find("'nowhere' is not defined before this node"), std::string::npos) << why;
}

TEST(OnnxRefusals, CycleIsRefusedAsAnInputDefinedLater) {
    onnx::ModelProto m = small_proto();
    // Node 0 reads the output of node 2: a cycle, or a graph out of order; both refused.
    m.mutable_graph()->mutable_node(0)->set_input(0, m.graph().node(2).output(0));
    EXPECT_NE(refusal(m).find("is not defined before this node"), std::string::npos) << refusal(m);
}

TEST(OnnxRefusals, HugeDimensionsAreRefusedBeforeAllocating) {
    onnx::ModelProto m = small_proto();
    first_float_initializer(m)->set_dims(0, std::int64_t{1} << 40);
    EXPECT_NE(refusal(m).find("is outside [1,"), std::string::npos) << refusal(m);
    onnx::ModelProto input = small_proto();
    input.mutable_graph()
        ->mutable_input(0)
        ->mutable_type()
        ->mutable_tensor_type()
        ->mutable_shape()
        ->mutable_dim(1)
        ->set_dim_value(-3);
    EXPECT_NE(refusal(input).find("graph input"), std::string::npos) << refusal(input);
}

TEST(OnnxRefusals, ExternalDataIsRefused) {
    onnx::ModelProto m = small_proto();
    onnx::TensorProto& t = *first_float_initializer(m);
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    onnx::StringStringEntryProto& e = *t.add_external_data();
    e.set_key("location");
    e.set_value("/etc/passwd");
    EXPECT_NE(refusal(m).find("external file"), std::string::npos) << refusal(m);
}

TEST(OnnxRefusals, RawDataOfTheWrongSizeIsRefused) {
    onnx::ModelProto m = small_proto();
    onnx::TensorProto& t = *first_float_initializer(m);
    t.set_raw_data(t.raw_data().substr(0, t.raw_data().size() - 4));
    EXPECT_NE(refusal(m).find("raw_data holds"), std::string::npos) << refusal(m);
}

TEST(OnnxRefusals, AnUnmappedOpNamesTheNodeAndTheOp) {
    onnx::ModelProto m = small_proto();
    onnx::NodeProto& n = *m.mutable_graph()->mutable_node(0);
    n.set_op_type("LpNormalization");
    n.set_name("odd");
    EXPECT_NE(refusal(m).find("node 'odd' (LpNormalization): no weft operator maps this ONNX op"),
              std::string::npos)
        << refusal(m);
}

TEST(OnnxExport, AnOpWithoutAnOnnxFormIsRefusedNamingNodeAndOp) {
    const Registry& registry = build_registry();
    const TensorDesc logits{DType::f32, {2, 10}}, labels{DType::i32, {2}};
    Graph g;
    try {
        g = single_node_graph(registry, "softmax_cross_entropy", {}, {logits, labels}, "loss");
    } catch (const Error& e) {
        GTEST_SKIP() << "softmax_cross_entropy takes other inputs here: " << e.what();
    }
    try {
        export_onnx(g, init_weights(g, 0), {});
        FAIL() << "exported";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("node 'loss': op 'softmax_cross_entropy' has no ONNX form"),
                  std::string::npos)
            << e.what();
    }
}

TEST(OnnxExport, MetadataTravelsInMetadataProps) {
    ZooCase c = std::move(zoo_cases().front());
    onnx_format::ExportOptions options;
    options.metadata = {
        {"weft.class_names", "[\"a\",\"b\"]"}, {"weft.mean", "[0.5]"}, {"weft.std", "[0.25]"}};
    const auto back = parse_onnx(export_onnx(c.graph, c.weights, options), "m.onnx", build_registry());
    EXPECT_EQ(back.metadata, options.metadata);
}

// PyTorch's own exports of networks with grouped convolutions, channel shuffles, batch norm,
// residual additions, pooling and a linear layer: weft's logits against PyTorch's.
TEST(OnnxFromPyTorch, TorchExportedNetworksGivePyTorchsLogits) {
    const std::optional<std::string>& python = torch_python();
    if (!python) GTEST_SKIP() << "no Python interpreter with numpy and torch (set WEFT_TORCH_PYTHON)";
    const fs::path dir = scratch() / "torch";
    fs::create_directories(dir);
    const std::string cmd = shell_quote(*python) + " " +
                            shell_quote(std::string(WEFT_TEST_SOURCE_DIR) + "/tests/onnx_torch_models.py") +
                            " " + shell_quote(dir.string()) + " >" + shell_quote((dir / "log.txt").string()) +
                            " 2>&1";
    if (std::system(cmd.c_str()) != 0) {
        const std::string log = testing::read_text(dir / "log.txt");
        if (log.find("No module named 'onnx'") != std::string::npos)
            GTEST_SKIP() << "torch.onnx needs the onnx module";
        FAIL() << log;
    }
    for (const std::string name : {"igc", "resnet", "pools"}) {
        SCOPED_TRACE(name);
        onnx_format::OnnxModel model = onnx_format::read_onnx(dir / (name + ".onnx"), build_registry());
        const Tensor x = load_npy(dir / (name + "_input.npy")), want = load_npy(dir / (name + "_logits.npy"));
        model.graph.set_batch(x.shape()[0]);
        infer_shapes(model.graph, build_registry());
        std::set<std::string> ops;
        for (const Node& n : model.graph.nodes) ops.insert(n.op);
        if (name == "igc") EXPECT_TRUE(ops.count("channel_permute")) << "the shuffles became channel_permute";
        const Tensor got = run_graph(model.graph, model.weights, {x})[0];
        ASSERT_EQ(got.shape(), want.shape());
        for (std::int64_t i = 0; i < got.numel(); ++i)
            EXPECT_NEAR(got.as<float>()[i], want.as<float>()[i],
                        1e-4f + 1e-4f * std::fabs(want.as<float>()[i]))
                << i;
    }
    // And through the command line, as a user runs it.
    const auto r = run_weft("run " + shell_quote((dir / "igc.onnx").string()) + " --input " +
                                shell_quote((dir / "igc_input.npy").string()) + " --output " +
                                shell_quote((dir / "cli_logits.npy").string()),
                            scratch().path());
    ASSERT_EQ(r.status, 0) << r.err;
    const Tensor cli = load_npy(dir / "cli_logits.npy"), want = load_npy(dir / "igc_logits.npy");
    for (std::int64_t i = 0; i < cli.numel(); ++i)
        EXPECT_NEAR(cli.as<float>()[i], want.as<float>()[i], 1e-4f + 1e-4f * std::fabs(want.as<float>()[i]));
}

// `weft export` then `weft run` on the file: the same logits as running the zoo graph with the
// same weights, and a malformed file is one line on stderr with status 2.
TEST(OnnxCommands, ExportThenRunMatchesTheGraphAndBadFilesAreOneLine) {
    const fs::path out = scratch() / "cli.onnx";
    const std::string graph = "igc-l24m2-d8";
    auto r =
        run_weft(fmt::format("init {} -o {}", graph, shell_quote((scratch() / "w.safetensors").string())),
                 scratch().path());
    ASSERT_EQ(r.status, 0) << r.err;
    r = run_weft(fmt::format("export {} --weights {} -o {}", graph,
                             shell_quote((scratch() / "w.safetensors").string()), shell_quote(out.string())),
                 scratch().path());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("wrote"), std::string::npos) << r.out;
    r = run_weft(fmt::format("run {} --weights {} --output {}", graph,
                             shell_quote((scratch() / "w.safetensors").string()),
                             shell_quote((scratch() / "a.npy").string())),
                 scratch().path());
    ASSERT_EQ(r.status, 0) << r.err;
    r = run_weft(fmt::format("run {} --output {}", shell_quote(out.string()),
                             shell_quote((scratch() / "b.npy").string())),
                 scratch().path());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(same_bytes(load_npy(scratch() / "a.npy"), load_npy(scratch() / "b.npy")));
    r = run_weft("stats " + shell_quote(out.string()), scratch().path());
    EXPECT_EQ(r.status, 0) << r.err;

    const fs::path bad = write_bytes("truncated.onnx", small_model().substr(0, 100));
    r = run_weft("run " + shell_quote(bad.string()), scratch().path());
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("truncated.onnx: not a valid ONNX model"), std::string::npos) << r.err;
}

// `weft train model.onnx` fine-tunes the model's own weights: with a learning rate too small to
// move a float, the trained weights are the ONNX file's initialisers, not a seed's.
TEST(OnnxCommands, TrainStartsFromTheModelsInitialisers) {
    std::ofstream(scratch() / "tiny28.yaml")
        << "family: tiny28\n"
           "inputs:\n  - {name: data, shape: [1, 28, 28]}\n"
           "graph:\n"
           "  - {op: group_conv, name: conv, out_channels: 4, kernel: 4, stride: 4}\n"
           "  - {op: relu, name: relu}\n"
           "  - {op: pool, name: pool, mode: global_avg}\n"
           "  - {op: fc, name: fc, out_features: 10}\n";
    const fs::path model = scratch() / "tiny28.onnx", run = scratch() / "tiny28_run";
    auto r =
        run_weft(fmt::format("export {} --seed 5 -o {}", shell_quote((scratch() / "tiny28.yaml").string()),
                             shell_quote(model.string())),
                 scratch().path());
    ASSERT_EQ(r.status, 0) << r.err;
    r = run_weft(
        fmt::format("train {} --data fashion-mnist --epochs 1 --limit-train 64 --limit-test 64 --batch 32 "
                    "--lr 1e-30 --quiet --out {}",
                    shell_quote(model.string()), shell_quote(run.string())),
        scratch().path());
    if (r.err.find("fashion-mnist") != std::string::npos && r.status != 0) GTEST_SKIP() << r.err;
    ASSERT_EQ(r.status, 0) << r.err;
    const WeightMap onnx_weights = onnx_format::read_onnx(model, build_registry()).weights;
    const WeightMap trained = load_safetensors(run / "last.safetensors");
    ASSERT_EQ(trained.size(), onnx_weights.size());
    for (const auto& [name, t] : onnx_weights) {
        const Tensor& u = trained.at(name);
        ASSERT_EQ(u.shape(), t.shape()) << name;
        for (std::int64_t i = 0; i < t.numel(); ++i)
            ASSERT_NEAR(u.as<float>()[i], t.as<float>()[i], 1e-20f) << name;
    }
}

// weft eval takes an .onnx GRAPH's own initialisers when --weights is not given, and gives what
// the same weights give from a .safetensors file; anything else still needs --weights.
TEST(OnnxCommands, EvalOfAnOnnxModelUsesItsOwnWeights) {
    const std::string graph = "igc-l24m2-d8 --set L=2 --set M=2 --set in_channels=1 --set size=28";
    const fs::path weights = scratch() / "eval_w.safetensors", model = scratch() / "eval.onnx";
    auto r = run_weft(fmt::format("init {} --seed 3 -o {}", graph, shell_quote(weights.string())),
                      scratch().path());
    ASSERT_EQ(r.status, 0) << r.err;
    r = run_weft(fmt::format("export {} --weights {} -o {}", graph, shell_quote(weights.string()),
                             shell_quote(model.string())),
                 scratch().path());
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string eval = "--data fashion-mnist --limit 200 --batch 50 --json --quiet";
    r = run_weft(fmt::format("eval {} {}", shell_quote(model.string()), eval), scratch().path());
    if (r.err.find("fashion-mnist") != std::string::npos && r.status != 0) GTEST_SKIP() << r.err;
    ASSERT_EQ(r.status, 0) << r.err;
    const auto from_onnx = nlohmann::json::parse(r.out);
    r = run_weft(fmt::format("eval {} --weights {} {}", graph, shell_quote(weights.string()), eval),
                 scratch().path());
    ASSERT_EQ(r.status, 0) << r.err;
    const auto from_safetensors = nlohmann::json::parse(r.out);
    EXPECT_EQ(from_onnx["images"], 200);
    EXPECT_EQ(from_onnx["confusion"], from_safetensors["confusion"]);
    EXPECT_NEAR(from_onnx["loss"].get<double>(), from_safetensors["loss"].get<double>(), 1e-6);
    r = run_weft(fmt::format("eval {} {}", graph, eval), scratch().path());
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--weights is required"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace weft
