// Expansion of a family's `graph:` sequence into a Graph (docs/graph-format.md, "Items" and "Names
// and inputs"): ops, block calls, repeats and conditionals, the names `inputs:` refer to, and the
// graph's inputs, outputs and meta. It is separate from reading the files: by the time it runs the
// header, the parameters and the blocks have been read and checked, and this is the only part that
// builds nodes.
#pragma once

#include "graph_file_blocks.h"
#include "graph_file_family.h"
#include "weft/graph.h"

namespace weft::graph_file {

// The graph of one family with its params resolved, calling the blocks of `blocks`: batch 1 on its
// inputs, not yet shape-inferred.
Graph expand_graph(const FamilyFile& family, const VariantDecl* variant, const VariableBindings& params,
                   const BlockLibrary& blocks);

}  // namespace weft::graph_file
