// The graph-file loader (docs/graph-format.md): reads a family file and the block libraries it
// includes, resolves parameters (defaults < variant < --set), and expands the `graph:` sequence
// (blocks, repeats, conditionals) into a plain Graph. It knows no operator: `op:` names and
// attributes pass through untouched, and the registry's schemas judge them later.
#include "weft/graph_file.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "graph_file_blocks.h"
#include "graph_file_expander.h"
#include "graph_file_family.h"
#include "graph_file_yaml.h"

namespace weft {
namespace fs = std::filesystem;
using graph_file::BlockArg;
using graph_file::BlockDef;
using graph_file::BlockLibrary;
using graph_file::describe_params;
using graph_file::Entry;
using graph_file::evaluate_attribute;
using graph_file::evaluate_bool;
using graph_file::evaluate_integer;
using graph_file::evaluate_scalar;
using graph_file::evaluate_text;
using graph_file::expand_graph;
using graph_file::fail_at;
using graph_file::FamilyFile;
using graph_file::find_variant;
using graph_file::format_expr_value;
using graph_file::info_of;
using graph_file::kCallKeys;
using graph_file::load_source;
using graph_file::location_of;
using graph_file::Mapping;
using graph_file::NamedValue;
using graph_file::ParamResolver;
using graph_file::parse_yaml;
using graph_file::read_family;
using graph_file::read_family_from;
using graph_file::require_identifier;
using graph_file::require_sequence;
using graph_file::scalar_or_list;
using graph_file::SourceFile;
using graph_file::SourceFilePtr;
using graph_file::VariableBindings;
using graph_file::VariantDecl;

namespace {

// =============================================================================================
// The zoo: family files on the graph search path

std::vector<fs::path> yaml_files_under(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& path = it->path();
        if (it->is_regular_file(ec) && (path.extension() == ".yaml" || path.extension() == ".yml")) files.push_back(path);
    }
    std::sort(files.begin(), files.end());
    return files;
}

// Block libraries (files without `family:`) live beside the families and are skipped.
std::optional<FamilyFile> read_if_family(const fs::path& path) {
    SourceFilePtr source = load_source(path, path.string());
    const YAML::Node& root = source->root;
    if (!root.IsMap() || !root["family"].IsDefined()) return std::nullopt;
    return read_family_from(source);
}

std::vector<GraphFileInfo> zoo_families() {
    std::vector<GraphFileInfo> families;
    std::set<fs::path> seen;
    for (const fs::path& dir : graph_search_path()) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) continue;
        for (const fs::path& path : yaml_files_under(dir)) {
            if (!seen.insert(fs::weakly_canonical(path, ec)).second) continue;
            if (auto family = read_if_family(path)) families.push_back(info_of(*family));
        }
    }
    return families;
}

}  // namespace

// =============================================================================================
// Public API

GraphFileInfo read_graph_file_info(const fs::path& path) { return info_of(read_family(path)); }

Graph load_graph_file(const fs::path& path, const GraphFileOptions& options) {
    const FamilyFile family = read_family(path);
    const VariantDecl* variant = find_variant(family, options.variant);
    const VariableBindings params = ParamResolver(family).resolve(variant, options.overrides);
    BlockLibrary blocks;
    blocks.add_family(family);
    return expand_graph(family, variant, params, blocks);
}

Graph resolve_graph(const std::string& spec, const GraphFileOptions& options) {
    std::error_code ec;
    if (fs::is_regular_file(spec, ec)) return load_graph_file(spec, options);
    const std::vector<GraphFileInfo> families = zoo_families();
    for (const GraphFileInfo& info : families)
        for (const VariantInfo& variant : info.variants) {
            if (variant.id != spec) continue;
            if (!options.variant.empty() && options.variant != spec)
                throw Error(fmt::format("'{}' is itself a variant; it cannot also take variant '{}'", spec,
                                        options.variant));
            GraphFileOptions chosen = options;
            chosen.variant = spec;
            return load_graph_file(info.path, chosen);
        }
    for (const GraphFileInfo& info : families)
        if (info.family == spec) return load_graph_file(info.path, options);
    std::vector<std::string> dirs;
    for (const fs::path& dir : graph_search_path()) dirs.push_back(dir.string());
    throw Error(fmt::format("'{}' is neither a graph file nor a variant id or family on the graph search path "
                            "(searched: {}; set WEFT_GRAPH_PATH to add directories)", spec, fmt::join(dirs, ", ")));
}

std::vector<std::pair<GraphFileInfo, VariantInfo>> list_zoo() {
    std::vector<std::pair<GraphFileInfo, VariantInfo>> zoo;
    for (const GraphFileInfo& info : zoo_families())
        for (const VariantInfo& variant : info.variants) zoo.emplace_back(info, variant);
    return zoo;
}

}  // namespace weft
