#include "view.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

namespace weft::viz {

std::vector<Group> node_groups(const Node& node) {
    std::vector<Group> groups;
    std::string path;
    for (const ScopeEntry& s : node.scope) {
        Group g;
        g.parent = path;
        path = path.empty() ? s.name : path + "." + s.name;
        g.id = path;
        g.name = s.name;
        g.block = s.block;
        groups.push_back(std::move(g));
    }
    return groups;
}

int innermost_block(const std::vector<Group>& groups) {
    for (int i = static_cast<int>(groups.size()) - 1; i >= 0; --i)
        if (!groups[i].block.empty()) return i;
    return -1;
}

std::int64_t counted_params(const Node& node) {
    std::int64_t p = 0;
    for (const ParamSpec& s : node.params)
        if (s.counted) p += s.desc.numel();
    return p;
}

std::string compact_shape(const Shape& shape) {
    const std::size_t first = shape.size() > 1 ? 1 : 0;
    std::string s;
    for (std::size_t i = first; i < shape.size(); ++i) s += (i > first ? "×" : "") + std::to_string(shape[i]);
    return s.empty() ? "scalar" : s;
}

std::string human_count(double n) {
    if (n >= 1e9) return fmt::format("{:.2f}G", n / 1e9);
    if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
    if (n >= 1e3) return fmt::format("{:.1f}K", n / 1e3);
    return fmt::format("{:.0f}", n);
}

std::string attr_brief(const Node& node) {
    // Generic attribute names shared by convolution-like and pooling-like operators; the view
    // never looks at the operator's name.
    const Attributes& a = node.attrs;
    const auto ints = [&](std::string_view name) {
        const AttrValue* v = a.find(name);
        const bool numeric = v && (attr_value_type(*v) == AttrType::integer || attr_value_type(*v) == AttrType::integers);
        return numeric ? a.get_ints(name) : std::vector<std::int64_t>{};
    };
    std::vector<std::string> parts;
    const auto kernel = ints("kernel");
    if (kernel.size() == 1) parts.push_back(fmt::format("{0}×{0}", kernel[0]));
    if (kernel.size() == 2) parts.push_back(fmt::format("{}×{}", kernel[0], kernel[1]));
    const auto stride = ints("stride");
    if (!stride.empty() && *std::max_element(stride.begin(), stride.end()) > 1)
        parts.push_back(fmt::format("/{}", stride.front()));
    const auto groups = ints("groups");
    if (groups.size() == 1 && groups[0] > 1) parts.push_back(fmt::format("g{}", groups[0]));
    if (a.find("mode") && attr_value_type(*a.find("mode")) == AttrType::string) parts.push_back(a.get_string("mode"));
    std::string s;
    for (const std::string& p : parts) s += (s.empty() ? "" : " ") + p;
    return s;
}

std::string group_summary(const Graph& graph, const Unit& unit) {
    std::map<std::string, std::set<std::string>> instances;  // template -> child instance ids
    std::vector<std::string> order;
    int loose = 0;  // operators directly in the group, in no child block
    for (int n : unit.nodes) {
        const std::vector<Group> groups = node_groups(graph.nodes[n]);
        std::size_t at = 0;
        while (at < groups.size() && groups[at].id != unit.id) ++at;
        if (at + 1 >= groups.size() || groups[at + 1].block.empty()) {
            ++loose;
            continue;
        }
        const Group& child = groups[at + 1];
        if (!instances.count(child.block)) order.push_back(child.block);
        instances[child.block].insert(child.id);
    }
    std::string s;
    for (const std::string& block : order) s += fmt::format("{}{} × {}", s.empty() ? "" : ", ", instances[block].size(), block);
    if (loose > 0) s += fmt::format("{}{} operator{}", s.empty() ? "" : " + ", loose, loose == 1 ? "" : "s");
    return s;
}

namespace {

// Which box a node belongs to, and the drawn group that box sits in.
struct Placement {
    Unit::Kind kind;
    std::string id, label, type, cluster;
    std::vector<Group> clusters;  // groups to draw around it, outermost first
};

Placement place(const Node& node, Collapse collapse) {
    const std::vector<Group> groups = node_groups(node);
    Placement p{Unit::Kind::op, node.name, node.name, node.op, "", {}};
    int unit_group = -1;  // index into groups of the group drawn as one box
    if (collapse == Collapse::stages && !groups.empty()) unit_group = 0;
    if (collapse == Collapse::blocks) unit_group = innermost_block(groups);
    if (unit_group >= 0) {
        const Group& g = groups[unit_group];
        p = {Unit::Kind::block, g.id, g.name, g.block, g.parent, {}};
        if (collapse == Collapse::stages) p.label = g.id;
        p.clusters.assign(groups.begin(), groups.begin() + unit_group);
    } else {
        p.clusters = groups;
        if (!groups.empty()) {
            p.cluster = groups.back().id;
            // Inside a cluster the local name is enough; the full name is in the tooltip.
            const std::string prefix = groups.back().id + ".";
            if (node.name.starts_with(prefix)) p.label = node.name.substr(prefix.size());
        }
    }
    return p;
}

Unit make_unit(Unit::Kind kind, std::string id, std::string label, std::string type, std::string cluster) {
    Unit u;
    u.kind = kind;
    u.id = std::move(id);
    u.label = std::move(label);
    u.type = std::move(type);
    u.cluster = std::move(cluster);
    return u;
}

}  // namespace

View build_view(const Graph& graph, Collapse collapse, const std::vector<double>& node_ms) {
    View view;
    view.has_profile = !node_ms.empty();
    std::map<std::string, int> unit_of_id;
    std::set<std::string> cluster_ids;
    std::vector<int> unit_of_node(graph.nodes.size(), -1);
    std::vector<int> unit_of_input(graph.values.size(), -1);

    for (int v : graph.inputs) {
        Unit u = make_unit(Unit::Kind::input, graph.values[v].name, graph.values[v].name, "input", "");
        unit_of_input[v] = static_cast<int>(view.units.size());
        unit_of_id["input:" + u.id] = unit_of_input[v];
        view.units.push_back(std::move(u));
    }
    for (int n : graph.topological_order()) {
        const Node& node = graph.nodes[n];
        Placement p = place(node, collapse);
        for (const Group& g : p.clusters)
            if (cluster_ids.insert(g.id).second) view.clusters.push_back(g);
        const std::string key = (p.kind == Unit::Kind::block ? "block:" : "node:") + p.id;
        auto [it, fresh] = unit_of_id.try_emplace(key, static_cast<int>(view.units.size()));
        if (fresh) view.units.push_back(make_unit(p.kind, p.id, p.label, p.type, p.cluster));
        Unit& u = view.units[it->second];
        u.nodes.push_back(n);
        u.params += counted_params(node);
        u.macs += graph.batch() > 0 ? node.macs / graph.batch() : node.macs;
        if (view.has_profile) u.ms += node_ms.at(n);
        unit_of_node[n] = it->second;
    }

    std::set<std::tuple<int, int, int>> seen;
    const auto connect = [&](int from, int to, int value) {
        if (from != to && seen.insert({from, to, value}).second) view.edges.push_back({from, to, value});
    };
    const auto unit_producing = [&](int value) {
        const int producer = graph.values[value].producer;
        return producer >= 0 ? unit_of_node[producer] : unit_of_input[value];
    };
    for (int n : graph.topological_order())
        for (int v : graph.nodes[n].inputs) connect(unit_producing(v), unit_of_node[n], v);
    for (int v : graph.outputs) {
        const int out = static_cast<int>(view.units.size());
        view.units.push_back(make_unit(Unit::Kind::output, graph.values[v].name, "output", "output", ""));
        connect(unit_producing(v), out, v);
    }
    for (const Unit& u : view.units) {
        view.total_ms += u.ms;
        view.max_ms = std::max(view.max_ms, u.ms);
    }
    return view;
}

}  // namespace weft::viz
