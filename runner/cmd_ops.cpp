// weft ops [OP]: the reference of every registered operator and optimiser, from their schemas:
// doc, inputs and outputs, attributes, parameters, traits, in-place input, what backward keeps,
// and the kernels registered per backend. `--markdown` writes docs/operators.md, `--json` is for
// tools.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "op_reference.h"
#include "options.h"
#include "weft/error.h"

namespace weft::runner {
namespace {

struct OpsOptions {
    GraphOptions plugins;
    std::string name;  // one operator or optimiser; empty for all
    bool json = false;
    bool markdown = false;
};

// The backend whose kernels docs/operators.md lists: every build has it, so the page is the same
// on every machine (the cuda kernels exist only where CUDA was found).
constexpr const char* kDocumentedBackend = "cpu";

std::string inplace_str(const OpSchema& schema) {
    return schema.inplace_input ? fmt::format("over input {}", *schema.inplace_input) : "no";
}

std::string traits_str(const OpReference& ref) {
    std::vector<std::string> names = trait_names(ref.schema->traits);
    if (ref.example_permutation)
        for (std::string& name : names)
            if (name == "channel permutation")
                name += fmt::format(" (on 8 channels: destination {})", fmt::join(*ref.example_permutation, ", "));
    return names.empty() ? "none" : fmt::format("{}", fmt::join(names, "; "));
}

std::string representative_str(const ParameterReference& p) {
    std::vector<std::string> inputs;
    for (const TensorDesc& d : p.inputs) inputs.push_back(d.str());
    std::string s = fmt::format("on input {}", fmt::join(inputs, ", "));
    if (!p.attributes.empty()) s += fmt::format(" with {}", fmt::join(p.attributes, ", "));
    return s;
}

std::string param_flags(const ParamSpec& p) {
    return fmt::format("{}{}", p.counted ? "counted" : "not counted", p.learnable ? ", learnable" : ", state");
}

std::string kernel_line(const KernelReference& k, bool with_priority) {
    std::string line = with_priority ? fmt::format("{:<5} {:<14} priority {:<4} {}", k.backend, k.name, k.priority, k.library)
                                     : fmt::format("{:<5} {:<14} {}", k.backend, k.name, k.library);
    if (!k.unavailable_reason.empty()) line += " — unavailable here: " + k.unavailable_reason;
    return line;
}

// ---------------------------------------------------------------------------------------------
// Text

void print_attributes(const std::vector<AttrSpec>& attrs, const char* title) {
    if (attrs.empty()) return fmt::print("  {}: none\n", title);
    fmt::print("  {}:\n", title);
    for (const AttrSpec& a : attrs)
        fmt::print("    {:<16} {:<16} {:<10} {:<24} {}\n", a.name, attr_type_name(a.type), attr_default_str(a),
                   attr_range_str(a), a.doc);
}

void print_op(const OpReference& ref) {
    const OpSchema& s = *ref.schema;
    fmt::print("{} ({})\n  {}\n", s.name, ref.library, s.doc);
    fmt::print("  inputs {}, outputs {}; in place: {}; backward: {}\n", inputs_str(s), s.num_outputs, inplace_str(s),
               backward_str(s));
    print_attributes(s.attrs, "attributes");
    const ParameterReference& p = ref.parameters;
    if (!p.known) {
        fmt::print("  parameters: depend on the input ({})\n", p.unknown_because);
    } else if (p.params.empty()) {
        fmt::print("  parameters: none ({})\n", representative_str(p));
    } else {
        fmt::print("  parameters ({}):\n", representative_str(p));
        for (const ParamSpec& param : p.params)
            fmt::print("    {:<16} {:<18} {:<15} {}\n", param.name, param.desc.str(), param_init_name(param.init),
                       param_flags(param));
    }
    fmt::print("  traits: {}\n", traits_str(ref));
    fmt::print("  kernels (best first):{}\n", ref.kernels.empty() ? " none" : "");
    for (const KernelReference& k : ref.kernels) fmt::print("    {}\n", kernel_line(k, true));
}

void print_optimizer(const OptimizerReference& ref) {
    const OptimizerSchema& s = *ref.schema;
    fmt::print("{} ({})\n  {}\n", s.name, ref.library, s.doc);
    print_attributes(s.attrs, "hyperparameters (besides the learning rate and weight decay)");
    fmt::print("  state per parameter: {}\n", s.state.empty() ? "none" : fmt::format("{}", fmt::join(s.state, ", ")));
    fmt::print("  kernels:{}\n", ref.kernels.empty() ? " none" : "");
    for (const KernelReference& k : ref.kernels) fmt::print("    {}\n", kernel_line(k, false));
}

// Entries one blank line apart, under a heading per kind.
void print_text(const std::vector<OpReference>& ops, const std::vector<OptimizerReference>& optimizers) {
    if (!ops.empty()) fmt::print("operators:\n");
    for (const OpReference& ref : ops) {
        fmt::print("\n");
        print_op(ref);
    }
    if (!optimizers.empty()) fmt::print("{}optimizers:\n", ops.empty() ? "" : "\n");
    for (const OptimizerReference& ref : optimizers) {
        fmt::print("\n");
        print_optimizer(ref);
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown (docs/operators.md)

// A table cell: pipes would end it.
std::string cell(std::string text) {
    for (std::size_t at = text.find('|'); at != std::string::npos; at = text.find('|', at + 2)) text.replace(at, 1, "\\|");
    return text;
}

std::string code(const std::string& text) { return text.empty() ? "" : "`" + text + "`"; }

void markdown_attributes(const std::vector<AttrSpec>& attrs, const char* noun) {
    if (attrs.empty()) return fmt::print("No {}s.\n\n", noun);
    fmt::print("| {} | type | default | range | meaning |\n| --- | --- | --- | --- | --- |\n", noun);
    for (const AttrSpec& a : attrs)
        fmt::print("| `{}` | {} | {} | {} | {} |\n", a.name, attr_type_name(a.type),
                   a.default_value ? code(attr_default_str(a)) : "required", cell(attr_range_str(a)), cell(a.doc));
    fmt::print("\n");
}

void markdown_parameters(const ParameterReference& p) {
    if (!p.known) return fmt::print("**Parameters** depend on the input ({}).\n\n", cell(p.unknown_because));
    if (p.params.empty()) return fmt::print("**Parameters**: none ({}).\n\n", representative_str(p));
    fmt::print("**Parameters** ({}):\n\n", representative_str(p));
    fmt::print("| parameter | shape | initialisation | |\n| --- | --- | --- | --- |\n");
    for (const ParamSpec& param : p.params)
        fmt::print("| `{}` | {} | {} | {} |\n", param.name, param.desc.str(), param_init_name(param.init), param_flags(param));
    fmt::print("\n");
}

void markdown_kernels(const std::vector<KernelReference>& kernels, bool with_priority) {
    std::vector<const KernelReference*> listed;
    for (const KernelReference& k : kernels)
        if (k.backend == kDocumentedBackend) listed.push_back(&k);
    if (listed.empty()) return fmt::print("**{} kernels**: none.\n\n", kDocumentedBackend);
    fmt::print("**{} kernels** (best first):\n\n", kDocumentedBackend);
    for (const KernelReference* k : listed) {
        const std::string priority = with_priority ? fmt::format(" (priority {})", k->priority) : "";
        fmt::print("- `{}`{}, `{}`\n", k->name, priority, k->library);
    }
    fmt::print("\n");
}

void markdown_op(const OpReference& ref) {
    const OpSchema& s = *ref.schema;
    fmt::print("## `{}`\n\n{}\n\n", s.name, s.doc);
    fmt::print("- library: `{}`\n- inputs: {}; outputs: {}\n- in place: {}\n- backward: {}\n- traits: {}\n\n",
               ref.library, inputs_str(s), s.num_outputs, inplace_str(s), backward_str(s), traits_str(ref));
    markdown_attributes(s.attrs, "attribute");
    markdown_parameters(ref.parameters);
    markdown_kernels(ref.kernels, true);
}

void markdown_optimizer(const OptimizerReference& ref) {
    const OptimizerSchema& s = *ref.schema;
    fmt::print("## `{}` (optimizer)\n\n{}\n\n", s.name, s.doc);
    fmt::print("- library: `{}`\n- state per parameter: {}\n\n", ref.library,
               s.state.empty() ? "none" : fmt::format("`{}`", fmt::join(s.state, "`, `")));
    fmt::print("Every optimizer takes the learning rate and weight decay per step; its own hyperparameters:\n\n");
    markdown_attributes(s.attrs, "hyperparameter");
    markdown_kernels(ref.kernels, false);
}

void print_markdown(const std::vector<OpReference>& ops, const std::vector<OptimizerReference>& optimizers) {
    fmt::print("# Operators\n\n");
    fmt::print("<!-- Generated by `weft ops --markdown > docs/operators.md`; do not edit by hand. -->\n\n");
    fmt::print("Every operator and optimizer that weft's own plugins register, as their schemas declare them\n"
               "(`weft ops OP` prints one, with the plugins of `--plugin-path` and `WEFT_PLUGIN_PATH` too).\n"
               "Parameters are declared by a schema's shape rule alone, so they are shown for one\n"
               "representative input: f32 [1, 8, 8, 8], or [1, 8] where an image batch does not fit, with\n"
               "the defaults, 4 for a required integer and [3] for a required list. Kernels are listed\n"
               "for the cpu backend, which every build has; `weft ops` lists those of every backend built.\n"
               "Writing an operator: [plugins.md](plugins.md).\n\n");
    fmt::print("| operator | inputs | traits | cpu kernels |\n| --- | --- | --- | --- |\n");
    for (const OpReference& ref : ops) {
        std::vector<std::string> kernels;
        for (const KernelReference& k : ref.kernels)
            if (k.backend == kDocumentedBackend) kernels.push_back(code(k.name));
        const std::vector<std::string> traits = trait_names(ref.schema->traits);
        fmt::print("| [`{0}`](#{0}) | {1} | {2} | {3} |\n", ref.schema->name, inputs_str(*ref.schema),
                   traits.empty() ? "" : fmt::format("{}", fmt::join(traits, ", ")), fmt::join(kernels, ", "));
    }
    for (const OptimizerReference& ref : optimizers)
        fmt::print("| [`{0}`](#{0}-optimizer) (optimizer) | | | |\n", ref.schema->name);
    fmt::print("\n");
    for (const OpReference& ref : ops) markdown_op(ref);
    for (const OptimizerReference& ref : optimizers) markdown_optimizer(ref);
}

// ---------------------------------------------------------------------------------------------
// JSON

nlohmann::json attributes_json(const std::vector<AttrSpec>& attrs) {
    nlohmann::json out = nlohmann::json::array();
    for (const AttrSpec& a : attrs)
        out.push_back({{"name", a.name}, {"type", attr_type_name(a.type)}, {"required", !a.default_value},
                       {"default", a.default_value ? nlohmann::json(attr_value_str(*a.default_value)) : nlohmann::json()},
                       {"min", a.min ? nlohmann::json(*a.min) : nlohmann::json()},
                       {"max", a.max ? nlohmann::json(*a.max) : nlohmann::json()}, {"choices", a.choices}, {"doc", a.doc}});
    return out;
}

nlohmann::json kernels_json(const std::vector<KernelReference>& kernels) {
    nlohmann::json out = nlohmann::json::array();
    for (const KernelReference& k : kernels)
        out.push_back({{"backend", k.backend}, {"name", k.name}, {"priority", k.priority}, {"library", k.library},
                       {"available", k.unavailable_reason.empty()}, {"reason", k.unavailable_reason}});
    return out;
}

nlohmann::json parameters_json(const ParameterReference& p) {
    nlohmann::json inputs = nlohmann::json::array(), params = nlohmann::json::array();
    for (const TensorDesc& d : p.inputs) inputs.push_back(d.shape);
    for (const ParamSpec& param : p.params)
        params.push_back({{"name", param.name}, {"shape", param.desc.shape}, {"init", param_init_name(param.init)},
                          {"fan_in", param.fan_in}, {"counted", param.counted}, {"learnable", param.learnable}});
    return {{"known", p.known}, {"inputs", inputs}, {"attributes", p.attributes}, {"list", params},
            {"unknown_because", p.unknown_because}};
}

nlohmann::json op_json(const OpReference& ref) {
    const OpSchema& s = *ref.schema;
    const OpTraits& t = s.traits;
    nlohmann::json traits = {{"channel_permutation", static_cast<bool>(t.channel_permutation)},
                             {"elementwise", t.elementwise}, {"activation", t.activation},
                             {"convolution", t.convolution}, {"probabilities", t.probabilities},
                             {"independent_samples", static_cast<bool>(t.independent_samples)}};
    if (ref.example_permutation) traits["example_permutation"] = *ref.example_permutation;
    return {{"name", s.name}, {"doc", s.doc}, {"library", ref.library}, {"min_inputs", s.min_inputs},
            {"max_inputs", s.max_inputs}, {"outputs", s.num_outputs}, {"attributes", attributes_json(s.attrs)},
            {"parameters", parameters_json(ref.parameters)}, {"traits", traits},
            {"inplace_input", s.inplace_input ? nlohmann::json(*s.inplace_input) : nlohmann::json()},
            {"differentiable", s.differentiable},
            {"backward_needs", {{"inputs", s.backward_needs.inputs}, {"outputs", s.backward_needs.outputs}}},
            {"kernels", kernels_json(ref.kernels)}};
}

nlohmann::json ops_json(const std::vector<OpReference>& ops, const std::vector<OptimizerReference>& optimizers) {
    nlohmann::json out = {{"ops", nlohmann::json::array()}, {"optimizers", nlohmann::json::array()}};
    for (const OpReference& ref : ops) out["ops"].push_back(op_json(ref));
    for (const OptimizerReference& ref : optimizers)
        out["optimizers"].push_back({{"name", ref.schema->name}, {"doc", ref.schema->doc}, {"library", ref.library},
                                     {"hyperparameters", attributes_json(ref.schema->attrs)},
                                     {"state", ref.schema->state}, {"kernels", kernels_json(ref.kernels)}});
    return out;
}

}  // namespace

void add_ops_command(CLI::App& app) {
    auto o = std::make_shared<OpsOptions>();
    CLI::App* cmd = app.add_subcommand("ops", "the reference of every registered operator and optimizer, from "
                                              "their schemas");
    cmd->add_option("op", o->name, "only this operator or optimizer");
    add_plugin_options(*cmd, o->plugins);
    cmd->add_flag("--json", o->json, "machine-readable output");
    cmd->add_flag("--markdown", o->markdown, "Markdown (docs/operators.md)")->excludes("--json");
    cmd->callback([o] {
        auto registry = load_registry(o->plugins);
        const std::vector<OpReference> ops = op_references(*registry, o->name);
        const std::vector<OptimizerReference> optimizers = optimizer_references(*registry, o->name);
        if (!o->name.empty() && ops.empty() && optimizers.empty())
            throw Error(fmt::format("weft ops: no operator or optimizer '{}' is registered (operators: {}; optimizers: {})",
                                    o->name, fmt::join(registry->op_names(), ", "),
                                    fmt::join(registry->optimizer_names(), ", ")));
        if (o->json)
            fmt::print("{}\n", ops_json(ops, optimizers).dump(2));
        else if (o->markdown)
            print_markdown(ops, optimizers);
        else
            print_text(ops, optimizers);
    });
}

}  // namespace weft::runner
