#include "weft/training/model.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "weft/error.h"

namespace weft::training {

int find_probabilities_head(const Graph& graph, const Registry& registry) {
    if (graph.outputs.size() != 1) return -1;
    const int output = graph.outputs[0];
    const int producer = graph.values[output].producer;
    const OpSchema* schema = producer >= 0 ? registry.find_op(graph.nodes[producer].op) : nullptr;
    if (!schema || !schema->traits.probabilities || graph.nodes[producer].inputs.size() != 1) return -1;
    for (const Node& node : graph.nodes)
        if (std::find(node.inputs.begin(), node.inputs.end(), output) != node.inputs.end()) return -1;
    return producer;
}

std::string drop_probabilities_head(Graph& graph, const Registry& registry) {
    if (graph.outputs.size() != 1)
        throw Error(fmt::format("graph '{}' has {} outputs; logits are the single output of a classifier", graph.name,
                                graph.outputs.size()));
    const int dropped = find_probabilities_head(graph, registry);
    if (dropped < 0) return {};
    // Rebuilt rather than edited in place, so no orphan value of the dropped node remains.
    Graph g;
    g.name = graph.name;
    g.meta = graph.meta;
    std::vector<int> remap(graph.values.size(), -1);
    for (int v : graph.inputs) remap[v] = g.add_input(graph.values[v].name, graph.values[v].desc);
    for (int n : graph.topological_order()) {
        if (n == dropped) continue;
        Node node = graph.nodes[n];
        const std::vector<int> outs = node.outputs;
        for (int& v : node.inputs) v = remap[v];
        const int added = g.add_node(std::move(node), static_cast<int>(outs.size()));
        for (std::size_t o = 0; o < outs.size(); ++o) {
            remap[outs[o]] = g.nodes[added].outputs[o];
            g.values[remap[outs[o]]].name = graph.values[outs[o]].name;
        }
    }
    g.outputs = {remap[graph.nodes[dropped].inputs[0]]};
    infer_shapes(g, registry);
    const std::string name = graph.nodes[dropped].name;
    graph = std::move(g);
    return name;
}

LossHead attach_loss(Graph& graph, const Registry& registry, const std::string& loss_op,
                     const Attributes& loss_attrs) {
    if (graph.outputs.size() != 1)
        throw Error(fmt::format("training needs a classifier with one output; '{}' has {}", graph.name,
                                graph.outputs.size()));
    if (!registry.find_op(loss_op))
        throw Error(fmt::format("loss op '{}' is not registered (is its plugin on the plugin path?)", loss_op));
    if (graph.find_value("label") >= 0) throw Error("the graph already has a value named 'label'");
    // The loss computes its own log-softmax stably; a trailing probabilities op would be work for nothing.
    Graph g = graph;
    drop_probabilities_head(g, registry);
    const int logits = g.outputs[0];
    const int label = g.add_input("label", TensorDesc{DType::i32, {g.batch()}, Layout::row_major});
    Node loss;
    loss.name = "loss";
    loss.op = loss_op;
    loss.attrs = loss_attrs;
    loss.inputs = {logits, label};
    loss.loc = g.values[logits].producer >= 0 ? g.nodes[g.values[logits].producer].loc : SourceLocation{};
    const int loss_node = g.add_node(std::move(loss));
    g.outputs = {g.nodes[loss_node].outputs[0], logits};
    infer_shapes(g, registry);
    LossHead head{g.values[logits].name, "label", g.values[g.outputs[0]].name};
    graph = std::move(g);
    return head;
}

std::map<std::string, std::string> ModelInfo::to_metadata() const {
    std::map<std::string, std::string> m;
    m["format"] = "weft";
    m["weft.graph"] = graph;
    if (!variant.empty()) m["weft.variant"] = variant;
    m["weft.sets"] = nlohmann::json(sets).dump();
    if (!data.empty()) m["weft.data"] = data;
    if (!class_names.empty()) m["weft.class_names"] = nlohmann::json(class_names).dump();
    if (has_normalization()) {
        m["weft.mean"] = nlohmann::json(mean).dump();
        m["weft.std"] = nlohmann::json(std).dump();
    }
    m["weft.epoch"] = std::to_string(epoch);
    if (test_accuracy >= 0) m["weft.test_accuracy"] = fmt::format("{:.6f}", test_accuracy);
    return m;
}

ModelInfo ModelInfo::from_metadata(const std::map<std::string, std::string>& metadata) {
    ModelInfo info;
    auto get = [&](const char* key) -> const std::string* {
        const auto it = metadata.find(key);
        return it == metadata.end() ? nullptr : &it->second;
    };
    try {
        if (auto s = get("weft.graph")) info.graph = *s;
        if (auto s = get("weft.variant")) info.variant = *s;
        if (auto s = get("weft.sets")) info.sets = nlohmann::json::parse(*s).get<std::vector<std::string>>();
        if (auto s = get("weft.data")) info.data = *s;
        if (auto s = get("weft.class_names")) info.class_names = nlohmann::json::parse(*s).get<std::vector<std::string>>();
        if (auto s = get("weft.mean")) info.mean = nlohmann::json::parse(*s).get<std::vector<float>>();
        if (auto s = get("weft.std")) info.std = nlohmann::json::parse(*s).get<std::vector<float>>();
        if (auto s = get("weft.epoch")) info.epoch = std::stoi(*s);
        if (auto s = get("weft.test_accuracy")) info.test_accuracy = std::stod(*s);
    } catch (const std::exception& e) {
        throw Error(fmt::format("weights metadata is malformed: {}", e.what()));
    }
    if (info.mean.size() != info.std.size())
        throw Error("weights metadata is malformed: weft.mean and weft.std differ in length");
    for (float s : info.std)
        if (!(s > 0)) throw Error("weights metadata is malformed: weft.std must be positive");
    return info;
}

}  // namespace weft::training
