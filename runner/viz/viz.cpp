// Option parsing and the one place that maps a format to its writer.
#include <fmt/format.h>

#include "dot.h"
#include "weft/error.h"
#include "weft/output_file.h"
#include "weft/report/files.h"
#include "weft/viz/viz.h"

namespace weft::viz {

Format parse_format(std::string_view name) {
    if (name == "dot" || name == "gv") return Format::dot;
    if (name == "svg") return Format::svg;
    if (name == "png") return Format::png;
    if (name == "json") return Format::json;
    if (name == "html" || name == "htm") return Format::html;
    throw Error(fmt::format("unknown format '{}': expected dot, svg, png, json or html", name));
}

Format format_from_path(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    if (ext.empty())
        throw Error(fmt::format("'{}': cannot tell the format without an extension; give --format", path.string()));
    return parse_format(ext.substr(1));
}

std::string_view format_name(Format format) {
    switch (format) {
        case Format::dot: return "dot";
        case Format::svg: return "svg";
        case Format::png: return "png";
        case Format::json: return "json";
        case Format::html: return "html";
    }
    return "?";
}

Collapse parse_collapse(std::string_view name) {
    if (name == "none") return Collapse::none;
    if (name == "blocks") return Collapse::blocks;
    if (name == "stages") return Collapse::stages;
    throw Error(fmt::format("unknown collapse level '{}': expected blocks, stages or none", name));
}

Annotations parse_annotations(std::string_view list) {
    Annotations a{false, false, false, false};
    std::size_t start = 0;
    while (start <= list.size()) {
        const std::size_t end = std::min(list.find(',', start), list.size());
        const std::string_view item = list.substr(start, end - start);
        if (item == "shapes") a.shapes = true;
        else if (item == "params") a.params = true;
        else if (item == "macs") a.macs = true;
        else if (item == "time") a.time = true;
        else if (!item.empty() && item != "none")
            throw Error(fmt::format("unknown annotation '{}': expected shapes, params, macs or time", item));
        start = end + 1;
    }
    return a;
}

std::string export_graph(const Graph& graph, const ViewOptions& options, Format format) {
    if (options.annotate.time && options.node_ms.empty())
        throw Error("--annotate time needs measured times (weft bench --viz, or weft viz --times FILE)");
    switch (format) {
        case Format::dot: return graph_dot(graph, options);
        case Format::svg:
        case Format::png: return render(graph_dot(graph, options), format);
        case Format::json: return graph_json(graph, options).dump(2) + "\n";
        case Format::html: return graph_html(graph, options);
    }
    return {};
}

std::string export_channels(const Graph& graph, const Registry& registry, const std::string& node, Format format) {
    const std::string dot = channel_dot(graph, registry, node);
    switch (format) {
        case Format::dot: return dot;
        case Format::svg:
        case Format::png: return render(dot, format);
        case Format::html: {
            const std::string svg = render(dot, Format::svg);
            return fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} channels</title>"
                               "<style>body{{margin:0;font-family:{}}} svg{{max-width:100%;height:auto}}</style></head>"
                               "<body>{}</body></html>\n",
                               html_escape(node), kFont, svg.substr(std::min(svg.find("<svg"), svg.size())));
        }
        case Format::json:
            throw Error("--channels draws a picture: use --format dot, svg, png or html");
    }
    return {};
}

void write_file(const std::filesystem::path& path, const std::string& content) {
    write_file_atomically(path, content);
}

}  // namespace weft::viz
