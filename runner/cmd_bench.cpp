// weft bench: steady-state throughput of a compiled graph, with an optional per-operator profile.
#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"
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
    std::string viz;  // --viz FILE: the graph coloured by measured time
};

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * double(v.size() - 1) + 0.5));
    return v[i];
}

void print_profile(const Graph& g, const Executor& exec, int iterations) {
    std::map<std::string, double> by_op;
    double total = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        by_op[g.nodes[i].op] += exec.node_seconds()[i];
        total += exec.node_seconds()[i];
    }
    std::vector<std::pair<std::string, double>> rows(by_op.begin(), by_op.end());
    std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second > b.second; });
    fmt::print("\nprofile (per batch, summed over nodes of each op):\n");
    for (const auto& [op, s] : rows)
        fmt::print("  {:<16} {:>9.3f} ms  {:>5.1f}%\n", op, s * 1e3 / iterations, 100 * s / total);
}

// The graph as it ran, each box coloured by its share of the measured time.
void write_profile_view(const Graph& g, Executor& exec, int iterations, const BenchOptions& o) {
    viz::ViewOptions view;
    view.collapse = viz::Collapse::none;
    for (double s : exec.node_seconds()) view.node_ms.push_back(s * 1e3 / iterations);
    view.title = fmt::format("{} · profile at batch {} on {}", g.name, o.batch, exec.device().description());
    viz::write_file(o.viz, viz::export_graph(g, view, viz::format_from_path(o.viz)));
}

void bench(const BenchOptions& o) {
    using Clock = std::chrono::steady_clock;
    if (!o.viz.empty()) viz::format_from_path(o.viz);  // a bad name fails before the timing, not after
    auto registry = load_registry(o.graph);
    Graph g = load_graph(o.graph, *registry, o.batch);
    WeightMap weights = init_weights(g, 0);
    const std::int64_t macs = graph_totals(g).macs;  // as written: passes fold, they don't reduce work
    const std::string passes = apply_passes(g, weights, *registry, o.device);
    Executor exec(g, *registry, weights, compile_options(o.device));
    std::vector<Tensor> inputs;
    for (int v : g.inputs) inputs.push_back(random_normal(g.values[v].desc, 1));
    std::vector<Tensor> outputs = exec.make_outputs();
    for (int i = 0; i < o.warmup; ++i) exec.run(inputs, outputs);

    exec.set_profiling(o.profile || !o.viz.empty());
    std::vector<double> ms;
    const auto start = Clock::now();
    while (static_cast<int>(ms.size()) < o.min_iterations ||
           std::chrono::duration<double>(Clock::now() - start).count() < o.min_seconds) {
        const auto t0 = Clock::now();
        exec.run(inputs, outputs);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (ms.size() >= 10000) break;
    }
    if (!o.viz.empty()) write_profile_view(g, exec, static_cast<int>(ms.size()), o);
    const double median = percentile(ms, 0.5);
    const double ips = double(o.batch) / (median / 1000);
    const double gmacs = double(macs) / (median / 1000) / 1e9;
    if (o.json) {
        nlohmann::json j = {{"graph", g.name},
                            {"device", exec.device().description()},
                            {"passes", passes},
                            {"batch", o.batch},
                            {"iterations", ms.size()},
                            {"ms_per_batch", median},
                            {"ms_p10", percentile(ms, 0.1)},
                            {"ms_p90", percentile(ms, 0.9)},
                            {"images_per_second", ips},
                            {"gflops", 2 * gmacs},
                            {"peak_activation_bytes", exec.plan().arena_bytes}};
        if (o.profile) {
            nlohmann::json nodes = nlohmann::json::array();
            for (std::size_t i = 0; i < g.nodes.size(); ++i)
                nodes.push_back({{"name", g.nodes[i].name}, {"op", g.nodes[i].op},
                                 {"ms", exec.node_seconds()[i] * 1e3 / double(ms.size())}});
            j["profile"] = nodes;
        }
        fmt::print("{}\n", j.dump(2));
        return;
    }
    fmt::print("graph {} on {}; passes: {}\n", g.name, exec.device().description(), passes);
    fmt::print("batch {}: {:.2f} ms per batch (median of {}; p10 {:.2f}, p90 {:.2f}), {:.1f} images/s, {:.1f} GFLOP/s\n",
               o.batch, median, ms.size(), percentile(ms, 0.1), percentile(ms, 0.9), ips, 2 * gmacs);
    if (o.profile) print_profile(g, exec, static_cast<int>(ms.size()));
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
    cmd->add_option("--viz", o->viz, "write the graph coloured by measured time (svg, png, dot, html, json)");
    cmd->callback([o] { bench(*o); });
}

}  // namespace weft::runner
