// The JSON export and its reader. The schema is documented in docs/visualisation.md; fields are
// only ever added within one kJsonSchemaVersion.
#include <map>

#include <fmt/format.h>

#include "view.h"
#include "weft/error.h"

namespace weft::viz {
namespace {

using nlohmann::json;

json attr_json(const AttrValue& v) {
    return std::visit([](const auto& x) { return json(x); }, v);
}

AttrValue attr_from_json(const std::string& name, const json& j) {
    if (j.is_boolean()) return j.get<bool>();
    if (j.is_number_integer()) return j.get<std::int64_t>();
    if (j.is_number_float()) return j.get<double>();
    if (j.is_string()) return j.get<std::string>();
    if (j.is_array()) {
        bool integers = true;
        for (const json& e : j) {
            if (!e.is_number()) throw Error(fmt::format("attribute '{}': lists hold numbers only", name));
            integers = integers && e.is_number_integer();
        }
        if (integers) return j.get<std::vector<std::int64_t>>();
        return j.get<std::vector<double>>();
    }
    throw Error(fmt::format("attribute '{}': unsupported JSON value {}", name, j.dump()));
}

json desc_json(const TensorDesc& d) { return {{"shape", d.shape}, {"dtype", std::string(dtype_name(d.dtype))}}; }

TensorDesc desc_from_json(const json& j) {
    TensorDesc d;
    d.shape = j.at("shape").get<Shape>();
    const std::string dtype = j.value("dtype", "f32");
    const auto parsed = parse_dtype(dtype);
    if (!parsed) throw Error(fmt::format("unknown dtype '{}'", dtype));
    d.dtype = *parsed;
    return d;
}

json nullable(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json node_json(const Graph& g, const Node& n, const ViewOptions& options, std::size_t index) {
    const std::vector<double>& node_ms = options.node_ms;
    const std::int64_t batch = std::max<std::int64_t>(g.batch(), 1);
    json attrs = json::object();
    for (const auto& [k, v] : n.attrs.values()) attrs[k] = attr_json(v);
    json inputs = json::array(), outputs = json::array(), in_shapes = json::array(), out_shapes = json::array();
    for (int v : n.inputs) inputs.push_back(g.values[v].name), in_shapes.push_back(g.values[v].desc.shape);
    for (int v : n.outputs) outputs.push_back(g.values[v].name), out_shapes.push_back(g.values[v].desc.shape);
    json tensors = json::array();
    std::int64_t all = 0;
    for (const ParamSpec& p : n.params) {
        tensors.push_back({{"name", p.name}, {"shape", p.desc.shape}, {"counted", p.counted}, {"learnable", p.learnable}});
        all += p.desc.numel();
    }
    json scope = json::array();
    for (const ScopeEntry& s : n.scope) scope.push_back({{"name", s.name}, {"block", s.block}});
    const std::vector<Group> groups = node_groups(n);
    const int b = innermost_block(groups);
    json j = {{"name", n.name},
              {"op", n.op},
              {"attrs", attrs},
              {"inputs", inputs},
              {"outputs", outputs},
              {"input_shapes", in_shapes},
              {"output_shapes", out_shapes},
              {"params", counted_params(n)},
              {"all_params", all},
              {"param_tensors", tensors},
              {"macs", n.macs / batch},
              {"scope", scope},
              {"group", groups.empty() ? json(nullptr) : json(groups.back().id)},
              {"block", b < 0 ? json(nullptr) : json(groups[b].id)},
              {"stage", groups.empty() ? json(nullptr) : json(groups.front().id)},
              {"loc", n.loc.known() ? json(n.loc.str()) : json(nullptr)}};
    if (!node_ms.empty()) j["time_ms"] = node_ms.at(index);
    if (!options.node_kernels.empty() && !options.node_kernels.at(index).empty()) j["kernel"] = options.node_kernels[index];
    return j;
}

}  // namespace

nlohmann::json graph_json(const Graph& g, const ViewOptions& options) {
    const std::int64_t batch = std::max<std::int64_t>(g.batch(), 1);
    const GraphTotals totals = graph_totals(g);
    json meta = json::object();
    for (const auto& [k, v] : g.meta) meta[k] = v;
    json inputs = json::array();
    for (int v : g.inputs) {
        json i = desc_json(g.values[v].desc);
        i["name"] = g.values[v].name;
        inputs.push_back(i);
    }
    json outputs = json::array();
    for (int v : g.outputs) {
        json o = desc_json(g.values[v].desc);
        o["name"] = g.values[v].name;
        o["from"] = g.values[v].producer >= 0 ? json(g.nodes[g.values[v].producer].name) : json(nullptr);
        outputs.push_back(o);
    }
    json groups = json::array();
    std::map<std::string, bool> seen;
    json nodes = json::array();
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        for (const Group& grp : node_groups(g.nodes[i]))
            if (!seen[grp.id]) {
                seen[grp.id] = true;
                groups.push_back({{"id", grp.id}, {"name", grp.name}, {"block", grp.block}, {"parent", nullable(grp.parent)}});
            }
        nodes.push_back(node_json(g, g.nodes[i], options, i));
    }
    json edges = json::array();
    for (const Node& n : g.nodes)
        for (std::size_t k = 0; k < n.inputs.size(); ++k) {
            const Value& v = g.values[n.inputs[k]];
            json e = desc_json(v.desc);
            e["value"] = v.name;
            e["from"] = v.producer >= 0 ? g.nodes[v.producer].name : v.name;
            e["from_kind"] = v.producer >= 0 ? "node" : "input";
            e["to"] = n.name;
            e["to_input"] = k;
            edges.push_back(e);
        }
    json j = {{"schema_version", kJsonSchemaVersion},
              {"generator", "weft viz"},
              {"graph", {{"name", g.name}, {"meta", meta}, {"batch", batch}}},
              {"totals", {{"params", totals.params}, {"all_params", totals.all_params}, {"macs", totals.macs / batch}}},
              {"inputs", inputs},
              {"outputs", outputs},
              {"groups", groups},
              {"nodes", nodes},
              {"edges", edges}};
    if (!options.node_ms.empty()) {
        double total = 0;
        for (double ms : options.node_ms) total += ms;
        j["profile"] = {{"unit", "ms per batch"}, {"total_ms", total}};
    }
    return j;
}

Graph graph_from_json(const nlohmann::json& j) {
    try {
        const int version = j.at("schema_version").get<int>();
        if (version != kJsonSchemaVersion)
            throw Error(fmt::format("graph JSON has schema_version {}, this reader knows {}", version, kJsonSchemaVersion));
        Graph g;
        g.name = j.at("graph").at("name").get<std::string>();
        const json meta = j.at("graph").value("meta", json::object());
        for (const auto& [k, v] : meta.items()) g.meta[k] = v.get<std::string>();
        std::map<std::string, int> value_of;
        for (const json& i : j.at("inputs")) value_of[i.at("name")] = g.add_input(i.at("name"), desc_from_json(i));
        // First every node and its output values, then the wiring: the reader does not rely on
        // the export's node order being topological.
        for (const json& jn : j.at("nodes")) {
            Node n;
            n.name = jn.at("name").get<std::string>();
            n.op = jn.at("op").get<std::string>();
            for (const auto& [k, v] : jn.at("attrs").items()) n.attrs.set(k, attr_from_json(k, v));
            for (const json& s : jn.at("scope")) n.scope.push_back({s.at("name").get<std::string>(), s.at("block").get<std::string>()});
            const json& outs = jn.at("outputs");
            const int id = g.add_node(std::move(n), static_cast<int>(outs.size()));
            for (std::size_t k = 0; k < outs.size(); ++k) {
                const int v = g.nodes[id].outputs[k];
                g.values[v].name = outs[k].get<std::string>();
                if (k < jn.at("output_shapes").size()) g.values[v].desc.shape = jn.at("output_shapes")[k].get<Shape>();
                value_of[g.values[v].name] = v;
            }
        }
        for (std::size_t i = 0; i < g.nodes.size(); ++i)
            for (const json& in : j.at("nodes")[i].at("inputs")) {
                const auto it = value_of.find(in.get<std::string>());
                if (it == value_of.end())
                    throw Error(fmt::format("node '{}' reads '{}', which nothing produces", g.nodes[i].name, in.get<std::string>()));
                g.nodes[i].inputs.push_back(it->second);
            }
        for (const json& o : j.at("outputs")) {
            const auto it = value_of.find(o.at("name").get<std::string>());
            if (it == value_of.end()) throw Error(fmt::format("output '{}' is produced by no node", o.at("name").get<std::string>()));
            g.outputs.push_back(it->second);
        }
        return g;
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("graph JSON: {}", e.what()));
    }
}

}  // namespace weft::viz
