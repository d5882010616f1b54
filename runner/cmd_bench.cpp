// weft bench: steady-state throughput of a compiled graph, with an optional per-operator profile;
// every time it reports is a median over the timed runs with its spread (p10, p90).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"
#include "weft/optimizer.h"
#include "weft/report/progress.h"
#include "weft/training.h"
#include "weft/training/model.h"
#include "weft/viz/viz.h"
#include "written_file.h"

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
    bool quiet = false;  // no progress on stderr
    std::string viz;  // --viz FILE: the graph coloured by measured time
};

constexpr std::size_t kMaxRuns = 10000;  // a bound on the timed runs however short they are

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * double(v.size() - 1) + 0.5));
    return v[i];
}

// A time over the timed runs: the median and, for its spread, the 10th and 90th percentiles.
struct Spread {
    double median = 0, p10 = 0, p90 = 0;
};

Spread spread_of(const std::vector<double>& ms) {
    if (ms.empty()) return {};
    return {percentile(ms, 0.5), percentile(ms, 0.1), percentile(ms, 0.9)};
}

nlohmann::json spread_json(const Spread& s) { return {{"ms", s.median}, {"ms_p10", s.p10}, {"ms_p90", s.p90}}; }

// What the timed runs measured: each run's milliseconds and, when profiling, each node's
// milliseconds in each run.
struct Timings {
    std::vector<double> ms;
    std::vector<std::vector<double>> node_ms;  // [run][node]

    // One node's (or, summed over `nodes`, several nodes') milliseconds in every run.
    std::vector<double> per_run(const std::vector<std::size_t>& nodes) const {
        std::vector<double> out;
        for (const auto& run : node_ms) {
            double sum = 0;
            for (std::size_t n : nodes) sum += run[n];
            out.push_back(sum);
        }
        return out;
    }
};

// Per op and the kernel that really ran its nodes (one op may run on several kernels: the
// small-groups convolution takes IGC's primary convolutions, oneDNN the stem). Like the headline,
// each row is a median over the timed runs (of the row's nodes summed per run) with its spread.
struct ProfileRow {
    std::string op, kernel;
    std::vector<std::size_t> nodes;
    Spread ms;
};

std::vector<ProfileRow> profile_rows(const Graph& g, const std::vector<std::string>& kernels, const Timings& t) {
    std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> by_kernel;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) by_kernel[{g.nodes[i].op, kernels[i]}].push_back(i);
    std::vector<ProfileRow> rows;
    for (const auto& [key, nodes] : by_kernel) rows.push_back({key.first, key.second, nodes, spread_of(t.per_run(nodes))});
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.ms.median > b.ms.median; });
    return rows;
}

double median_total(const std::vector<ProfileRow>& rows) {
    double total = 0;
    for (const ProfileRow& row : rows) total += row.ms.median;
    return total;
}

void print_profile(const std::vector<ProfileRow>& rows, std::size_t runs) {
    const double total = median_total(rows);
    std::size_t op_width = 2, kernel_width = 6;
    for (const ProfileRow& row : rows) op_width = std::max(op_width, row.op.size()), kernel_width = std::max(kernel_width, row.kernel.size());
    fmt::print("\nprofile (ms per batch, median of {} runs with p10 and p90; each op and kernel's nodes summed per run):\n",
               runs);
    for (const ProfileRow& row : rows)
        fmt::print("  {:<{}}  {:<{}}  {:>3} nodes {:>9.3f} ms  p10 {:>8.3f}  p90 {:>8.3f}  {:>5.1f}%\n", row.op, op_width,
                   row.kernel, kernel_width, row.nodes.size(), row.ms.median, row.ms.p10, row.ms.p90,
                   total > 0 ? 100 * row.ms.median / total : 0.0);
}

nlohmann::json profile_json(const Graph& g, const std::vector<std::string>& kernels, const Timings& t,
                            const std::vector<ProfileRow>& rows) {
    nlohmann::json nodes = nlohmann::json::array(), ops = nlohmann::json::array();
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        nlohmann::json node = {{"name", g.nodes[i].name}, {"op", g.nodes[i].op}, {"kernel", kernels[i]}};
        node.update(spread_json(spread_of(t.per_run({i}))));
        nodes.push_back(node);
    }
    const double total = median_total(rows);
    for (const ProfileRow& row : rows) {
        nlohmann::json op = {{"op", row.op}, {"kernel", row.kernel}, {"nodes", row.nodes.size()},
                             {"share", total > 0 ? row.ms.median / total : 0.0}};
        op.update(spread_json(row.ms));
        ops.push_back(op);
    }
    return {{"profile", nodes}, {"profile_ops", ops}};
}

// The graph as it ran, each box coloured by its median time.
WrittenFile write_profile_view(const Graph& g, const Timings& t, const std::vector<std::string>& kernels,
                               const std::string& device, const BenchOptions& o) {
    viz::ViewOptions view;
    view.collapse = viz::Collapse::none;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) view.node_ms.push_back(spread_of(t.per_run({i})).median);
    view.node_kernels = kernels;
    view.title = fmt::format("{} · {}profile at batch {} on {}", g.name, o.train ? "training-step " : "", o.batch, device);
    const viz::Format format = viz::format_from_path(o.viz);
    const std::string content = viz::export_graph(g, view, format);
    viz::write_file(o.viz, content);
    return {o.viz, std::string(viz::format_name(format)), content.size()};
}

// How many timed runs both minimums will take, judged from the mean run so far.
std::int64_t expected_runs(const BenchOptions& o, std::size_t done, double elapsed_s) {
    const double mean_s = done ? elapsed_s / double(done) : 0;
    const double more_for_time = mean_s > 0 ? std::ceil(std::max(0.0, o.min_seconds - elapsed_s) / mean_s) : 0;
    return std::min<std::int64_t>(kMaxRuns, std::max<std::int64_t>(o.min_iterations, std::int64_t(done + more_for_time)));
}

// Times `run` (warm-up first) until both the iteration and the time minimum are met, showing
// progress on stderr. `node_seconds` reads the executor's per-node totals while profiling.
Timings time_runs(const BenchOptions& o, const std::function<void()>& run, const std::function<void(bool)>& profiling,
                  const std::function<std::vector<double>()>& node_seconds) {
    using Clock = std::chrono::steady_clock;
    std::FILE* progress = o.quiet ? nullptr : stderr;
    if (o.warmup > 0) {
        report::ProgressBar warm("warm-up", o.warmup, "runs", progress);
        for (int i = 0; i < o.warmup; ++i) run(), warm.update(i + 1);
        warm.finish();
    }
    const bool profile = o.profile || !o.viz.empty();
    profiling(profile);
    Timings t;
    std::vector<double> before = profile ? node_seconds() : std::vector<double>{};
    report::ProgressBar bar("timing", o.min_iterations, "runs", progress);
    const auto start = Clock::now();
    const auto seconds_since_start = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    while (static_cast<int>(t.ms.size()) < o.min_iterations || seconds_since_start() < o.min_seconds) {
        const auto t0 = Clock::now();
        run();
        t.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (profile) {
            std::vector<double> now = node_seconds();
            std::vector<double>& run_ms = t.node_ms.emplace_back(now.size());
            for (std::size_t n = 0; n < now.size(); ++n) run_ms[n] = (now[n] - before[n]) * 1e3;
            before = std::move(now);
        }
        bar.set_total(expected_runs(o, t.ms.size(), seconds_since_start()));
        bar.update(static_cast<std::int64_t>(t.ms.size()), {{"median", fmt::format("{:.2f} ms", percentile(t.ms, 0.5))}});
        if (t.ms.size() >= kMaxRuns) break;
    }
    bar.finish({{"median", fmt::format("{:.2f} ms", percentile(t.ms, 0.5))}});
    return t;
}

void bench(const BenchOptions& o) {
    if (!o.viz.empty()) viz::format_from_path(o.viz);  // a bad name fails before the timing, not after
    auto registry = load_device_registry(o.graph, o.device);
    Graph g = load_graph(o.graph, *registry, o.batch);
    const std::int64_t inference_macs = graph_totals(g).macs;  // as written: passes fold, they don't reduce work
    Timings t;
    std::vector<std::string> kernels;  // per node: the kernel that ran it
    std::string passes, device;
    std::size_t memory = 0;
    int lanes = 0;                // inference: sample-parallel lanes (0: the whole batch at once)
    std::int64_t slice = 0;
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
        const auto forward_and_backward = [&] {
            std::vector<double> seconds = exec.forward_seconds();
            for (std::size_t i = 0; i < seconds.size(); ++i) seconds[i] += exec.backward_seconds()[i];
            return seconds;
        };
        // A small learning rate keeps the random network finite however long the benchmark runs.
        // The update is queued on the device: wait for it, so that each timed step is a whole step.
        const auto step = [&] {
            exec.step(inputs, outputs);
            sgd.step(1e-4f);
            exec.device().synchronize();
        };
        t = time_runs(o, step, [&](bool on) { exec.set_profiling(on); }, forward_and_backward);
        for (std::size_t i = 0; i < g.nodes.size(); ++i) kernels.push_back(exec.kernel_name(static_cast<int>(i)));
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
        t = time_runs(o, [&] { exec.run(inputs, outputs); }, [&](bool on) { exec.set_profiling(on); },
                      [&] { return exec.node_seconds(); });
        for (std::size_t i = 0; i < g.nodes.size(); ++i) kernels.push_back(exec.kernel_name(static_cast<int>(i)));
        device = describe_executor(exec);
        memory = exec.plan().arena_bytes;
        lanes = exec.lanes();
        slice = exec.samples_per_slice();
    }
    std::optional<WrittenFile> picture;
    if (!o.viz.empty()) picture = write_profile_view(g, t, kernels, device, o);
    const Spread headline = spread_of(t.ms);
    const double ips = double(o.batch) / (headline.median / 1000);
    const double gmacs = double(macs) / (headline.median / 1000) / 1e9;
    const std::vector<ProfileRow> rows = o.profile ? profile_rows(g, kernels, t) : std::vector<ProfileRow>{};
    if (o.json) {
        nlohmann::json j = {{"graph", g.name},
                            {"mode", o.train ? "train" : "inference"},
                            {"device", device},
                            {"passes", passes},
                            {"batch", o.batch},
                            {"iterations", t.ms.size()},
                            {"ms_per_batch", headline.median},
                            {"ms_p10", headline.p10},
                            {"ms_p90", headline.p90},
                            {"images_per_second", ips},
                            {"gflops", 2 * gmacs},
                            {o.train ? "peak_training_bytes" : "peak_activation_bytes", memory}};
        if (!o.train) j.update({{"lanes", lanes}, {"samples_per_slice", slice}});
        if (o.profile) j.update(profile_json(g, kernels, t, rows));
        if (picture) j["viz"] = picture->json();
        fmt::print("{}\n", j.dump(2));
        return;
    }
    fmt::print("graph {} on {}; {}passes: {}\n", g.name, device, o.train ? "training step (forward, backward, SGD), " : "", passes);
    fmt::print("batch {}: {:.2f} ms per {} (median of {}; p10 {:.2f}, p90 {:.2f}), {:.1f} images/s, {:.1f} GFLOP/s\n",
               o.batch, headline.median, o.train ? "step" : "batch", t.ms.size(), headline.p10, headline.p90, ips,
               2 * gmacs);
    if (o.profile) print_profile(rows, t.ms.size());
    if (picture) fmt::print("{}\n", picture->line());
}

}  // namespace

void add_bench_command(CLI::App& app) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App* cmd = app.add_subcommand("bench", "steady-state throughput (median time per batch, images/s)");
    add_graph_options(*cmd, o->graph);
    add_device_options(*cmd, o->device);
    add_numerics_option(*cmd, o->device);
    cmd->add_option("--batch", o->batch, "batch size")->check(CLI::Range(1, 1 << 20))->capture_default_str();
    cmd->add_option("--warmup", o->warmup, "untimed runs first")->check(CLI::NonNegativeNumber)->capture_default_str();
    cmd->add_option("--iterations", o->min_iterations, "at least this many timed runs")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--seconds", o->min_seconds, "and at least this long")->check(CLI::NonNegativeNumber)->capture_default_str();
    cmd->add_flag("--json", o->json, "machine-readable output (ms_per_batch, images_per_second, ...)");
    cmd->add_flag("--profile", o->profile, "per-operator and per-node times (median, p10, p90 over the runs)");
    cmd->add_flag("--train", o->train, "time a whole training step: forward, backward and the SGD update");
    cmd->add_option("--viz", o->viz, "write the graph coloured by measured time (svg, png, dot, html, json)");
    cmd->add_flag("--quiet", o->quiet, "no progress on stderr");
    cmd->callback([o] { bench(*o); });
}

}  // namespace weft::runner
