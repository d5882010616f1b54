// weft run / check / init: a forward pass, a validity check, and fresh weights.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "options.h"
#include "weft/error.h"
#include "weft/datasets/image.h"
#include "weft/npy.h"
#include "weft/training/model.h"

namespace weft::runner {
namespace {

struct RunOptions {
    GraphOptions graph;
    DeviceChoice device;
    std::string input = "random";
    std::string output;
    std::string weights;
    std::int64_t batch = 1;
    std::uint64_t seed = 0;
    int top = 5;
    bool graph_given = false;
};

bool is_image_file(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// A PNG or JPEG as one normalised image, the way the weights were trained (their metadata
// carries the per-channel mean and std; without it pixels are only scaled to [0, 1]).
Tensor image_input(const std::string& path, const Graph& graph, const training::ModelInfo& info) {
    const datasets::Image image = datasets::read_image(path);
    const Shape& want = graph.values[graph.inputs.at(0)].desc.shape;
    if (want.size() != 4 || want[1] != image.channels || want[2] != image.height || want[3] != image.width)
        throw Error(fmt::format("{}: a {}×{}×{} image, but graph '{}' takes {}", path, image.channels, image.height,
                                image.width, graph.name, shape_str(Shape(want.begin() + 1, want.end()))));
    Tensor t(TensorDesc{DType::f32, {1, image.channels, image.height, image.width}, Layout::row_major});
    const std::int64_t plane = image.height * image.width;
    for (std::int64_t c = 0; c < image.channels; ++c) {
        const float mean = info.has_normalization() ? info.mean.at(c) : 0.f;
        const float std = info.has_normalization() ? info.std.at(c) : 1.f;
        for (std::int64_t i = 0; i < plane; ++i)
            t.as<float>()[c * plane + i] = (image.pixels[c * plane + i] / 255.f - mean) / std;
    }
    return t;
}

std::vector<Tensor> make_inputs(const RunOptions& o, Graph& graph, const Registry& registry,
                                const training::ModelInfo& info) {
    if (is_image_file(o.input)) {
        if (graph.batch() != 1) graph = load_graph(o.graph, registry, 1);
        return {image_input(o.input, graph, info)};
    }
    if (o.input == "random") {
        std::vector<Tensor> inputs;
        for (int v : graph.inputs) inputs.push_back(random_normal(graph.values[v].desc, o.seed + 1));
        return inputs;
    }
    Tensor t = load_npy(o.input);
    const Shape& want = graph.values[graph.inputs.at(0)].desc.shape;
    if (t.shape().size() + 1 == want.size()) {  // a single image: add the batch dimension
        Shape s = t.shape();
        s.insert(s.begin(), 1);
        Tensor b(TensorDesc{DType::f32, s, Layout::row_major});
        std::copy_n(t.as<float>(), t.numel(), b.as<float>());
        t = b;
    }
    Shape expected = want;
    expected[0] = t.shape().empty() ? 0 : t.shape()[0];
    if (t.shape() != expected)
        throw Error(fmt::format("{}: input has shape {}, the graph expects [N, {}]", o.input, shape_str(t.shape()),
                                fmt::join(std::vector<std::int64_t>(want.begin() + 1, want.end()), ", ")));
    if (expected[0] != graph.batch()) {
        graph = load_graph(o.graph, registry, expected[0]);
    }
    return {t};
}

void print_summary(const Tensor& out, const Graph& graph, int top, std::vector<std::string> names) {
    fmt::print("output {}: {}\n", graph.values[graph.outputs[0]].name, out.desc().str());
    const Shape& s = out.shape();
    if (s.size() < 2) return;
    const std::int64_t n = s[0], k = out.numel() / std::max<std::int64_t>(n, 1);
    const float* p = out.as<float>();
    if (auto it = graph.meta.find("class_names"); names.empty() && it != graph.meta.end()) {
        std::string all = it->second;
        for (std::size_t start = 0; start <= all.size();) {
            std::size_t comma = all.find(',', start);
            if (comma == std::string::npos) comma = all.size();
            names.push_back(all.substr(start, comma - start));
            start = comma + 1;
        }
    }
    const int shown = static_cast<int>(std::min<std::int64_t>(n, 4));
    for (int i = 0; i < shown; ++i) {
        std::vector<int> idx(k);
        std::iota(idx.begin(), idx.end(), 0);
        const int t = static_cast<int>(std::min<std::int64_t>(top, k));
        std::partial_sort(idx.begin(), idx.begin() + t, idx.end(), [&](int a, int b) { return p[i * k + a] > p[i * k + b]; });
        std::string line;
        for (int j = 0; j < t; ++j) {
            const int c = idx[j];
            const std::string label = c < static_cast<int>(names.size()) ? names[c] : fmt::format("class {}", c);
            line += fmt::format("{}{} {:.4f}", j ? ", " : "", label, p[i * k + c]);
        }
        fmt::print("  image {}: top-{}: {}\n", i, t, line);
    }
    if (n > shown) fmt::print("  ... ({} more)\n", n - shown);
}

void run(const RunOptions& o) {
    using Clock = std::chrono::steady_clock;
    // Weights written by `weft train` name their graph, class names and input normalisation.
    std::map<std::string, std::string> meta;
    if (!o.weights.empty()) load_safetensors(o.weights, &meta);
    const training::ModelInfo info = training::ModelInfo::from_metadata(meta);
    RunOptions options = o;
    if (!o.graph_given && !info.graph.empty()) {
        options.graph.graph = info.graph;
        options.graph.variant = info.variant;
        options.graph.sets = info.sets;
    }
    auto registry = load_device_registry(options.graph, o.device);
    Graph graph = load_graph(options.graph, *registry, o.batch);
    // Random input is made after compiling, so a batch too large for memory is refused by the
    // buffer plan at once rather than after generating gigabytes of input.
    const bool random_input = options.input == "random";
    std::vector<Tensor> inputs;
    if (!random_input) inputs = make_inputs(options, graph, *registry, info);
    WeightMap weights = load_or_init_weights(graph, o.weights, o.seed);
    const auto totals = graph_totals(graph);  // of the graph as written, before passes rewrite it
    const std::size_t written_nodes = graph.nodes.size();
    const std::string passes = apply_passes(graph, weights, *registry, o.device);
    const auto t0 = Clock::now();
    Executor exec(graph, *registry, weights, compile_options(o.device));
    if (random_input) inputs = make_inputs(options, graph, *registry, info);
    const auto t1 = Clock::now();
    std::vector<Tensor> outputs = exec.make_outputs();
    exec.run(inputs, outputs);
    const auto t2 = Clock::now();
    exec.run(inputs, outputs);  // steady state: caches warm, weights in their kernel formats
    const auto t3 = Clock::now();
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };

    fmt::print("graph {} ({} nodes, {} params, {} multiply-adds per image) on {}\n", graph.name, written_nodes,
               human_count(double(totals.params)), human_count(double(totals.macs) / double(graph.batch())),
               exec.device().description());
    fmt::print("passes: {} ({} nodes run)\n", passes, graph.nodes.size());
    fmt::print("weights: {}\n", o.weights.empty() ? fmt::format("initialised from seed {} (untrained: the classes below mean nothing yet)", o.seed) : o.weights);
    fmt::print("input: {} {}\n", o.input == "random" ? fmt::format("random (seed {})", o.seed + 1) : o.input,
               inputs[0].desc().str());
    print_summary(outputs[0], graph, o.top, info.class_names);
    fmt::print("time: {:.2f} ms per batch of {} ({:.1f} images/s); first run {:.2f} ms, compile {:.2f} ms\n",
               ms(t3 - t2), graph.batch(), double(graph.batch()) / (ms(t3 - t2) / 1000), ms(t2 - t1), ms(t1 - t0));
    if (!o.output.empty()) {
        save_npy(o.output, outputs[0]);
        fmt::print("wrote {}\n", o.output);
    }
}

}  // namespace

void add_run_command(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    CLI::App* cmd = app.add_subcommand("run", "forward pass: print the output, a summary and the time per batch");
    add_graph_options(*cmd, o->graph);
    add_device_options(*cmd, o->device);
    cmd->add_option("--input", o->input,
                    "'random', a float32 .npy file ([N,C,H,W] or one [C,H,W] image), or a PNG/JPEG image "
                    "(normalised as the weights were trained)")
        ->capture_default_str();
    cmd->add_option("--batch", o->batch, "batch size for random input")->check(CLI::Range(1, 1 << 20))->capture_default_str();
    cmd->add_option("--seed", o->seed, "seed for initial weights and random input")->capture_default_str();
    cmd->add_option("--weights", o->weights, "weights (.safetensors); default: initialised from the seed");
    cmd->add_option("--output", o->output, "write the first output to this .npy file");
    cmd->add_option("--top", o->top, "classes shown per image")->check(CLI::Range(1, 100))->capture_default_str();
    cmd->callback([o, cmd] {
        o->graph_given = cmd->count("graph") > 0;
        run(*o);
    });
}

void add_check_command(CLI::App& app) {
    auto o = std::make_shared<GraphOptions>();
    CLI::App* cmd = app.add_subcommand("check", "validate a graph: schema, attributes and shapes");
    add_graph_options(*cmd, *o);
    cmd->callback([o] {
        auto registry = load_registry(*o);
        Graph graph = load_graph(*o, *registry, 1);
        const auto totals = graph_totals(graph);
        fmt::print("ok: {} — {} nodes, {} params, {} multiply-adds per image, output {}\n", graph.name,
                   graph.nodes.size(), totals.params, totals.macs, graph.values[graph.outputs.at(0)].desc.str());
    });
}

void add_init_command(CLI::App& app) {
    struct InitOptions {
        GraphOptions graph;
        std::string out;
        std::uint64_t seed = 0;
    };
    auto o = std::make_shared<InitOptions>();
    CLI::App* cmd = app.add_subcommand("init", "write freshly initialised weights (MSRA/He) to a safetensors file");
    add_graph_options(*cmd, o->graph);
    cmd->add_option("-o,--output", o->out, "output .safetensors file")->required();
    cmd->add_option("--seed", o->seed, "initialisation seed")->capture_default_str();
    cmd->callback([o] {
        auto registry = load_registry(o->graph);
        Graph graph = load_graph(o->graph, *registry, 1);
        WeightMap w = init_weights(graph, o->seed);
        save_safetensors(o->out, w, {{"graph", graph.name}, {"seed", std::to_string(o->seed)}, {"format", "weft"}});
        std::int64_t n = 0;
        for (const auto& [name, t] : w) n += t.numel();
        fmt::print("wrote {}: {} tensors, {} values (seed {})\n", o->out, w.size(), n, o->seed);
    });
}

}  // namespace weft::runner
