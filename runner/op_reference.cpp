#include "op_reference.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/error.h"
#include "weft/graph.h"

namespace weft::runner {
namespace {

// The representative input's channels: 8 divides by the representative groups below.
constexpr std::int64_t kChannels = 8;

// Shapes an operator is tried on, in order: an image batch, then a batch of vectors.
const std::vector<Shape>& representative_shapes() {
    static const std::vector<Shape> shapes{{1, kChannels, 8, 8}, {1, kChannels}};
    return shapes;
}

double clamped(double value, const AttrSpec& spec) {
    if (spec.min) value = std::max(value, *spec.min);
    if (spec.max) value = std::min(value, *spec.max);
    return value;
}

// A value for a required attribute: 4 for an integer (out_channels, groups: a divisor of the 8
// channels), [3] for a list of integers (a kernel size), 1 for a number, false, the first choice,
// each moved into the attribute's range.
AttrValue representative_value(const AttrSpec& spec) {
    switch (spec.type) {
        case AttrType::integer: return static_cast<std::int64_t>(clamped(4, spec));
        case AttrType::integers: return std::vector<std::int64_t>{static_cast<std::int64_t>(clamped(3, spec))};
        case AttrType::real: return clamped(1.0, spec);
        case AttrType::reals: return std::vector<double>{clamped(1.0, spec)};
        case AttrType::boolean: return false;
        case AttrType::string: return spec.choices.empty() ? std::string{} : spec.choices.front();
    }
    throw Error("weft ops: an attribute type it does not know");
}

struct Representative {
    Attributes attrs;
    std::vector<std::string> described;  // "name = value"
};

Representative representative_attributes(const OpSchema& schema) {
    Representative r;
    for (const AttrSpec& spec : schema.attrs) {
        if (spec.default_value) continue;
        const AttrValue value = representative_value(spec);
        r.attrs.set(spec.name, value);
        r.described.push_back(fmt::format("{} = {}", spec.name, attr_value_str(value)));
    }
    return r;
}

// infer_shapes' message without its "<place>: node '<name>': " prefix: there is no graph file here.
std::string without_place(const std::string& message, const std::string& node_name) {
    const std::string prefix = fmt::format("node '{}': ", node_name);
    const std::size_t at = message.find(prefix);
    return at == std::string::npos ? message : message.substr(at + prefix.size());
}

// Infers one node on each representative shape until one fits; fills the parameters and, for a
// permutation, the destinations of its channels.
void infer_representative(const Registry& registry, OpReference& ref) {
    const OpSchema& schema = *ref.schema;
    const Representative attrs = representative_attributes(schema);
    const int copies = std::max(schema.min_inputs, 1);
    for (const Shape& shape : representative_shapes()) {
        const std::vector<TensorDesc> inputs(static_cast<std::size_t>(copies), TensorDesc{DType::f32, shape});
        try {
            const Graph g = single_node_graph(registry, schema.name, attrs.attrs, inputs, schema.name);
            ref.parameters = ParameterReference{true, inputs, attrs.described, g.nodes[0].params, {}};
            if (schema.traits.channel_permutation)
                ref.example_permutation = schema.traits.channel_permutation(g.nodes[0].attrs, shape[1]);
            return;
        } catch (const Error& e) {
            // The image batch's reason: the most representative input tells the most.
            if (ref.parameters.unknown_because.empty()) ref.parameters.unknown_because = without_place(e.what(), schema.name);
        }
    }
}

// The backends kernels were registered for, loaded or not (a kernel library may come without its
// backend).
std::vector<std::string> kernel_backends(const Registry& registry) {
    std::set<std::string> backends;
    for (const std::string& b : registry.backend_names()) backends.insert(b);
    for (const LoadedLibrary& library : registry.loaded())
        for (const std::string& kernel : library.kernels) {  // "op/backend/name"
            const std::size_t first = kernel.find('/'), second = kernel.find('/', first + 1);
            if (second != std::string::npos) backends.insert(kernel.substr(first + 1, second - first - 1));
        }
    return {backends.begin(), backends.end()};
}

std::vector<KernelReference> kernel_references(const Registry& registry, const std::string& op) {
    std::vector<KernelReference> out;
    for (const std::string& backend : kernel_backends(registry))
        for (const RegisteredKernel* k : registry.kernels(op, backend))
            out.push_back({backend, k->factory.name, k->factory.priority, k->library.filename().string(),
                           kernel_unavailable_reason(*k)});
    return out;
}

}  // namespace

std::vector<OpReference> op_references(const Registry& registry, const std::string& only) {
    std::vector<OpReference> refs;
    for (const std::string& op : registry.op_names()) {
        if (!only.empty() && op != only) continue;
        OpReference ref;
        ref.schema = &registry.op(op);
        ref.library = registry.op_library(op).filename().string();
        infer_representative(registry, ref);
        ref.kernels = kernel_references(registry, op);
        refs.push_back(std::move(ref));
    }
    return refs;
}

std::vector<OptimizerReference> optimizer_references(const Registry& registry, const std::string& only) {
    std::vector<OptimizerReference> refs;
    for (const std::string& name : registry.optimizer_names()) {
        if (!only.empty() && name != only) continue;
        OptimizerReference ref;
        ref.schema = registry.find_optimizer(name);
        for (const RegisteredOptimizerKernel* k : registry.optimizer_kernels()) {
            if (k->factory.optimizer != name) continue;
            ref.kernels.push_back({k->factory.backend, k->factory.name, 0, k->library.filename().string(), {}});
        }
        for (const LoadedLibrary& library : registry.loaded())
            if (std::find(library.optimizers.begin(), library.optimizers.end(), name) != library.optimizers.end())
                ref.library = library.path.filename().string();
        refs.push_back(std::move(ref));
    }
    return refs;
}

std::string param_init_name(ParamInit init) {
    switch (init) {
        case ParamInit::he_normal: return "he_normal";
        case ParamInit::fan_in_uniform: return "fan_in_uniform";
        case ParamInit::zeros: return "zeros";
        case ParamInit::ones: return "ones";
    }
    return "unknown";
}

std::string attr_default_str(const AttrSpec& spec) {
    return spec.default_value ? attr_value_str(*spec.default_value) : "required";
}

std::string attr_range_str(const AttrSpec& spec) {
    if (!spec.choices.empty()) return fmt::format("one of {}", fmt::join(spec.choices, ", "));
    if (spec.min && spec.max) return fmt::format("[{}, {}]", *spec.min, *spec.max);
    if (spec.min) return fmt::format("≥ {}", *spec.min);
    if (spec.max) return fmt::format("≤ {}", *spec.max);
    return {};
}

std::vector<std::string> trait_names(const OpTraits& traits) {
    std::vector<std::string> names;
    if (traits.channel_permutation) names.push_back("channel permutation");
    if (traits.elementwise) names.push_back("elementwise");
    if (!traits.activation.empty()) names.push_back(fmt::format("activation '{}'", traits.activation));
    if (traits.convolution) names.push_back("convolution");
    if (traits.probabilities) names.push_back("probabilities");
    // Declared per attributes (softmax: unless its axis is 0); shown when the op declares it at all.
    if (traits.independent_samples) names.push_back("independent samples");
    return names;
}

std::string inputs_str(const OpSchema& schema) {
    if (schema.max_inputs < 0) return fmt::format("at least {}", schema.min_inputs);
    if (schema.min_inputs == schema.max_inputs) return std::to_string(schema.min_inputs);
    return fmt::format("{} to {}", schema.min_inputs, schema.max_inputs);
}

std::string backward_str(const OpSchema& schema) {
    if (!schema.differentiable) return "not differentiable";
    const BackwardNeeds& needs = schema.backward_needs;
    if (needs.inputs && needs.outputs) return "keeps its inputs and outputs";
    if (needs.inputs) return "keeps its inputs";
    if (needs.outputs) return "keeps its outputs";
    return "keeps nothing of the forward pass";
}

}  // namespace weft::runner
