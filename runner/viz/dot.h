// DOT text for a View, and the escaping rules DOT and HTML-like labels need.
#pragma once

#include <string>
#include <string_view>

#include "view.h"

namespace weft::viz {

struct DotSettings {
    std::string id_prefix;  // prepended to the SVG ids of boxes ("u<k>") and clusters ("c<k>")
    bool legend = true;
    // A cluster whose boxes form a chain is drawn as rows of at most this many boxes, so deep
    // networks read like lines of text instead of one very tall column.
    int row_length = 8;
};

std::string view_dot(const Graph& graph, const View& view, const ViewOptions& options,
                     const DotSettings& settings = {});

std::string dot_quote(std::string_view s);    // "..." with \" and \\ escaped
std::string html_escape(std::string_view s);  // & < > " escaped

// The default title line: variant id, #params, multiply-adds per image.
std::string graph_title(const Graph& graph);

// Font stacks: browsers read the SVG's font-family list; Graphviz's cairo renderer asks
// fontconfig for the same list when it draws PNGs.
inline constexpr const char* kFont = "Helvetica,Arial,sans-serif";

}  // namespace weft::viz
