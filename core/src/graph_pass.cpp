// Running plugin-provided graph passes, and the graph edits they share.
#include "weft/graph_pass.h"

#include <algorithm>
#include <limits>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "exception_text.h"
#include "weft/registry.h"

namespace weft {

std::vector<const GraphPass*> select_passes(const Registry& registry, const std::string& selection, bool training) {
    std::vector<const GraphPass*> all;
    for (const GraphPass* p : registry.passes())
        if (!(training && p->inference_only)) all.push_back(p);
    if (selection.empty() || selection == "default" || selection == "all") return all;
    if (selection == "none") return {};

    std::vector<std::string> items;
    std::stringstream ss(selection);
    for (std::string item; std::getline(ss, item, ',');)
        if (!item.empty()) items.push_back(item);
    const bool subtractive = std::all_of(items.begin(), items.end(), [](const std::string& s) { return s[0] == '-'; });
    std::set<std::string> chosen;
    if (subtractive)
        for (const GraphPass* p : all) chosen.insert(p->name);
    for (const std::string& item : items) {
        const bool remove = item[0] == '-';
        const std::string name = remove ? item.substr(1) : item;
        const bool known = std::any_of(all.begin(), all.end(), [&](const GraphPass* p) { return p->name == name; });
        if (!known) {
            std::vector<std::string> names;
            for (const GraphPass* p : all) names.push_back(p->name);
            throw Error(fmt::format("--passes: unknown pass '{}' (available{}: {})", name,
                                    training ? " when training" : "",
                                    names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
        }
        if (remove)
            chosen.erase(name);
        else
            chosen.insert(name);
    }
    std::vector<const GraphPass*> out;
    for (const GraphPass* p : all)
        if (chosen.count(p->name)) out.push_back(p);
    return out;
}

std::vector<PassReport> run_passes(Graph& graph, WeightMap& weights, const Registry& registry,
                                   const std::vector<const GraphPass*>& passes) {
    std::vector<PassReport> reports;
    for (const GraphPass* pass : passes) {
        PassContext context{graph, weights, registry};
        int rewrites = 0;
        try {
            rewrites = pass->run(context);
            remove_dead_nodes(graph, &weights);
            infer_shapes(graph, registry);
        } catch (...) {
            throw Error(fmt::format("graph pass '{}' ({}) failed: {}", pass->name,
                                    registry.pass_library(pass->name).filename().string(),
                                    detail::current_exception_text()));
        }
        reports.push_back({pass->name, rewrites});
    }
    return reports;
}

int rewrite_each(PassContext& context, std::string_view op, const std::function<bool(PassContext&, int)>& rewrite) {
    int rewrites = 0;
    for (std::size_t n = 0; n < context.graph.nodes.size(); ++n)
        if (context.graph.nodes[n].op == op && rewrite(context, static_cast<int>(n))) ++rewrites;
    return rewrites;
}

int rewrite_each(PassContext& context, const std::function<bool(const OpSchema&)>& which,
                 const std::function<bool(PassContext&, int)>& rewrite) {
    int rewrites = 0;
    for (std::size_t n = 0; n < context.graph.nodes.size(); ++n) {
        const OpSchema* schema = context.registry.find_op(context.graph.nodes[n].op);
        if (schema && which(*schema) && rewrite(context, static_cast<int>(n))) ++rewrites;
    }
    return rewrites;
}

bool op_has_attribute(const Registry& registry, std::string_view op, std::string_view name, AttrType type) {
    const OpSchema* schema = registry.find_op(op);
    if (!schema) return false;
    return std::any_of(schema->attrs.begin(), schema->attrs.end(),
                       [&](const AttrSpec& a) { return a.name == name && a.type == type; });
}

bool every_usable_backend(const Registry& registry,
                          const std::function<bool(const std::string& backend)>& has_kernel) {
    bool any = false;
    for (const std::string& backend : registry.backend_names()) {
        try {
            registry.require_backend(backend);
        } catch (const Error&) {
            continue;  // not on this machine (a CUDA build without a GPU)
        }
        if (!has_kernel(backend)) return false;
        any = true;
    }
    return any;
}

namespace {

ValueReaders& current_readers(PassContext& context) {
    if (!context.readers.describes(context.graph)) context.reindex();
    return context.readers;
}

}  // namespace

void replace_uses(PassContext& context, int from, int to) { current_readers(context).replace_uses(context.graph, from, to); }

std::vector<int> readers_of(PassContext& context, int v) { return current_readers(context).nodes_reading(v); }

int uses_of(PassContext& context, int v) { return current_readers(context).uses(v); }

GraphPass dead_node_pass() {
    GraphPass pass;
    pass.name = "eliminate_dead_nodes";
    pass.doc = "remove nodes no graph output depends on (and their weights), before any other pass";
    pass.order = std::numeric_limits<int>::min();
    pass.inference_only = false;
    pass.run = [](PassContext& c) { return remove_dead_nodes(c.graph, &c.weights); };
    return pass;
}

int remove_dead_nodes(Graph& graph, WeightMap* weights) {
    const int n_nodes = static_cast<int>(graph.nodes.size());
    std::vector<bool> dead(n_nodes, false);
    // Mark from the outputs backwards: a node is live if a graph output depends on it.
    std::vector<bool> live_value(graph.values.size(), false);
    std::vector<int> stack(graph.outputs.begin(), graph.outputs.end());
    while (!stack.empty()) {
        const int v = stack.back();
        stack.pop_back();
        if (live_value[v]) continue;
        live_value[v] = true;
        if (const int p = graph.values[v].producer; p >= 0)
            for (int in : graph.nodes[p].inputs) stack.push_back(in);
    }
    int removed = 0;
    for (int n = 0; n < n_nodes; ++n) {
        const auto& outs = graph.nodes[n].outputs;
        dead[n] = std::none_of(outs.begin(), outs.end(), [&](int v) { return live_value[v]; });
        removed += dead[n];
    }
    if (removed == 0) return 0;

    std::vector<int> node_map(n_nodes, -1), value_map(graph.values.size(), -1);
    std::vector<Node> nodes;
    std::vector<Value> values;
    for (std::size_t v = 0; v < graph.values.size(); ++v) {
        const int p = graph.values[v].producer;
        if (p >= 0 && dead[p]) continue;
        value_map[v] = static_cast<int>(values.size());
        values.push_back(graph.values[v]);
    }
    for (int n = 0; n < n_nodes; ++n) {
        if (dead[n]) {
            if (weights)
                for (const ParamSpec& p : graph.nodes[n].params) weights->erase(graph.nodes[n].name + "." + p.name);
            continue;
        }
        node_map[n] = static_cast<int>(nodes.size());
        nodes.push_back(std::move(graph.nodes[n]));
    }
    for (Node& n : nodes) {
        for (int& v : n.inputs) v = value_map[v];
        for (int& v : n.outputs) v = value_map[v];
    }
    for (Value& v : values)
        if (v.producer >= 0) v.producer = node_map[v.producer];
    for (int& v : graph.inputs) v = value_map[v];
    for (int& v : graph.outputs) v = value_map[v];
    graph.nodes = std::move(nodes);
    graph.values = std::move(values);
    return removed;
}

}  // namespace weft
