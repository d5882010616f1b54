// The graph-file loader (docs/graph-format.md): reads a family file and the block libraries it
// includes, resolves parameters (defaults < variant < --set), and expands the `graph:` sequence
// (blocks, repeats, conditionals) into a plain Graph. It knows no operator: `op:` names and
// attributes pass through untouched, and the registry's schemas judge them later.
//
// This file holds the entry points; each step is a file of its own (namespace graph_file):
//   graph_file_yaml      source files, strict mappings, scalars and `${…}` evaluation
//   graph_file_family    the family file's header, variants and parameter resolution
//   graph_file_blocks    the block library and includes
//   graph_file_expander  the `graph:` sequence expanded into nodes
//   graph_file_zoo.cpp   family files on the graph search path (resolve_graph, list_zoo)
#include "weft/graph_file.h"

#include "graph_file_blocks.h"
#include "graph_file_expander.h"
#include "graph_file_family.h"

namespace weft {
namespace fs = std::filesystem;
using graph_file::BlockLibrary;
using graph_file::expand_graph;
using graph_file::FamilyFile;
using graph_file::find_variant;
using graph_file::info_of;
using graph_file::ParamResolver;
using graph_file::read_family;
using graph_file::VariableBindings;
using graph_file::VariantDecl;

GraphFileInfo read_graph_file_info(const fs::path& path) { return info_of(read_family(path)); }

Graph load_graph_file(const fs::path& path, const GraphFileOptions& options) {
    const FamilyFile family = read_family(path);
    const VariantDecl* variant = find_variant(family, options.variant);
    const VariableBindings params = ParamResolver(family).resolve(variant, options.overrides);
    BlockLibrary blocks;
    blocks.add_family(family);
    return expand_graph(family, variant, params, blocks);
}

}  // namespace weft
