// weft bench: steady-state throughput of a compiled graph, with an optional per-operator profile.
#include <algorithm>
#include <chrono>
#include <functional>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"
#include "weft/optimizer.h"
#include "weft/training.h"
#include "weft/training/model.h"
#include "weft/viz/viz.h"

namespace weft::runner {
namespace {

struct BenchOptions {
    GraphOptions graph;
    DeviceChoice device;
    std::int64_t batch = 64;
    int warmup = 3;
    int min_iterations = 10;
    double min_seconds = 2.0;
    bool json = false;
    bool profile = false;
    bool train = false;  // time a whole training step (forward, backward, SGD) instead
    std::string viz;  // --viz FILE: the graph coloured by measured time
};

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * double(v.size() - 1) + 0.5));
    return v[i];
}

// Per op and the kernel that really ran its nodes (one op may run on several kernels: the
// small-groups convolution takes IGC's primary convolutions, oneDNN the stem).
void print_profile(const Graph& g, const std::vector<double>& node_seconds, const std::vector<std::string>& kernels,
                   int iterations) {
    struct Row {
        double seconds = 0;
        int nodes = 0;
    };
    std::map<std::pair<std::string, std::string>, Row> by_kernel;
    double total = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        Row& row = by_kernel[{g.nodes[i].op, kernels[i]}];
        row.seconds += node_seconds[i];
        ++row.nodes;
        total += node_seconds[i];
    }
    std::vector<std::pair<std::pair<std::string, std::string>, Row>> rows(by_kernel.begin(), by_kernel.end());
    std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.seconds > b.second.seconds; });
    fmt::print("\nprofile (per batch, summed over the nodes of each op and kernel):\n");
    for (const auto& [key, row] : rows)
        fmt::print("  {:<22} {:<40} {:>3} nodes {:>9.3f} ms  {:>5.1f}%\n", key.first, key.second, row.nodes,
                   row.seconds * 1e3 / iterations, 100 * row.seconds / total);
}

// The graph as it ran, each box coloured by its share of the measured time.
void write_profile_view(const Graph& g, const std::vector<double>& node_seconds, const std::vector<std::string>& kernels,
                        const std::string& device, int iterations, const BenchOptions& o) {
    viz::ViewOptions view;
    view.collapse = viz::Collapse::none;
    for (double s : node_seconds) view.node_ms.push_back(s * 1e3 / iterations);
    view.node_kernels = kernels;
    view.title = fmt::format("{} · {}profile at batch {} on {}", g.name, o.train ? "training-step " : "", o.batch, device);
    viz::write_file(o.viz, viz::export_graph(g, view, viz::format_from_path(o.viz)));
}

// Times `run` (warm-up first) until both the iteration and the time minimum are met.
std::vector<double> time_runs(const BenchOptions& o, const std::function<void()>& run, const std::function<void(bool)>& profiling) {
    using Clock = std::chrono::steady_clock;
    for (int i = 0; i < o.warmup; ++i) run();
    profiling(o.profile || !o.viz.empty());
    std::vector<double> ms;
    const auto start = Clock::now();
    while (static_cast<int>(ms.size()) < o.min_iterations ||
           std::chrono::duration<double>(Clock::now() - start).count() < o.min_seconds) {
        const auto t0 = Clock::now();
        run();
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (ms.size() >= 10000) break;
    }
    return ms;
}

void bench(const BenchOptions& o) {
    if (!o.viz.empty()) viz::format_from_path(o.viz);  // a bad name fails before the timing, not after
    auto registry = load_device_registry(o.graph, o.device);
    Graph g = load_graph(o.graph, *registry, o.batch);
    const std::int64_t inference_macs = graph_totals(g).macs;  // as written: passes fold, they don't reduce work
    std::vector<double> ms, node_seconds;
    std::vector<std::string> kernels;  // per node: the kernel that ran it
    std::string passes, device;
    std::size_t memory = 0;
    // A training step costs forward + backward data + backward weights: 3× the forward's
    // multiply-adds is the usual count, used for its GFLOP/s.
    std::int64_t macs = inference_macs;
    if (o.train) {
        const training::LossHead head = training::attach_loss(g, *registry);
        WeightMap weights = init_weights(g, 0);
        const auto reports = run_passes(g, weights, *registry, select_passes(*registry, o.device.passes, true));
        for (const PassReport& r : reports) passes += fmt::format("{}{} ×{}", passes.empty() ? "" : ", ", r.name, r.rewrites);
        if (passes.empty()) passes = "none";
        TrainingExecutor exec(g, *registry, weights, compile_options(o.device), head.loss);
        Optimizer sgd(exec, *registry, OptimizerOptions{});
        std::vector<Tensor> inputs{random_normal(g.values[g.inputs[0]].desc, 1), Tensor(g.values[g.inputs[1]].desc)};
        const std::int64_t classes = exec.make_outputs()[1].numel() / o.batch;
        for (std::int64_t i = 0; i < o.batch; ++i) inputs[1].as<std::int32_t>()[i] = static_cast<std::int32_t>(i % classes);
        std::vector<Tensor> outputs = exec.make_outputs();
        // A small learning rate keeps the random network finite however long the benchmark runs.
        // The update is queued on the device: wait for it, so that each timed step is a whole step.
        const auto step = [&] {
            exec.step(inputs, outputs);
            sgd.step(1e-4f);
            exec.device().synchronize();
        };
        ms = time_runs(o, step, [&](bool on) { exec.set_profiling(on); });
        node_seconds = exec.forward_seconds();
        for (std::size_t i = 0; i < g.nodes.size(); ++i) kernels.push_back(exec.kernel_name(static_cast<int>(i)));
        for (std::size_t i = 0; i < node_seconds.size(); ++i) node_seconds[i] += exec.backward_seconds()[i];
        device = exec.device().description();
        memory = exec.plan().total_bytes();
        macs = 3 * inference_macs;
    } else {
        WeightMap weights = init_weights(g, 0);
        passes = apply_passes(g, weights, *registry, o.device);
        Executor exec(g, *registry, weights, compile_options(o.device));
        std::vector<Tensor> inputs;
        for (int v : g.inputs) inputs.push_back(random_normal(g.values[v].desc, 1));
        std::vector<Tensor> outputs = exec.make_outputs();
        ms = time_runs(o, [&] { exec.run(inputs, outputs); }, [&](bool on) { exec.set_profiling(on); });
        node_seconds = exec.node_seconds();
        for (std::size_t i = 0; i < g.nodes.size(); ++i) kernels.push_back(exec.kernel_name(static_cast<int>(i)));
        device = exec.device().description();
        memory = exec.plan().arena_bytes;
    }
    const int iterations = static_cast<int>(ms.size());
    if (!o.viz.empty()) write_profile_view(g, node_seconds, kernels, device, iterations, o);
    const double median = percentile(ms, 0.5);
    const double ips = double(o.batch) / (median / 1000);
    const double gmacs = double(macs) / (median / 1000) / 1e9;
    if (o.json) {
        nlohmann::json j = {{"graph", g.name},
                            {"mode", o.train ? "train" : "inference"},
                            {"device", device},
                            {"passes", passes},
                            {"batch", o.batch},
                            {"iterations", ms.size()},
                            {"ms_per_batch", median},
                            {"ms_p10", percentile(ms, 0.1)},
                            {"ms_p90", percentile(ms, 0.9)},
                            {"images_per_second", ips},
                            {"gflops", 2 * gmacs},
                            {o.train ? "peak_training_bytes" : "peak_activation_bytes", memory}};
        if (o.profile) {
            nlohmann::json nodes = nlohmann::json::array();
            for (std::size_t i = 0; i < g.nodes.size(); ++i)
                nodes.push_back({{"name", g.nodes[i].name}, {"op", g.nodes[i].op}, {"kernel", kernels[i]},
                                 {"ms", node_seconds[i] * 1e3 / double(ms.size())}});
            j["profile"] = nodes;
        }
        fmt::print("{}\n", j.dump(2));
        return;
    }
    fmt::print("graph {} on {}; {}passes: {}\n", g.name, device, o.train ? "training step (forward, backward, SGD), " : "", passes);
    fmt::print("batch {}: {:.2f} ms per {} (median of {}; p10 {:.2f}, p90 {:.2f}), {:.1f} images/s, {:.1f} GFLOP/s\n",
               o.batch, median, o.train ? "step" : "batch", ms.size(), percentile(ms, 0.1), percentile(ms, 0.9), ips,
               2 * gmacs);
    if (o.profile) print_profile(g, node_seconds, kernels, iterations);
}

}  // namespace

void add_bench_command(CLI::App& app) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App* cmd = app.add_subcommand("bench", "steady-state throughput (median time per batch, images/s)");
    add_graph_options(*cmd, o->graph);
    add_device_options(*cmd, o->device);
    cmd->add_option("--batch", o->batch, "batch size")->check(CLI::Range(1, 1 << 20))->capture_default_str();
    cmd->add_option("--warmup", o->warmup, "untimed runs first")->check(CLI::NonNegativeNumber)->capture_default_str();
    cmd->add_option("--iterations", o->min_iterations, "at least this many timed runs")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--seconds", o->min_seconds, "and at least this long")->check(CLI::NonNegativeNumber)->capture_default_str();
    cmd->add_flag("--json", o->json, "machine-readable output (ms_per_batch, images_per_second, ...)");
    cmd->add_flag("--profile", o->profile, "per-operator time breakdown");
    cmd->add_flag("--train", o->train, "time a whole training step: forward, backward and the SGD update");
    cmd->add_option("--viz", o->viz, "write the graph coloured by measured time (svg, png, dot, html, json)");
    cmd->callback([o] { bench(*o); });
}

}  // namespace weft::runner
