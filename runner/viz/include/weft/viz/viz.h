// Pictures of graphs: DOT, SVG and PNG (Graphviz, in-process), a JSON export with a stable schema
// (docs/visualisation.md), a self-contained interactive HTML page, the channel view of one IGC
// block (the paper's Figure 1) and profile heat maps. Works on any shape-inferred DAG; nothing
// here depends on a particular network family.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "weft/graph.h"
#include "weft/registry.h"

namespace weft::viz {

// The version of the JSON export's schema. Bumped when a field changes meaning or disappears;
// adding a field does not bump it.
inline constexpr int kJsonSchemaVersion = 1;

enum class Format { dot, svg, png, json, html };
// none: every operator, blocks and stages drawn as clusters. blocks: one box per block instance
// (the innermost scope entry that instantiates a block), inside stage clusters. stages: one box
// per outermost scope entry.
enum class Collapse { none, blocks, stages };

struct Annotations {
    bool shapes = true;   // tensor shapes on edges
    bool params = false;  // parameter counts (the paper's #params) in boxes
    bool macs = false;    // multiply-adds per image in boxes
    bool time = false;    // measured time in boxes (needs a profile)
};

struct ViewOptions {
    Collapse collapse = Collapse::blocks;
    Annotations annotate;
    // Measured milliseconds per batch, one per graph node (Executor::node_seconds scaled), or
    // empty. When given, boxes are coloured on a heat scale by time instead of by operator.
    std::vector<double> node_ms;
    // The kernel that ran each graph node ("library:kernel", Executor::kernel_name), or empty:
    // shown in operator boxes and exported, so a profile says which kernel took the time.
    std::vector<std::string> node_kernels;
    std::string title;  // empty: the graph's name and variant
};

Format parse_format(std::string_view name);                  // throws weft::Error
Format format_from_path(const std::filesystem::path& path);  // by extension; throws
std::string_view format_name(Format format);
Collapse parse_collapse(std::string_view name);               // throws weft::Error
Annotations parse_annotations(std::string_view list);        // "shapes,params,macs,time"

// The graph view in DOT (what Graphviz's `dot` reads).
std::string graph_dot(const Graph& graph, const ViewOptions& options);

// The JSON export (schema in docs/visualisation.md): every operator with its attributes,
// shapes, parameters, cost, block membership and, with a profile, time; every edge.
nlohmann::json graph_json(const Graph& graph, const ViewOptions& options);
// Reads the export back into a Graph: nodes (name, op, attributes, scope), values, inputs,
// outputs and edges as they were; shapes are those of the export (run infer_shapes to recheck).
Graph graph_from_json(const nlohmann::json& json);

// One self-contained HTML file: the graph at three levels of detail (stages, blocks, operators)
// laid out by Graphviz, with pan, zoom, search, details on click and expand/collapse of blocks.
// The page honours a URL fragment `#select=NODE` (and `#view=stages|blocks|none`).
std::string graph_html(const Graph& graph, const ViewOptions& options);

// The channel connectivity of the IGC block that contains `node` (any node of the block):
// input channels, the primary partitions, the permutations, the secondary partitions, drawn as
// in the paper's Figure 1 from the block's operators' attributes, shapes and traits (any op
// declaring the channel-permutation trait is drawn as a permutation). Graphviz input with fixed
// positions (layout=nop2, so `dot` and `neato -n2` both keep them).
std::string channel_dot(const Graph& graph, const Registry& registry, const std::string& node);

// Lays out DOT text with the Graphviz library and writes SVG; png is that SVG rasterised
// (report::svg_to_png).
std::string render(const std::string& dot, Format format);

// The file content for a format: graph views (dot, svg, png, json, html).
std::string export_graph(const Graph& graph, const ViewOptions& options, Format format);
// The file content of a channel view (dot, svg, png; html embeds the SVG in a page).
std::string export_channels(const Graph& graph, const Registry& registry, const std::string& node, Format format);

// Atomically (weft::write_file_atomically): a failure leaves no partial file; throws naming the path.
void write_file(const std::filesystem::path& path, const std::string& content);

}  // namespace weft::viz
