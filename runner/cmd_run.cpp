// weft run / check / init: a forward pass, a validity check, and fresh weights.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"
#include "run_input.h"
#include "weft/error.h"
#include "weft/output_file.h"
#include "weft/npy.h"
#include "weft/training/model.h"

namespace weft::runner {
namespace {

struct RunOptions {
    GraphOptions graph;
    DeviceChoice device;
    std::string input = "random";
    std::string input_layout = "detect";
    std::string output;
    std::string output_kind;  // empty: the graph's own output
    std::string weights;
    std::int64_t batch = 1;
    std::uint64_t seed = 0;
    int top = 5;
    bool json = false;
    bool graph_given = false;
};

// What the run's output holds. The graph's own output unless asked otherwise: probabilities when
// it ends in an op whose schema declares OpTraits::probabilities (softmax), logits when it does
// not. Logits from a graph that ends in such an op come from the graph without it.
struct OutputKind {
    std::string kind;     // "logits" or "probabilities"
    std::string dropped;  // the probabilities node left out for logits, if any
    std::string explanation;
};

OutputKind settle_output_kind(const std::string& asked, Graph& graph, const Registry& registry) {
    const int head = training::find_probabilities_head(graph, registry);
    const OutputKind plain_logits{"logits", "", "the graph's output; it ends in no probabilities op"};
    if (head < 0) {
        if (asked == "probabilities")
            throw Error(fmt::format("--output-kind probabilities: graph '{}' ends in no op that turns logits into "
                                    "probabilities (such as softmax); its output is logits, so use --output-kind logits",
                                    graph.name));
        return plain_logits;
    }
    const std::string head_text = fmt::format("{} ({})", graph.nodes[head].name, graph.nodes[head].op);
    if (asked == "logits") {
        const std::string dropped = training::drop_probabilities_head(graph, registry);
        return {"logits", dropped, "the graph without its final " + head_text};
    }
    return {"probabilities", "", "the graph's output, from its final " + head_text};
}

// The images the run feeds the graph, and what was done to them. A file's batch size replaces
// --batch (the graph is reloaded at it); random input is made after compiling, see run().
RunInput file_input(const RunOptions& o, Graph& graph, const Registry& registry, const training::ModelInfo& info) {
    const Shape& want = graph.values[graph.inputs.at(0)].desc.shape;
    const Shape sample_shape(want.begin() + 1, want.end());
    const bool picture = is_image_file(o.input);
    if (picture && o.input_layout != "detect")
        throw Error(fmt::format("--input-layout {}: applies to .npy input, not to the picture {}", o.input_layout, o.input));
    RunInput in = picture ? read_picture_input(o.input, sample_shape, info)
                          : read_npy_input(o.input, sample_shape, parse_input_layout(o.input_layout), info);
    const std::int64_t n = in.images.shape()[0];
    if (n != graph.batch()) graph = load_graph(o.graph, registry, n);
    return in;
}

RunInput random_input(const RunOptions& o, const Graph& graph) {
    return {random_normal(graph.values[graph.inputs.at(0)].desc, o.seed + 1),
            {fmt::format("standard normal, seed {}", o.seed + 1)}};
}

struct RankedClass {
    int index;
    std::string label;
    float score;
};

std::vector<std::string> class_names(const Graph& graph, std::vector<std::string> names) {
    if (auto it = graph.meta.find("class_names"); names.empty() && it != graph.meta.end()) {
        const std::string& all = it->second;
        for (std::size_t start = 0; start <= all.size();) {
            std::size_t comma = all.find(',', start);
            if (comma == std::string::npos) comma = all.size();
            names.push_back(all.substr(start, comma - start));
            start = comma + 1;
        }
    }
    return names;
}

// The `top` highest scores of each of the first `images` rows of the output.
std::vector<std::vector<RankedClass>> top_classes(const Tensor& out, std::int64_t images, int top,
                                                  const std::vector<std::string>& names) {
    const Shape& s = out.shape();
    std::vector<std::vector<RankedClass>> ranked;
    if (s.size() < 2) return ranked;
    const std::int64_t k = out.numel() / std::max<std::int64_t>(s[0], 1);
    const float* p = out.as<float>();
    const int t = static_cast<int>(std::min<std::int64_t>(top, k));
    for (std::int64_t i = 0; i < std::min(images, s[0]); ++i) {
        std::vector<int> idx(k);
        std::iota(idx.begin(), idx.end(), 0);
        std::partial_sort(idx.begin(), idx.begin() + t, idx.end(), [&](int a, int b) { return p[i * k + a] > p[i * k + b]; });
        auto& row = ranked.emplace_back();
        for (int j = 0; j < t; ++j) {
            const int c = idx[j];
            row.push_back({c, c < static_cast<int>(names.size()) ? names[c] : fmt::format("class {}", c), p[i * k + c]});
        }
    }
    return ranked;
}

struct RunReport {
    std::string graph, device, passes, weights, input, output_name, wrote;
    std::vector<std::string> conversions;
    std::size_t nodes_written = 0, nodes_run = 0;
    GraphTotals totals;
    std::int64_t batch = 1;
    Shape input_shape, output_shape;
    OutputKind kind;
    std::vector<std::vector<RankedClass>> top;
    double steady_ms = 0, first_ms = 0, compile_ms = 0;
};

void print_text(const RunReport& r) {
    constexpr std::size_t kShown = 4;
    fmt::print("graph {} ({} nodes, {} params, {} multiply-adds per image) on {}\n", r.graph, r.nodes_written,
               human_count(double(r.totals.params)), human_count(double(r.totals.macs) / double(r.batch)), r.device);
    fmt::print("passes: {} ({} nodes run)\n", r.passes, r.nodes_run);
    fmt::print("weights: {}\n", r.weights);
    fmt::print("input: {} → f32{}\n", r.input, shape_str(r.input_shape));
    for (const std::string& step : r.conversions) fmt::print("  {}\n", step);
    fmt::print("output {}: f32{}, {}: {}\n", r.output_name, shape_str(r.output_shape), r.kind.kind, r.kind.explanation);
    for (std::size_t i = 0; i < std::min(kShown, r.top.size()); ++i) {
        std::string line;
        for (const RankedClass& c : r.top[i]) line += fmt::format("{}{} {:.4f}", line.empty() ? "" : ", ", c.label, c.score);
        fmt::print("  image {}: top-{} {}: {}\n", i, r.top[i].size(), r.kind.kind, line);
    }
    if (r.batch > static_cast<std::int64_t>(kShown)) fmt::print("  ... ({} more)\n", r.batch - static_cast<std::int64_t>(kShown));
    fmt::print("time: {:.2f} ms per batch of {} ({:.1f} images/s); first run {:.2f} ms, compile {:.2f} ms\n", r.steady_ms,
               r.batch, double(r.batch) / (r.steady_ms / 1000), r.first_ms, r.compile_ms);
    if (!r.wrote.empty()) fmt::print("wrote {}: {} f32{}\n", r.wrote, r.kind.kind, shape_str(r.output_shape));
}

void print_json(const RunReport& r) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& image : r.top) {
        nlohmann::json row = nlohmann::json::array();
        for (const RankedClass& c : image) row.push_back({{"class", c.index}, {"label", c.label}, {"score", c.score}});
        top.push_back(row);
    }
    nlohmann::json output = {{"name", r.output_name}, {"kind", r.kind.kind}, {"shape", r.output_shape},
                             {"explanation", r.kind.explanation}};
    if (!r.kind.dropped.empty()) output["dropped_node"] = r.kind.dropped;
    if (!r.wrote.empty()) output["file"] = r.wrote;
    const nlohmann::json j = {
        {"graph", r.graph},
        {"nodes", r.nodes_written},
        {"params", r.totals.params},
        {"macs_per_image", double(r.totals.macs) / double(r.batch)},
        {"device", r.device},
        {"passes", r.passes},
        {"nodes_run", r.nodes_run},
        {"weights", r.weights},
        {"input", {{"source", r.input}, {"shape", r.input_shape}, {"conversions", r.conversions}}},
        {"output", output},
        {"top", top},
        {"batch", r.batch},
        {"ms_per_batch", r.steady_ms},
        {"first_run_ms", r.first_ms},
        {"compile_ms", r.compile_ms},
        {"images_per_second", double(r.batch) / (r.steady_ms / 1000)}};
    fmt::print("{}\n", j.dump(2));
}

void run(const RunOptions& o) {
    using Clock = std::chrono::steady_clock;
    if (!o.output.empty() && std::filesystem::path(o.output).extension() != ".npy")
        throw Error(fmt::format("--output {}: the output is written as a NumPy array; name a .npy file", o.output));
    if (!o.output.empty()) check_output_target(o.output);  // a device or FIFO there: refused before running
    // Weights written by `weft train` name their graph, class names and input normalisation.
    std::map<std::string, std::string> meta;
    if (!o.weights.empty()) load_safetensors(o.weights, &meta);
    training::ModelInfo info = training::ModelInfo::from_metadata(meta);
    RunOptions options = o;
    if (!o.graph_given && !info.graph.empty()) {
        options.graph.graph = info.graph;
        options.graph.variant = info.variant;
        options.graph.sets = info.sets;
    }
    auto registry = load_device_registry(options.graph, o.device);
    Graph graph = load_graph(options.graph, *registry, o.batch);
    // An ONNX GRAPH carries its weights and their metadata, unless --weights replaces them.
    const onnx_format::OnnxModel* onnx_model = o.weights.empty() ? imported_onnx(graph) : nullptr;
    if (onnx_model) info = training::ModelInfo::from_metadata(onnx_model->metadata);
    // Random input is made after compiling, so a batch too large for memory is refused by the
    // buffer plan at once rather than after generating gigabytes of input.
    const bool random = options.input == "random";
    if (random && o.input_layout != "detect") throw Error("--input-layout applies to .npy input, not to random input");
    RunInput input;
    if (!random) input = file_input(options, graph, *registry, info);
    RunReport r;
    r.totals = graph_totals(graph);  // of the graph as written, before passes rewrite it
    r.nodes_written = graph.nodes.size();
    r.kind = settle_output_kind(o.output_kind, graph, *registry);
    WeightMap weights = load_or_init_weights(graph, o.weights, o.seed);
    r.passes = apply_passes(graph, weights, *registry, o.device);
    const auto t0 = Clock::now();
    Executor exec(graph, *registry, weights, compile_options(o.device));
    if (random) input = random_input(options, graph);
    const auto t1 = Clock::now();
    std::vector<Tensor> outputs = exec.make_outputs();
    const std::vector<Tensor> inputs{input.images};
    exec.run(inputs, outputs);
    const auto t2 = Clock::now();
    exec.run(inputs, outputs);  // steady state: caches warm, weights in their kernel formats
    const auto t3 = Clock::now();
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };

    r.graph = graph.name;
    r.device = describe_executor(exec);
    r.nodes_run = graph.nodes.size();
    r.weights = onnx_model      ? fmt::format("{} (its initialisers)", options.graph.graph)
                : o.weights.empty() ? fmt::format("initialised from seed {} (untrained: the classes below mean nothing yet)", o.seed)
                    : o.weights;
    r.input = random ? "random" : o.input;
    r.conversions = input.conversions;
    r.input_shape = input.images.shape();
    r.output_name = graph.values[graph.outputs[0]].name;
    r.output_shape = outputs[0].shape();
    r.batch = graph.batch();
    r.top = top_classes(outputs[0], o.json ? r.batch : 4, o.top, class_names(graph, info.class_names));
    r.steady_ms = ms(t3 - t2), r.first_ms = ms(t2 - t1), r.compile_ms = ms(t1 - t0);
    if (!o.output.empty()) {
        save_npy(o.output, outputs[0]);
        r.wrote = o.output;
    }
    if (o.json) print_json(r);
    else print_text(r);
}

}  // namespace

void add_run_command(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    CLI::App* cmd = app.add_subcommand("run", "forward pass: print the output, a summary and the time per batch");
    add_graph_options(*cmd, o->graph);
    add_device_options(*cmd, o->device);
    add_numerics_option(*cmd, o->device);
    cmd->add_option("--input", o->input,
                    "'random', a .npy file (float32, float64 or uint8 pixels; [N,C,H,W], [N,H,W,C] or one image), "
                    "or a PNG/JPEG image (pixels normalised as the weights were trained)")
        ->capture_default_str();
    cmd->add_option("--input-layout", o->input_layout,
                    "dimension order of a .npy input: detect (NHWC when the last dimension is the channel count and "
                    "the first image dimension is not), nchw or nhwc")
        ->check(CLI::IsMember({"detect", "nchw", "nhwc"}))
        ->capture_default_str();
    cmd->add_option("--batch", o->batch, "batch size for random input")->check(CLI::Range(1, 1 << 20))->capture_default_str();
    cmd->add_option("--seed", o->seed, "seed for initial weights and random input")->capture_default_str();
    cmd->add_option("--weights", o->weights, "weights (.safetensors); default: initialised from the seed");
    cmd->add_option("--output", o->output, "write the output (see --output-kind) to this .npy file");
    cmd->add_option("--output-kind", o->output_kind,
                    "logits (the graph without its final softmax) or probabilities; default: the graph's own output "
                    "(probabilities for the zoo's classifiers)")
        ->check(CLI::IsMember({"logits", "probabilities"}));
    cmd->add_option("--top", o->top, "classes shown per image")->check(CLI::Range(1, 100))->capture_default_str();
    cmd->add_flag("--json", o->json, "machine-readable output (with every image's top classes)");
    cmd->callback([o, cmd] {
        o->graph_given = cmd->count("graph") > 0;
        run(*o);
    });
}

void add_check_command(CLI::App& app) {
    struct CheckOptions {
        GraphOptions graph;
        bool json = false;
    };
    auto o = std::make_shared<CheckOptions>();
    CLI::App* cmd = app.add_subcommand("check", "validate a graph: schema, attributes and shapes");
    add_graph_options(*cmd, o->graph);
    cmd->add_flag("--json", o->json, "machine-readable output");
    cmd->callback([o] {
        auto registry = load_registry(o->graph);
        Graph graph = load_graph(o->graph, *registry, 1);
        const auto totals = graph_totals(graph);
        const TensorDesc& output = graph.values[graph.outputs.at(0)].desc;
        if (o->json) {
            const nlohmann::json j = {{"ok", true},           {"graph", graph.name},
                                      {"nodes", graph.nodes.size()}, {"params", totals.params},
                                      {"macs_per_image", totals.macs}, {"output_shape", output.shape}};
            fmt::print("{}\n", j.dump(2));
            return;
        }
        fmt::print("ok: {} — {} nodes, {} params, {} multiply-adds per image, output {}\n", graph.name,
                   graph.nodes.size(), totals.params, totals.macs, output.str());
    });
}

void add_init_command(CLI::App& app) {
    struct InitOptions {
        GraphOptions graph;
        std::string out;
        std::uint64_t seed = 0;
        bool json = false;
    };
    auto o = std::make_shared<InitOptions>();
    CLI::App* cmd = app.add_subcommand("init", "write freshly initialised weights (MSRA/He) to a safetensors file");
    add_graph_options(*cmd, o->graph);
    cmd->add_option("-o,--output", o->out, "output .safetensors file")->required();
    cmd->add_option("--seed", o->seed, "initialisation seed")->capture_default_str();
    cmd->add_flag("--json", o->json, "machine-readable output");
    cmd->callback([o] {
        check_output_target(o->out);
        auto registry = load_registry(o->graph);
        Graph graph = load_graph(o->graph, *registry, 1);
        WeightMap w = init_weights(graph, o->seed);
        save_safetensors(o->out, w, {{"graph", graph.name}, {"seed", std::to_string(o->seed)}, {"format", "weft"}});
        std::int64_t n = 0;
        for (const auto& [name, t] : w) n += t.numel();
        if (o->json) {
            const nlohmann::json j = {{"file", o->out}, {"graph", graph.name}, {"tensors", w.size()}, {"values", n},
                                      {"seed", o->seed}};
            fmt::print("{}\n", j.dump(2));
            return;
        }
        fmt::print("wrote {}: {} tensors, {} values (seed {})\n", o->out, w.size(), n, o->seed);
    });
}

}  // namespace weft::runner
