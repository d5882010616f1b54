// The interactive page: one file with the CSS and JavaScript inline (assets/viewer.*), the graph
// laid out by Graphviz at three levels of detail, and the JSON export for the details panel.
// Nothing is fetched from the network.
#include <fmt/format.h>

#include "assets.h"
#include "dot.h"
#include "view.h"

namespace weft::viz {
namespace {

using nlohmann::json;

constexpr Collapse kLevels[] = {Collapse::stages, Collapse::blocks, Collapse::none};

std::string level_name(Collapse c) {
    return c == Collapse::stages ? "stages" : c == Collapse::blocks ? "blocks" : "none";
}

// Graphviz writes a standalone document; inline SVG in HTML starts at the <svg> element.
std::string inline_svg(const std::string& svg) {
    const auto start = svg.find("<svg");
    return start == std::string::npos ? svg : svg.substr(start);
}

json view_json(const Graph& g, const View& view) {
    json units = json::array();
    for (const Unit& u : view.units) {
        const char* kinds[] = {"op", "block", "input", "output"};
        units.push_back({{"id", u.id},
                         {"kind", kinds[static_cast<int>(u.kind)]},
                         {"label", u.label},
                         {"type", u.type},
                         {"cluster", u.cluster},
                         {"nodes", u.nodes},
                         {"params", u.params},
                         {"macs", u.macs},
                         {"ms", u.ms}});
    }
    json clusters = json::array();
    for (const Group& c : view.clusters)
        clusters.push_back({{"id", c.id}, {"name", c.name}, {"block", c.block}, {"parent", c.parent}});
    json edges = json::array();
    for (const Edge& e : view.edges)
        edges.push_back({{"from", e.from}, {"to", e.to}, {"value", g.values[e.value].name},
                         {"shape", g.values[e.value].desc.shape}});
    return {{"units", units}, {"clusters", clusters}, {"edges", edges}, {"total_ms", view.total_ms}};
}

// JSON inside <script>: "</" would end the element early; "<\/" is the same JSON string.
std::string script_safe(std::string s) {
    for (std::size_t at = s.find("</"); at != std::string::npos; at = s.find("</", at + 3)) s.replace(at, 2, "<\\/");
    return s;
}

}  // namespace

std::string graph_html(const Graph& graph, const ViewOptions& options) {
    json data = {{"graph", graph_json(graph, options)}, {"initial", level_name(options.collapse)}, {"views", json::object()}};
    std::string views;
    for (Collapse level : kLevels) {
        const std::string name = level_name(level);
        const View view = build_view(graph, level, options.node_ms);
        ViewOptions o = options;
        o.collapse = level;
        DotSettings settings;
        settings.id_prefix = name + "-";
        const std::string svg = render(view_dot(graph, view, o, settings), Format::svg);
        data["views"][name] = view_json(graph, view);
        views += fmt::format("<div class=\"view\" data-view=\"{}\" hidden>{}</div>\n", name, inline_svg(svg));
    }
    const std::string title = options.title.empty() ? graph_title(graph) : options.title;
    std::string page;
    page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    page += "<title>" + html_escape(graph.name) + " · weft</title>\n";
    page += "<style>\n" + std::string(kViewerCss) + "</style>\n</head>\n<body>\n";
    page += fmt::format(
        "<header>\n<h1>{}</h1>\n<nav>\n"
        "<span class=\"seg\" role=\"group\" aria-label=\"level of detail\">"
        "<button data-level=\"stages\">Stages</button><button data-level=\"blocks\">Blocks</button>"
        "<button data-level=\"none\">Operators</button></span>\n"
        "<input id=\"search\" type=\"search\" placeholder=\"Search nodes  ( / )\" autocomplete=\"off\">"
        "<span id=\"matches\"></span>\n<button id=\"fit\" title=\"fit to window (f)\">Fit</button>\n"
        "</nav>\n</header>\n<main>\n<section id=\"canvas\">\n{}</section>\n"
        "<aside id=\"details\"><p class=\"hint\">Click a box for its attributes, shapes, parameters and cost. "
        "Double-click a block to expand it, an operator to collapse its block. Drag to pan, scroll to zoom.</p></aside>\n"
        "</main>\n",
        html_escape(title), views);
    page += "<script type=\"application/json\" id=\"weft-data\">" + script_safe(data.dump()) + "</script>\n";
    page += "<script>\n" + std::string(kViewerJs) + "</script>\n</body>\n</html>\n";
    return page;
}

}  // namespace weft::viz
