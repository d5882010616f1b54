// Validation and shape inference, driven entirely by the registered operator schemas.
#include <cmath>
#include <set>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/graph.h"
#include "weft/registry.h"

namespace weft {
namespace {

// Converts a raw attribute (as written in a graph file) to the schema's declared type; returns
// nullopt when it cannot be represented as that type.
std::optional<AttrValue> coerce(const AttrValue& raw, AttrType type) {
    switch (type) {
        case AttrType::integer:
            if (auto p = std::get_if<std::int64_t>(&raw)) return *p;
            break;
        case AttrType::real:
            if (auto p = std::get_if<double>(&raw)) return *p;
            if (auto p = std::get_if<std::int64_t>(&raw)) return static_cast<double>(*p);
            break;
        case AttrType::boolean:
            if (auto p = std::get_if<bool>(&raw)) return *p;
            break;
        case AttrType::string:
            if (auto p = std::get_if<std::string>(&raw)) return *p;
            break;
        case AttrType::integers:
            if (auto p = std::get_if<std::vector<std::int64_t>>(&raw)) return *p;
            if (auto p = std::get_if<std::int64_t>(&raw)) return std::vector<std::int64_t>{*p};
            break;
        case AttrType::reals:
            if (auto p = std::get_if<std::vector<double>>(&raw)) return *p;
            if (auto p = std::get_if<std::vector<std::int64_t>>(&raw))
                return std::vector<double>(p->begin(), p->end());
            if (auto p = std::get_if<double>(&raw)) return std::vector<double>{*p};
            if (auto p = std::get_if<std::int64_t>(&raw)) return std::vector<double>{static_cast<double>(*p)};
            break;
    }
    return std::nullopt;
}

std::vector<double> numbers_of(const AttrValue& v) {
    if (auto p = std::get_if<std::int64_t>(&v)) return {static_cast<double>(*p)};
    if (auto p = std::get_if<double>(&v)) return {*p};
    if (auto p = std::get_if<std::vector<std::int64_t>>(&v)) return {p->begin(), p->end()};
    if (auto p = std::get_if<std::vector<double>>(&v)) return *p;
    return {};
}

void check_range(const AttrSpec& spec, const AttrValue& value) {
    for (double x : numbers_of(value)) {
        if (std::isnan(x) || (spec.min && x < *spec.min) || (spec.max && x > *spec.max)) {
            std::string range = spec.min && spec.max ? fmt::format("between {} and {}", *spec.min, *spec.max)
                                : spec.min           ? fmt::format("at least {}", *spec.min)
                                                     : fmt::format("at most {}", *spec.max);
            throw Error(fmt::format("attribute '{}' = {} is out of range: expected {}", spec.name,
                                    attr_value_str(value), range));
        }
    }
    if (auto s = std::get_if<std::string>(&value); s && !spec.choices.empty()) {
        if (std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end())
            throw Error(fmt::format("attribute '{}' = '{}' is not one of: {}", spec.name, *s,
                                    fmt::join(spec.choices, ", ")));
    }
}

Attributes validate_attributes(const OpSchema& schema, const Attributes& raw) {
    Attributes out;
    std::set<std::string, std::less<>> known;
    for (const AttrSpec& spec : schema.attrs) {
        known.insert(spec.name);
        const AttrValue* given = raw.find(spec.name);
        if (!given) {
            if (!spec.default_value)
                throw Error(fmt::format("op '{}' needs attribute '{}' ({})", schema.name, spec.name,
                                        attr_type_name(spec.type)));
            out.set(spec.name, *spec.default_value);
            continue;
        }
        auto value = coerce(*given, spec.type);
        if (!value)
            throw Error(fmt::format("attribute '{}' should be {}, got {} ({})", spec.name,
                                    attr_type_with_article(spec.type), attr_type_name(attr_value_type(*given)),
                                    attr_value_str(*given)));
        check_range(spec, *value);
        out.set(spec.name, std::move(*value));
    }
    for (const auto& [name, value] : raw.values())
        if (!known.count(name)) {
            std::vector<std::string> names;
            for (const AttrSpec& s : schema.attrs) names.push_back(s.name);
            throw Error(fmt::format("op '{}' has no attribute '{}' (it has: {})", schema.name, name,
                                    names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
        }
    return out;
}

void infer_node(Graph& graph, Node& node, const Registry& registry) {
    const OpSchema* schema = registry.find_op(node.op);
    if (!schema) {
        auto names = registry.op_names();
        throw Error(fmt::format("unknown op '{}' (loaded ops: {})", node.op,
                                names.empty() ? std::string("none — no plugins loaded") : fmt::format("{}", fmt::join(names, ", "))));
    }
    const int n_in = static_cast<int>(node.inputs.size());
    if (n_in < schema->min_inputs || (schema->max_inputs >= 0 && n_in > schema->max_inputs)) {
        std::string expected = schema->max_inputs < 0 ? fmt::format("at least {}", schema->min_inputs)
                               : schema->min_inputs == schema->max_inputs ? fmt::format("{}", schema->min_inputs)
                               : fmt::format("{} to {}", schema->min_inputs, schema->max_inputs);
        throw Error(fmt::format("op '{}' takes {} input(s), got {}", node.op, expected, n_in));
    }
    if (static_cast<int>(node.outputs.size()) != schema->num_outputs)
        throw Error(fmt::format("op '{}' has {} output(s), node declares {}", node.op, schema->num_outputs,
                                node.outputs.size()));
    node.attrs = validate_attributes(*schema, node.attrs);
    std::vector<TensorDesc> inputs;
    for (int v : node.inputs) inputs.push_back(graph.values[v].desc);
    NodeSignature sig = schema->infer(InferContext{inputs, node.attrs});
    if (static_cast<int>(sig.outputs.size()) != schema->num_outputs)
        throw Error(fmt::format("op '{}' inferred {} outputs but declares {} (plugin {})", node.op,
                                sig.outputs.size(), schema->num_outputs, registry.op_library(node.op).string()));
    for (std::size_t i = 0; i < sig.outputs.size(); ++i) {
        for (auto d : sig.outputs[i].shape)
            if (d <= 0)
                throw Error(fmt::format("op '{}' inferred an invalid output shape {} (plugin {})", node.op,
                                        shape_str(sig.outputs[i].shape), registry.op_library(node.op).string()));
        (void)sig.outputs[i].bytes();  // rejects shapes too large to address
        graph.values[node.outputs[i]].desc = sig.outputs[i];
    }
    node.params = std::move(sig.params);
    node.macs = sig.macs;
}

}  // namespace

void infer_shapes(Graph& graph, const Registry& registry) {
    for (int v : graph.inputs) (void)graph.values[v].desc.bytes();
    for (int n : graph.topological_order()) {
        Node& node = graph.nodes[n];
        try {
            infer_node(graph, node, registry);
        } catch (const Error& e) {
            throw Error(fmt::format("{}: node '{}': {}", node.loc.str(), node.name, e.what()));
        } catch (const std::exception& e) {
            throw Error(fmt::format("{}: node '{}': op '{}' failed shape inference: {}", node.loc.str(),
                                    node.name, node.op, e.what()));
        }
    }
}

}  // namespace weft
