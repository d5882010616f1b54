// YAML graph files (docs/graph-format.md): one file per architecture family, with parameters,
// expressions, named variants, reusable blocks, repeats, conditionals and includes. Loading
// expands everything into a plain Graph; errors carry file:line:column.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "weft/graph.h"

namespace weft {

struct GraphFileOptions {
    std::string variant;                        // empty: the file's defaults
    std::map<std::string, std::string> overrides;  // --set KEY=VALUE (VALUE parsed as YAML scalar)
};

struct VariantInfo {
    std::string id;     // e.g. "igc-l24m2-d20"
    std::string paper;  // e.g. "Table 3"
    std::map<std::string, std::string> params;  // as written in the file
};

struct GraphFileInfo {
    std::filesystem::path path;
    std::string family;
    std::string doc;
    std::map<std::string, std::string> params;  // defaults as written
    std::vector<VariantInfo> variants;
};

// Reads the header of a family file (family, params, variants) without expanding the graph.
GraphFileInfo read_graph_file_info(const std::filesystem::path& path);

// Loads and expands a graph file. The returned graph has batch dimension 1 on its inputs and is
// not yet shape-inferred (see infer_shapes). meta holds "family", "variant" and "file".
Graph load_graph_file(const std::filesystem::path& path, const GraphFileOptions& options = {});

// Directories searched for zoo ids: WEFT_GRAPH_PATH (colon-separated), then <prefix>/share/weft/graphs
// next to the running program.
std::vector<std::filesystem::path> graph_search_path();

// A GRAPH argument: an existing YAML file (with options.variant), or a variant id found in a
// family file on the graph search path. Throws naming what was tried.
Graph resolve_graph(const std::string& spec, const GraphFileOptions& options = {});

// Every variant of every family on the graph search path, in file then declaration order.
std::vector<std::pair<GraphFileInfo, VariantInfo>> list_zoo();

}  // namespace weft
