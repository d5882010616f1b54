// The drawable view of a graph: which graph nodes become one box (collapse), which clusters
// enclose the boxes, and the edges between boxes. DOT, HTML and the tests all start from here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/graph.h"
#include "weft/viz/viz.h"

namespace weft::viz {

// A scope prefix of some node: the instance path "stage1.block0" and what it instantiates.
struct Group {
    std::string id;      // dotted instance names, outermost first
    std::string name;    // the last instance name
    std::string block;   // template, empty for a plain group (repeat)
    std::string parent;  // enclosing group's id, empty at top level
};

struct Unit {
    enum class Kind { op, block, input, output };
    Kind kind = Kind::op;
    std::string id;     // node name, group id, or graph value name for inputs and outputs
    std::string label;  // what the box says first
    std::string type;   // op name, block template ("" for a plain group), "input", "output"
    std::string cluster;     // the enclosing drawn group's id, empty at top level
    std::vector<int> nodes;  // graph nodes drawn by this box, in topological order
    std::int64_t params = 0;  // counted (the paper's #params)
    std::int64_t macs = 0;    // per image
    double ms = 0;            // measured, per batch
};

struct Edge {
    int from = 0;   // unit indices
    int to = 0;
    int value = 0;  // the graph value carried
};

struct View {
    std::vector<Unit> units;
    std::vector<Group> clusters;  // drawn groups, parents before children
    std::vector<Edge> edges;
    bool has_profile = false;
    double total_ms = 0;
    double max_ms = 0;  // of one unit
};

// Every scope prefix of a node, outermost first ("stage1", "stage1.block0").
std::vector<Group> node_groups(const Node& node);
// The innermost group of a node that instantiates a block; -1 when none does.
int innermost_block(const std::vector<Group>& groups);

View build_view(const Graph& graph, Collapse collapse, const std::vector<double>& node_ms);

// What a box for a plain group (a repeat, no template) holds: "2 × igc_block", or "12 operators".
std::string group_summary(const Graph& graph, const Unit& unit);

std::int64_t counted_params(const Node& node);
std::string compact_shape(const Shape& shape);  // "48×32×32" (batch dimension dropped)
std::string attr_brief(const Node& node);       // "3×3 s2 g24", from generic attribute names
std::string human_count(double n);              // 1.2K, 3.40M

}  // namespace weft::viz
