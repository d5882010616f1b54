// A family file's header and the parameters of one load (graph_file_family.h).
#include "graph_file_family.h"

#include <algorithm>

namespace weft::graph_file {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string_view> kFamilyKeys = {
    "family", "doc", "include", "params", "derived", "checks", "variants", "meta", "inputs", "outputs", "blocks", "graph"};

std::vector<NamedValue> read_named_values(const SourceFile& file, const YAML::Node& node, std::string_view what) {
    std::vector<NamedValue> values;
    const Mapping mapping(file, node, what);
    for (const Entry& entry : mapping.entries()) {
        require_identifier(file, entry.key_node, entry.key, what);
        if (!entry.value.IsScalar())
            fail_at(file, entry.value, fmt::format("expected a single value for {} '{}'", what, entry.key));
        values.push_back(NamedValue{entry.key, entry.key_node, entry.value});
    }
    return values;
}

const NamedValue* find_named(const std::vector<NamedValue>& values, std::string_view name) {
    auto it = std::find_if(values.begin(), values.end(), [&](const NamedValue& v) { return v.name == name; });
    return it == values.end() ? nullptr : &*it;
}

std::string optional_text(const Mapping& mapping, std::string_view key) {
    const YAML::Node* node = mapping.get(key);
    if (!node) return {};
    if (!node->IsScalar()) fail_at(mapping.file(), *node, fmt::format("expected text for '{}'", key));
    return node->Scalar();
}

VariantDecl read_variant(const FamilyFile& family, const YAML::Node& node) {
    const SourceFile& file = *family.file;
    const Mapping mapping(file, node, "a variant");
    mapping.allow_only({"id", "paper", "doc", "params"}, "a variant");
    VariantDecl variant;
    variant.node = node;
    variant.id = optional_text(mapping, "id");
    if (variant.id.empty()) fail_at(file, node, "a variant needs an 'id:' (e.g. igc-l24m2-d20)");
    variant.paper = optional_text(mapping, "paper");
    variant.doc = optional_text(mapping, "doc");
    if (const YAML::Node* params = mapping.get("params")) {
        variant.params = read_named_values(file, *params, "variant parameter");
        for (const NamedValue& param : variant.params)
            if (!find_named(family.params, param.name))
                fail_at(file, param.key_node, fmt::format("variant '{}' sets '{}', which is not a declared param",
                                                          variant.id, param.name));
    }
    return variant;
}

void read_variants(FamilyFile& family, const YAML::Node& node) {
    family.variants_node = node;
    for (const YAML::Node& item : require_sequence(*family.file, node, "variants")) {
        VariantDecl variant = read_variant(family, item);
        for (const VariantDecl& other : family.variants)
            if (other.id == variant.id)
                fail_at(*family.file, item, fmt::format("duplicate variant id '{}' (first at line {})", variant.id,
                                                        other.node.Mark().line + 1));
        family.variants.push_back(std::move(variant));
    }
}

// A --set value, parsed as a YAML scalar in a source of its own so that errors name it.
SourceFilePtr override_source(const std::string& key, const std::string& value) {
    auto source = std::make_shared<SourceFile>();
    source->display = fmt::format("--set {}={}", key, value);
    source->root = parse_yaml(value, source->display);
    if (!source->root.IsScalar())
        throw Error(fmt::format("{}: expected a single value (a number, true/false or text)", source->display));
    return source;
}

void check_override_keys(const FamilyFile& family, const std::map<std::string, std::string>& overrides) {
    for (const auto& [key, value] : overrides) {
        if (find_named(family.params, key)) continue;
        if (find_named(family.derived, key))
            throw Error(fmt::format("--set {}={}: '{}' is derived from other params in {} and cannot be set", key,
                                    value, key, family.file->display));
        std::vector<std::string> names;
        for (const NamedValue& param : family.params) names.push_back(param.name);
        throw Error(fmt::format("--set {}={}: unknown parameter '{}' (the params of {}: {})", key, value, key,
                                family.file->display, fmt::join(names, ", ")));
    }
}

}  // namespace

FamilyFile read_family_from(SourceFilePtr source) {
    FamilyFile family;
    family.file = source;
    family.top.emplace(*source, source->root, "a family file");
    const Mapping& top = *family.top;
    top.allow_only(kFamilyKeys, "a family file");
    family.family = optional_text(top, "family");
    if (family.family.empty()) fail_at(top.where(), "a family file needs 'family:' (the architecture family's name)");
    family.doc = optional_text(top, "doc");
    if (const YAML::Node* params = top.get("params")) family.params = read_named_values(*source, *params, "param");
    if (const YAML::Node* derived = top.get("derived"))
        family.derived = read_named_values(*source, *derived, "derived value");
    for (const NamedValue& value : family.derived)
        if (find_named(family.params, value.name))
            fail_at(*source, value.key_node, fmt::format("'{}' is both a param and a derived value", value.name));
    if (const YAML::Node* variants = top.get("variants")) read_variants(family, *variants);
    top.require("graph", "a family file");
    top.require("inputs", "a family file");
    return family;
}

FamilyFile read_family(const fs::path& path) { return read_family_from(load_source(path, path.string())); }

GraphFileInfo info_of(const FamilyFile& family) {
    GraphFileInfo info;
    info.path = family.file->path;
    info.family = family.family;
    info.doc = family.doc;
    for (const NamedValue& param : family.params) info.params[param.name] = param.value.Scalar();
    for (const VariantDecl& decl : family.variants) {
        VariantInfo variant{decl.id, decl.paper, {}};
        for (const NamedValue& param : decl.params) variant.params[param.name] = param.value.Scalar();
        info.variants.push_back(std::move(variant));
    }
    return info;
}

const VariantDecl* find_variant(const FamilyFile& family, const std::string& id) {
    if (id.empty()) return nullptr;
    for (const VariantDecl& variant : family.variants)
        if (variant.id == id) return &variant;
    std::vector<std::string> ids;
    for (const VariantDecl& variant : family.variants) ids.push_back(variant.id);
    const YAML::Node where = family.variants_node.IsDefined() ? family.variants_node : family.file->root;
    fail_at(*family.file, where, fmt::format("unknown variant '{}' of family '{}' (its variants: {})", id, family.family,
                                             ids.empty() ? "none" : fmt::format("{}", fmt::join(ids, ", "))));
}

VariableBindings ParamResolver::resolve(const VariantDecl* variant,
                                        const std::map<std::string, std::string>& overrides) {
    check_override_keys(family_, overrides);
    VariableBindings params;
    for (const NamedValue& param : family_.params) {
        const std::string what = fmt::format("param '{}'", param.name);
        if (auto it = overrides.find(param.name); it != overrides.end()) {
            SourceFilePtr source = override_source(param.name, it->second);
            params.define(param.name, evaluate_scalar(*source, source->root, params, what));
        } else if (const NamedValue* chosen = variant ? find_named(variant->params, param.name) : nullptr) {
            params.define(param.name, evaluate_scalar(*family_.file, chosen->value, params, what));
        } else {
            params.define(param.name, evaluate_scalar(*family_.file, param.value, params, what));
        }
    }
    for (const NamedValue& value : family_.derived)
        params.define(value.name, evaluate_scalar(*family_.file, value.value, params,
                                                  fmt::format("derived value '{}'", value.name)));
    run_checks(params);
    return params;
}

// `checks:` entries state what the params must satisfy, e.g. depth = 3B + 2.
void ParamResolver::run_checks(const VariableBindings& params) const {
    const YAML::Node* checks = family_.top->get("checks");
    if (!checks) return;
    const SourceFile& file = *family_.file;
    for (const YAML::Node& item : require_sequence(file, *checks, "checks")) {
        const Mapping check(file, item, "a check");
        check.allow_only({"require", "message"}, "a check");
        const YAML::Node& condition = check.require("require", "a check");
        if (evaluate_bool(file, condition, params, "a check's require")) continue;
        const YAML::Node* message = check.get("message");
        fail_at(file, item, fmt::format("check failed: {} (require: {})",
                                        message ? evaluate_text(file, *message, params, "a check's message")
                                                : std::string("condition is false"),
                                        condition.Scalar()));
    }
}

std::string describe_params(const FamilyFile& family, const VariableBindings& params) {
    std::vector<std::string> parts;
    for (const NamedValue& param : family.params)
        parts.push_back(fmt::format("{}={}", param.name, format_expr_value(*params.find(param.name))));
    return fmt::format("{}", fmt::join(parts, " "));
}

}  // namespace weft::graph_file
