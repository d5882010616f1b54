// A family file's header (docs/graph-format.md, "Family file: top-level keys"): family, doc,
// params, derived values and variants, read without expanding the graph; and the parameters one
// load resolves from them (defaults < variant < --set, then derived values, then checks). It is
// separate from the expansion because read_graph_file_info and the zoo need this part only, and
// because every expression in the file sees the values it resolves.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graph_file_yaml.h"
#include "weft/graph_file.h"

namespace weft::graph_file {

// =============================================================================================
// The family file's header: family, params, derived, variants

struct NamedValue {
    std::string name;
    YAML::Node key_node;
    YAML::Node value;
};

struct VariantDecl {
    std::string id;
    std::string paper;
    std::string doc;
    YAML::Node node;
    std::vector<NamedValue> params;
};

struct FamilyFile {
    SourceFilePtr file;
    std::string family;
    std::string doc;
    std::vector<NamedValue> params;   // settable, in file order
    std::vector<NamedValue> derived;  // computed from params, not settable
    std::vector<VariantDecl> variants;
    YAML::Node variants_node;
    std::optional<Mapping> top;
};

FamilyFile read_family_from(SourceFilePtr source);
FamilyFile read_family(const std::filesystem::path& path);
GraphFileInfo info_of(const FamilyFile& family);

// =============================================================================================
// Parameters: defaults < variant < --set, then derived values, then checks

// nullptr for an empty id (the file's defaults); an unknown id is an error naming the known ones.
const VariantDecl* find_variant(const FamilyFile& family, const std::string& id);

class ParamResolver {
public:
    explicit ParamResolver(const FamilyFile& family) : family_(family) {}

    // The values every expression in the file sees, in declaration order.
    VariableBindings resolve(const VariantDecl* variant, const std::map<std::string, std::string>& overrides);

private:
    void run_checks(const VariableBindings& params) const;

    const FamilyFile& family_;
};

// `name=value` for each param, in declaration order (the graph's meta "params").
std::string describe_params(const FamilyFile& family, const VariableBindings& params);

}  // namespace weft::graph_file
