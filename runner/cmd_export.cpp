// weft export: a graph and its weights as an ONNX model (docs/onnx.md), for Netron, ONNX Runtime
// and TensorRT. The graph is written after the inference passes, as `weft run` would execute it,
// or as written with --passes none (batch norm kept as BatchNormalization).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"
#include "weft/error.h"
#include "weft/onnx/onnx_model.h"
#include "weft/output_file.h"
#include "weft/weights.h"
#include "written_file.h"

namespace weft::runner {
namespace {

struct ExportOptions {
    GraphOptions graph;
    DeviceChoice device;
    std::string weights;
    std::string output;
    int opset = onnx_format::kMinOpset;
    std::uint64_t seed = 0;
    bool json = false;
};

void export_command(const ExportOptions& o) {
    if (std::filesystem::path(o.output).extension() != ".onnx")
        throw Error(fmt::format("-o {}: name a .onnx file", o.output));
    check_output_target(o.output);  // a device or FIFO there: refused before any work
    auto registry = load_registry(o.graph);
    Graph graph = load_graph(o.graph, *registry, 1);
    // The weights' metadata (normalisation, class names, what they were trained on) travels in
    // metadata_props, so `weft run model.onnx` treats images as `weft run --weights` would.
    onnx_format::ExportOptions options;
    options.opset = o.opset;
    if (!o.weights.empty())
        load_safetensors(o.weights, &options.metadata);
    else if (const onnx_format::OnnxModel* model = imported_onnx(graph))
        options.metadata = model->metadata;
    WeightMap weights = load_or_init_weights(graph, o.weights, o.seed);
    // The inference passes, less the kernel fusions ONNX has no op for (export_pass_selection).
    DeviceChoice choice = o.device;
    choice.passes = onnx_format::export_pass_selection(choice.passes, *registry);
    const std::string passes = apply_passes(graph, weights, *registry, choice);
    const std::string bytes = onnx_format::export_onnx(graph, weights, options);
    OutputFile file(o.output);
    file.write(bytes);
    file.commit();
    const WrittenFile written{o.output, fmt::format("ONNX, opset {}", o.opset), bytes.size()};
    if (o.json) {
        nlohmann::json j = written.json();
        j["graph"] = graph.name;
        j["nodes"] = graph.nodes.size();
        j["passes"] = passes;
        j["opset"] = o.opset;
        fmt::print("{}\n", j.dump(2));
        return;
    }
    fmt::print("{}: graph {}, {} nodes, passes: {}\n", written.line(), graph.name, graph.nodes.size(),
               passes);
}

}  // namespace

void add_export_command(CLI::App& app) {
    auto o = std::make_shared<ExportOptions>();
    CLI::App* cmd =
        app.add_subcommand("export", "write a graph and its weights as an ONNX model (docs/onnx.md)");
    add_graph_options(*cmd, o->graph);
    cmd->add_option("-o,--output", o->output, "the .onnx file to write")->required();
    cmd->add_option("--weights", o->weights, "weights (.safetensors); default: initialised from --seed");
    cmd->add_option("--seed", o->seed, "initialisation seed when no weights are given")
        ->capture_default_str();
    cmd->add_option("--opset", o->opset, "ONNX opset version written")
        ->check(CLI::Range(onnx_format::kMinOpset, onnx_format::kMaxOpset))
        ->capture_default_str();
    cmd->add_option("--passes", o->device.passes,
                    "inference passes applied first: default, none (the graph as written), or a comma list")
        ->capture_default_str();
    cmd->add_flag("--json", o->json, "say what was written as JSON");
    cmd->callback([o] { export_command(*o); });
}

}  // namespace weft::runner
