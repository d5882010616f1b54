#include "options.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/error.h"
#include "weft/graph_file.h"

namespace weft::runner {

void add_graph_options(CLI::App& app, GraphOptions& options) {
    app.add_option("graph", options.graph, "graph file (YAML) or zoo variant id")->capture_default_str();
    app.add_option("--variant", options.variant, "named variant of the graph file");
    app.add_option("--set", options.sets, "override a graph parameter, KEY=VALUE (repeatable)");
    add_plugin_options(app, options);
}

void add_plugin_options(CLI::App& app, GraphOptions& options) {
    app.add_option("--plugin-path", options.plugin_paths, "extra plugin directory (repeatable, ':'-separated)");
}

namespace {

bool is_backend_name(const std::string& s) {
    const auto allowed = [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '_'; };
    return !s.empty() && std::islower(static_cast<unsigned char>(s[0])) && std::all_of(s.begin(), s.end(), allowed);
}

bool is_device_number(const std::string& s) {
    const auto digit = [](unsigned char c) { return std::isdigit(c) != 0; };
    return !s.empty() && s.size() <= 4 && std::all_of(s.begin(), s.end(), digit);
}

// More threads than the machine has only adds switching; far more overruns OpenMP's own limits
// (--threads 100000 crashed inside it), so the count is bounded where it is parsed.
constexpr int kThreadsPerHardwareThread = 4;

int hardware_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

CLI::Validator thread_count() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            const int most = kThreadsPerHardwareThread * hardware_threads();
            int threads = -1;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), threads);
            if (error == std::errc() && end == text.data() + text.size() && threads >= 0 && threads <= most) return {};
            return fmt::format("'{}' is not a thread count from 0 (all cores) to {} ({} x this machine's {} "
                               "hardware threads)",
                               text, most, kThreadsPerHardwareThread, hardware_threads());
        },
        "THREADS");
}

}  // namespace

DeviceSpec parse_device(const std::string& spec) {
    const std::size_t colon = spec.find(':');
    DeviceSpec device{spec.substr(0, colon), 0};
    const bool numbered = colon != std::string::npos;
    if (!is_backend_name(device.backend) || (numbered && !is_device_number(spec.substr(colon + 1))))
        throw Error(fmt::format("--device '{}': expected cpu, cuda or cuda:N", spec));
    if (numbered) device.index = std::stoi(spec.substr(colon + 1));
    if (device.backend == "cpu" && device.index != 0)
        throw Error(fmt::format("--device '{}': the cpu backend has one device (cpu or cpu:0)", spec));
    return device;
}

void add_device_option(CLI::App& app, DeviceChoice& choice, const std::string& help) {
    const std::vector<std::string> present = backends_on_search_path();
    app.add_option("--device", choice.device,
                   fmt::format("{}: cpu, cuda or cuda:N (libraries present: {})", help,
                               present.empty() ? std::string("none") : fmt::format("{}", fmt::join(present, ", "))))
        ->capture_default_str()
        // Checked while parsing, so every command refuses a malformed device before doing anything.
        ->each([](const std::string& spec) { parse_device(spec); });
}

void add_device_options(CLI::App& app, DeviceChoice& choice) {
    add_device_option(app, choice, "backend to run on");
    app.add_option("--threads", choice.threads,
                   fmt::format("CPU threads at most (0: all cores; at most {} x the hardware threads); "
                               "fewer while other processes keep cores busy, unless --fixed-threads",
                               kThreadsPerHardwareThread))
        ->check(thread_count());
    app.add_flag("--fixed-threads", choice.fixed_threads,
                 "always run --threads threads, however busy the machine (timings of one thread count)");
    app.add_option("--slice", choice.slice,
                   "CPU inference: run the batch as slices of N samples, each thread taking the next slice through "
                   "the whole graph while its activations are in that core's cache (0: the whole batch at once, "
                   "as when an op does not declare independent samples)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--kernel", choice.kernels, "force a kernel, OP=LIBRARY (repeatable)");
    app.add_option("--passes", choice.passes,
                   "graph passes: default, none, or a comma list (NAME to pick, -NAME to drop)")
        ->capture_default_str();
}

CLI::Validator finite_number() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            // CLI11's range checks compare, and every comparison with NaN is false: "nan" and
            // "inf" would pass them and poison every weight at the first step.
            double value = 0;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (error == std::errc() && end == text.data() + text.size() && std::isfinite(value)) return {};
            return fmt::format("'{}' is not a finite number", text);
        },
        "FINITE");
}

void add_numerics_option(CLI::App& app, DeviceChoice& choice) {
    app.add_flag("--check-numerics", choice.check_numerics,
                 "after every node, check its outputs for NaN and infinity and stop at the first node producing "
                 "one, naming it (slow: for finding where numbers go wrong)");
}

std::unique_ptr<Registry> load_registry(const GraphOptions& options, const std::vector<std::string>& backends,
                                        RefusedLibraries refused) {
    auto registry = std::make_unique<Registry>();
    load_plugins(*registry, options.plugin_paths, backends);
    // A refused library may be the kernel the user meant to run: say so before anything runs.
    if (refused == RefusedLibraries::warn)
        for (const RefusedLibrary& library : registry->refused())
            fmt::print(stderr, "weft: warning: plugin library {} was refused: {}\n", library.path.string(),
                       library.reason);
    return registry;
}

std::unique_ptr<Registry> load_device_registry(const GraphOptions& options, const DeviceChoice& device) {
    const DeviceSpec spec = parse_device(device.device);
    auto registry = load_registry(options, {"cpu", spec.backend});
    registry->require_backend(spec.backend);
    return registry;
}

namespace {

// ONNX GRAPHs read in this process, by path: a command asks for the graph, then its weights.
std::map<std::string, onnx_format::OnnxModel>& onnx_models() {
    static std::map<std::string, onnx_format::OnnxModel> models;
    return models;
}

Graph load_onnx_graph(const GraphOptions& options, const Registry& registry) {
    if (!options.variant.empty() || !options.sets.empty())
        throw Error(fmt::format("{}: an ONNX model has no variants or parameters (--variant, --set)", options.graph));
    auto& models = onnx_models();
    auto it = models.find(options.graph);
    if (it == models.end()) it = models.emplace(options.graph, onnx_format::read_onnx(options.graph, registry)).first;
    return it->second.graph;
}

}  // namespace

const onnx_format::OnnxModel* imported_onnx(const Graph& graph) {
    const auto format = graph.meta.find("format");
    const auto file = graph.meta.find("file");
    if (format == graph.meta.end() || format->second != "onnx" || file == graph.meta.end()) return nullptr;
    const auto it = onnx_models().find(file->second);
    return it == onnx_models().end() ? nullptr : &it->second;
}

Graph load_graph(const GraphOptions& options, const Registry& registry, std::int64_t batch) {
    if (onnx_format::is_onnx_path(options.graph)) {
        Graph graph = load_onnx_graph(options, registry);
        graph.set_batch(batch);
        infer_shapes(graph, registry);
        return graph;
    }
    GraphFileOptions file_options;
    file_options.variant = options.variant;
    for (const std::string& kv : options.sets) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(fmt::format("--set '{}': expected KEY=VALUE", kv));
        file_options.overrides[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    Graph graph = resolve_graph(options.graph, file_options);
    graph.set_batch(batch);
    infer_shapes(graph, registry);
    return graph;
}

std::string describe_executor(Executor& exec) {
    std::string text = exec.device().description();
    if (exec.lanes() > 0)
        text += fmt::format("; {} lane{} of {}-sample slices", exec.lanes(), exec.lanes() == 1 ? "" : "s",
                            exec.samples_per_slice());
    else if (!exec.whole_batch_reason().empty())
        text += fmt::format("; the whole batch at once: {}", exec.whole_batch_reason());
    return text;
}

CompileOptions compile_options(const DeviceChoice& choice) {
    const DeviceSpec device = parse_device(choice.device);
    CompileOptions c;
    c.backend = device.backend;
    c.device.index = device.index;
    c.device.threads = choice.threads;
    c.device.adapt_threads = !choice.fixed_threads;
    c.check_numerics = choice.check_numerics;
    // Slices pay where a core's cache is the limit; a GPU runs the whole batch at once.
    if (device.backend == "cpu") c.samples_per_slice = choice.slice;
    for (const std::string& kv : choice.kernels) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size())
            throw Error(fmt::format("--kernel '{}': expected OP=LIBRARY", kv));
        c.kernel_overrides[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return c;
}

std::string apply_passes(Graph& graph, WeightMap& weights, const Registry& registry, const DeviceChoice& choice) {
    const auto reports = run_passes(graph, weights, registry, select_passes(registry, choice.passes, false));
    std::vector<std::string> parts;
    for (const PassReport& r : reports) parts.push_back(fmt::format("{} ×{}", r.name, r.rewrites));
    return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

WeightMap load_or_init_weights(const Graph& graph, const std::string& path, std::uint64_t seed) {
    if (path.empty()) {
        if (const onnx_format::OnnxModel* model = imported_onnx(graph)) return model->weights;
        return init_weights(graph, seed);
    }
    WeightMap weights = load_safetensors(path);
    try {
        check_weights(graph, weights);
    } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", path, e.what()));
    }
    return weights;
}

std::string human_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
    return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u]) : fmt::format("{:.2f} {}", bytes, units[u]);
}

std::string human_count(double n) {
    if (n >= 1e9) return fmt::format("{:.3f}G", n / 1e9);
    if (n >= 1e6) return fmt::format("{:.3f}M", n / 1e6);
    if (n >= 1e3) return fmt::format("{:.1f}K", n / 1e3);
    return fmt::format("{:.0f}", n);
}

}  // namespace weft::runner
