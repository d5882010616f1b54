// weft stats: per-node shapes, parameters and multiply-adds, stage subtotals, the width and
// partitions of every block, and the planned peak activation memory — the paper's Table 3
// numbers, computed from the graph.
#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"
#include "weft/training.h"
#include "weft/training/model.h"

namespace weft::runner {
namespace {

struct StatsOptions {
    GraphOptions graph;
    std::int64_t batch = 1;
    bool json = false;
    bool train = false;
    DeviceChoice device;
};

// The training step's memory as TrainingExecutor plans it (kernels are created for their saved
// state and scratch sizes, so the figure is the one `weft train` will use).
nlohmann::json training_memory(const Graph& inference, const Registry& registry, const DeviceChoice& device) {
    Graph g = inference;
    const training::LossHead head = training::attach_loss(g, registry);
    WeightMap weights = init_weights(g, 0);
    run_passes(g, weights, registry, select_passes(registry, device.passes, true));
    TrainingExecutor exec(g, registry, weights, compile_options(device), head.loss);
    const TrainingPlan& p = exec.plan();
    return {{"peak_bytes", p.total_bytes()},
            {"arena_bytes", p.arena_bytes},
            {"activation_bytes_unplanned", p.activation_bytes},
            {"gradient_bytes_unplanned", p.gradient_bytes},
            {"saved_bytes", p.saved_bytes},
            {"param_bytes", p.param_bytes},
            {"param_grad_bytes", p.param_grad_bytes},
            {"optimizer_bytes", p.optimizer_bytes},
            {"workspace_bytes", p.workspace_bytes}};
}

void print_training_memory(const nlohmann::json& m, std::int64_t batch) {
    auto b = [&](const char* k) { return human_bytes(m[k].get<double>()); };
    fmt::print("planned training step at batch {}: {} in all\n", batch, b("peak_bytes"));
    fmt::print("  activations, gradients and saved state, placed by liveness: {} (kept whole they would take {} + {} + {})\n",
               b("arena_bytes"), b("activation_bytes_unplanned"), b("gradient_bytes_unplanned"), b("saved_bytes"));
    fmt::print("  parameters {}, their gradients {}, momentum {}, shared kernel scratch {}\n",
               b("param_bytes"), b("param_grad_bytes"), b("optimizer_bytes"), b("workspace_bytes"));
}

std::int64_t node_params(const Node& n) {
    std::int64_t p = 0;
    for (const ParamSpec& s : n.params)
        if (s.counted) p += s.desc.numel();
    return p;
}

std::string stage_of(const Node& n) { return n.scope.empty() ? std::string{} : n.scope.front().name; }

// One instance of a block template holding a convolution (an IGC, GPC or RegConv block, a
// projection): its width is its output channels; L the groups of its first convolution (the
// primary partitions); M the groups of the convolution after its first channel permutation (the
// secondary partitions), or without a permutation width / L (channels per partition, as Table 8
// names it); 0 where not applicable (a regular convolution).
struct BlockSummary {
    std::string instance;  // dotted path, e.g. stage2.block0
    std::string block;     // template, e.g. igc_block
    std::int64_t width = 0;
    std::int64_t L = 0;
    std::int64_t M = 0;
    std::int64_t params = 0;
};

// What the schema says about a node's op (OpTraits), never its name.
const OpTraits& traits_of(const Registry& registry, const Node& n) {
    static const OpTraits none;
    const OpSchema* schema = registry.find_op(n.op);
    return schema ? schema->traits : none;
}

std::vector<BlockSummary> block_summaries(const Graph& g, const Registry& registry, const BufferPlan& plan) {
    std::vector<BlockSummary> blocks;
    std::map<std::string, std::size_t> index;
    std::map<std::string, bool> permuted, has_conv;
    for (int i : plan.order) {
        const Node& n = g.nodes[i];
        std::size_t depth = n.scope.size();
        while (depth > 0 && n.scope[depth - 1].block.empty()) --depth;  // innermost template instance
        if (depth == 0) continue;
        std::string path;
        for (std::size_t d = 0; d < depth; ++d) path += (d ? "." : "") + n.scope[d].name;
        auto [it, fresh] = index.emplace(path, blocks.size());
        if (fresh) blocks.push_back({path, n.scope[depth - 1].block});
        BlockSummary& b = blocks[it->second];
        b.params += node_params(n);
        b.width = g.values[n.outputs[0]].desc.shape.size() > 1 ? g.values[n.outputs[0]].desc.shape[1] : 0;
        const OpTraits& traits = traits_of(registry, n);
        if (traits.channel_permutation) permuted[path] = true;
        if (!traits.convolution) continue;
        const std::int64_t groups = n.attrs.has("groups") ? n.attrs.get_int("groups") : 1;
        if (!has_conv[path]) b.L = groups;
        else if (permuted[path] && b.M == 0) b.M = groups;
        has_conv[path] = true;
    }
    std::erase_if(blocks, [&](const BlockSummary& b) { return !has_conv[b.instance]; });
    for (BlockSummary& b : blocks) {
        if (b.M == 0 && b.L > 1 && b.width % b.L == 0) b.M = b.width / b.L;
        if (b.L == 1 && b.M == 0) b.L = 0;
    }
    return blocks;
}

// Consecutive instances of one template with equal width, L, M and params share a line:
// "stage1.block0 .. block5 ×6".
void print_blocks(const std::vector<BlockSummary>& blocks) {
    struct Run {
        const BlockSummary* first;
        const BlockSummary* last;
        int count;
    };
    std::vector<Run> runs;
    for (const BlockSummary& b : blocks) {
        if (!runs.empty()) {
            const BlockSummary& p = *runs.back().last;
            if (p.block == b.block && p.width == b.width && p.L == b.L && p.M == b.M && p.params == b.params) {
                runs.back().last = &b;
                ++runs.back().count;
                continue;
            }
        }
        runs.push_back({&b, &b, 1});
    }
    const auto label = [](const Run& r) {
        if (r.count == 1) return r.first->instance;
        const std::string& last = r.last->instance;
        const std::size_t dot = last.rfind('.');
        return fmt::format("{} .. {}", r.first->instance, dot == std::string::npos ? last : last.substr(dot + 1));
    };
    std::size_t name_w = 5, block_w = 8;
    for (const Run& r : runs) name_w = std::max(name_w, label(r).size()), block_w = std::max(block_w, r.first->block.size());
    const auto dash = [](std::int64_t v) { return v ? std::to_string(v) : std::string("-"); };
    fmt::print("\nblocks: width = output channels; L = primary groups; M = secondary groups (channels per partition "
               "where nothing is permuted)\n");
    fmt::print("{:<{}}  {:<{}} {:>4} {:>6} {:>5} {:>5} {:>12}\n", "block", name_w, "template", block_w, "×", "width",
               "L", "M", "params each");
    for (const Run& r : runs)
        fmt::print("{:<{}}  {:<{}} {:>4} {:>6} {:>5} {:>5} {:>12}\n", label(r), name_w, r.first->block, block_w, r.count,
                   r.first->width, dash(r.first->L), dash(r.first->M), r.first->params);
}

void print_table(const Graph& g, const Registry& registry, const BufferPlan& plan) {
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
    print_blocks(block_summaries(g, registry, plan));
    fmt::print("\n#params (conv + fc, as the paper counts): {} ({:.3f}M); all parameters incl. batch norm: {}\n",
               t.params, t.params / 1e6, t.all_params);
    fmt::print("multiply-adds per image: {} ({:.3f}×10⁸)\n", t.macs / batch, double(t.macs / batch) / 1e8);
    fmt::print("planned peak activation memory at batch {}: {} (largest single tensor {})\n", batch,
               human_bytes(double(plan.arena_bytes)), human_bytes(double(plan.largest_value_bytes)));
}

nlohmann::json stats_json(const Graph& g, const Registry& registry, const BufferPlan& plan) {
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
    nlohmann::json blocks = nlohmann::json::array();
    for (const BlockSummary& b : block_summaries(g, registry, plan))
        blocks.push_back({{"name", b.instance}, {"block", b.block}, {"width", b.width}, {"L", b.L}, {"M", b.M},
                          {"params", b.params}});
    return {{"graph", g.name},
            {"batch", batch},
            {"params", t.params},
            {"all_params", t.all_params},
            {"macs", t.macs / batch},
            {"peak_activation_bytes", plan.arena_bytes},
            {"largest_activation_bytes", plan.largest_value_bytes},
            {"nodes", nodes},
            {"blocks", blocks}};
}

}  // namespace

void add_stats_command(CLI::App& app) {
    auto o = std::make_shared<StatsOptions>();
    CLI::App* cmd = app.add_subcommand("stats", "per-node shapes, #params, multiply-adds and planned memory");
    add_graph_options(*cmd, o->graph);
    cmd->add_option("--batch", o->batch, "batch size for the memory plan (counts are per image)")
        ->check(CLI::Range(1, 1 << 20))->capture_default_str();
    cmd->add_flag("--json", o->json, "machine-readable output");
    cmd->add_flag("--train", o->train, "also plan a training step (softmax cross-entropy, SGD) and report its memory");
    add_device_options(*cmd, o->device);
    cmd->callback([o] {
        // The device matters only to the training step's plan (its kernels' scratch and state).
        auto registry = o->train ? load_device_registry(o->graph, o->device) : load_registry(o->graph);
        Graph g = load_graph(o->graph, *registry, o->batch);
        const BufferPlan plan = plan_buffers(g, *registry);
        const nlohmann::json training = o->train ? training_memory(g, *registry, o->device) : nlohmann::json();
        if (o->json) {
            nlohmann::json j = stats_json(g, *registry, plan);
            if (o->train) j["training"] = training;
            fmt::print("{}\n", j.dump(2));
        } else {
            print_table(g, *registry, plan);
            if (o->train) print_training_memory(training, o->batch);
        }
    });
}

}  // namespace weft::runner
