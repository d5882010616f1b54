// Who reads each value of a graph: the nodes taking it as an input and the graph outputs naming
// it. Passes ask this for every candidate rewrite ("is this value used once?"), so it is an index
// built in one sweep over the graph and kept current by the edits made through it — asking costs
// no scan of the graph, and a pass over 100,000 nodes stays linear. Part of the plugin SDK.
#pragma once

#include <vector>

#include "weft/graph.h"

namespace weft {

class ValueReaders {
public:
    explicit ValueReaders(const Graph& graph);

    // The nodes reading `v`, ascending, each once (a node reading it twice is listed once).
    const std::vector<int>& nodes_reading(int v) const;
    // How many places use `v`: its reading nodes (each once) and the graph outputs naming it.
    int uses(int v) const;

    // Makes every reader of `from` (nodes and graph outputs) read `to` instead, in `graph` (the
    // graph this index describes) and in the index.
    void replace_uses(Graph& graph, int from, int to);

    // Whether the index was built for a graph of this many nodes and values: nodes added since
    // (Graph::add_node) make it stale, and the helpers then rebuild it.
    bool describes(const Graph& graph) const;

private:
    std::vector<std::vector<int>> readers_;  // per value
    std::vector<int> output_uses_;           // per value: how often graph.outputs names it
    std::size_t node_count_ = 0;
};

}  // namespace weft
