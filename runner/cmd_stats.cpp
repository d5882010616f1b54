// weft stats: per-node shapes, parameters and multiply-adds, stage subtotals, and the planned
// peak activation memory — the paper's Table 3 numbers, computed from the graph.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"

namespace weft::runner {
namespace {

struct StatsOptions {
    GraphOptions graph;
    std::int64_t batch = 1;
    bool json = false;
};

std::int64_t node_params(const Node& n) {
    std::int64_t p = 0;
    for (const ParamSpec& s : n.params)
        if (s.counted) p += s.desc.numel();
    return p;
}

std::string stage_of(const Node& n) { return n.scope.empty() ? std::string{} : n.scope.front().name; }

void print_table(const Graph& g, const BufferPlan& plan) {
    const std::int64_t batch = g.batch();
    std::size_t name_w = 4;
    for (const Node& n : g.nodes) name_w = std::max(name_w, n.name.size());
    const auto row = [&](const std::string& name, const std::string& op, const std::string& shape,
                         const std::string& params, const std::string& macs) {
        fmt::print("{:<{}}  {:<15} {:<22} {:>11} {:>14}\n", name, name_w, op, shape, params, macs);
    };
    row("node", "op", "output shape", "params", "mult-adds");
    fmt::print("{}\n", std::string(name_w + 68, '-'));
    std::int64_t stage_params = 0, stage_macs = 0;
    for (std::size_t i = 0; i < plan.order.size(); ++i) {
        const Node& n = g.nodes[plan.order[i]];
        row(n.name, n.op, shape_str(g.values[n.outputs[0]].desc.shape), fmt::format("{}", node_params(n)),
            fmt::format("{}", n.macs / batch));
        stage_params += node_params(n);
        stage_macs += n.macs / batch;
        const bool stage_ends = i + 1 == plan.order.size() || stage_of(g.nodes[plan.order[i + 1]]) != stage_of(n);
        if (stage_ends && !stage_of(n).empty()) {
            row(fmt::format("  subtotal {}", stage_of(n)), "", "", fmt::format("{}", stage_params),
                fmt::format("{}", stage_macs));
        }
        if (stage_ends) stage_params = stage_macs = 0;
    }
    const auto t = graph_totals(g);
    fmt::print("{}\n", std::string(name_w + 68, '-'));
    row("total", "", "", fmt::format("{}", t.params), fmt::format("{}", t.macs / batch));
    fmt::print("\n#params (conv + fc, as the paper counts): {} ({:.3f}M); all parameters incl. batch norm: {}\n",
               t.params, t.params / 1e6, t.all_params);
    fmt::print("multiply-adds per image: {} ({:.3f}×10⁸)\n", t.macs / batch, double(t.macs / batch) / 1e8);
    fmt::print("planned peak activation memory at batch {}: {} (largest single tensor {})\n", batch,
               human_bytes(double(plan.arena_bytes)), human_bytes(double(plan.largest_value_bytes)));
}

nlohmann::json stats_json(const Graph& g, const BufferPlan& plan) {
    const std::int64_t batch = g.batch();
    const auto t = graph_totals(g);
    nlohmann::json nodes = nlohmann::json::array();
    for (int i : plan.order) {
        const Node& n = g.nodes[i];
        nlohmann::json scope = nlohmann::json::array();
        for (const ScopeEntry& s : n.scope) scope.push_back({{"name", s.name}, {"block", s.block}});
        nodes.push_back({{"name", n.name},
                         {"op", n.op},
                         {"output_shape", g.values[n.outputs[0]].desc.shape},
                         {"params", node_params(n)},
                         {"macs", n.macs / batch},
                         {"scope", scope}});
    }
    return {{"graph", g.name},
            {"batch", batch},
            {"params", t.params},
            {"all_params", t.all_params},
            {"macs", t.macs / batch},
            {"peak_activation_bytes", plan.arena_bytes},
            {"largest_activation_bytes", plan.largest_value_bytes},
            {"nodes", nodes}};
}

}  // namespace

void add_stats_command(CLI::App& app) {
    auto o = std::make_shared<StatsOptions>();
    CLI::App* cmd = app.add_subcommand("stats", "per-node shapes, #params, multiply-adds and planned memory");
    add_graph_options(*cmd, o->graph);
    cmd->add_option("--batch", o->batch, "batch size for the memory plan (counts are per image)")
        ->check(CLI::Range(1, 1 << 20))->capture_default_str();
    cmd->add_flag("--json", o->json, "machine-readable output");
    cmd->callback([o] {
        auto registry = load_registry(o->graph);
        Graph g = load_graph(o->graph, *registry, o->batch);
        const BufferPlan plan = plan_buffers(g, *registry);
        if (o->json)
            fmt::print("{}\n", stats_json(g, plan).dump(2));
        else
            print_table(g, plan);
    });
}

}  // namespace weft::runner
