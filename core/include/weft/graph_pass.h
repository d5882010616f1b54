// Graph passes: rewrites of a shaped graph (and its weights) before it is compiled, such as
// folding batch norm into the preceding convolution. Passes know operators, so they come from
// plugins; core only runs them, in order, and lets the user switch each one (--passes).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "weft/graph.h"
#include "weft/value_readers.h"
#include "weft/weights.h"

namespace weft {

class Registry;

struct PassContext {
    Graph& graph;         // shape-inferred; passes may edit nodes, attributes and edges
    WeightMap& weights;   // passes that fold parameters rewrite them here
    const Registry& registry;
    // Who reads each value, built when the pass starts and kept current by replace_uses, so that
    // asking costs no scan of the graph. Nodes added since are noticed and the index rebuilt; a
    // pass that rewires Node::inputs or Graph::outputs by hand calls reindex() afterwards.
    ValueReaders readers{graph};
    void reindex() { readers = ValueReaders(graph); }
};

struct GraphPass {
    std::string name;  // "fold_batch_norm"
    std::string doc;
    int order = 0;     // passes run in ascending order, then by name
    // Most rewrites are only valid for inference (batch norm with running statistics).
    bool inference_only = true;
    // Returns how many rewrites it made; throws weft::Error if the graph cannot be handled.
    std::function<int(PassContext&)> run;
};

struct PassReport {
    std::string name;
    int rewrites = 0;
};

// Parses a --passes selection: "default" or "all" (every registered pass), "none", or a
// comma-separated list of names, each optionally prefixed with '-' to remove it from the
// default set ("-fuse_relu"). Unknown names are an error listing the known ones.
std::vector<const GraphPass*> select_passes(const Registry& registry, const std::string& selection, bool training);

// Runs the passes, removes nodes left without readers, and re-infers shapes. Callers put
// dead_node_pass() first (select_passes does), so no pass sees a node whose result nobody uses.
std::vector<PassReport> run_passes(Graph& graph, WeightMap& weights, const Registry& registry,
                                   const std::vector<const GraphPass*>& passes);

// Runs `rewrite(context, node)` on every node whose op is `op` (in node order) and returns how many
// calls returned true: the loop of most rewrite passes.
int rewrite_each(PassContext& context, std::string_view op, const std::function<bool(PassContext&, int)>& rewrite);
// The same over every node whose op's schema satisfies `which` (a trait, not a name).
int rewrite_each(PassContext& context, const std::function<bool(const OpSchema&)>& which,
                 const std::function<bool(PassContext&, int)>& rewrite);
// Whether `op`'s schema declares an attribute `name` of `type` — how a pass asks what an op
// supports without naming it.
bool op_has_attribute(const Registry& registry, std::string_view op, std::string_view name, AttrType type);
// Whether every backend that can run on this machine, and at least one, passes `has_kernel` — for
// a pass whose rewrite only some kernels compute (a GPU host keeps the nodes as written until its
// backend has one). A pass is not told which device the graph will run on, so it asks about all.
bool every_usable_backend(const Registry& registry,
                          const std::function<bool(const std::string& backend)>& has_kernel);

// Editing helpers for passes, answered from context.readers (rebuilt first if nodes were added).
// Makes every reader of `from` (nodes and graph outputs) read `to` instead.
void replace_uses(PassContext& context, int from, int to);
// Indices of the nodes reading value `v`, ascending (a node reading it twice is listed once).
std::vector<int> readers_of(PassContext& context, int v);
// How many places use value `v`: the nodes reading it (each once) and the graph outputs naming it.
// A pass may rewrite v's producer only when this is 1 — a graph output is a reader too, and a
// rewrite would change what the user asked to see.
int uses_of(PassContext& context, int v);
// Removes nodes whose outputs nobody reads (and that are not graph outputs), and the values
// they produced, along with their weights; renumbers nodes and values. Returns how many.
int remove_dead_nodes(Graph& graph, WeightMap* weights);

// The pass that runs remove_dead_nodes before every other pass ("eliminate_dead_nodes"), for
// training and inference. Core registers it itself: it needs no operator knowledge.
GraphPass dead_node_pass();

}  // namespace weft
