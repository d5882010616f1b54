// weft viz: pictures of a graph (docs/visualisation.md): DOT, SVG, PNG, JSON or an interactive
// HTML page, collapsed to blocks or stages or every operator, and the channel view of one IGC
// block (the paper's Figure 1).

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"
#include "weft/error.h"
#include "weft/input_file.h"
#include "weft/viz/viz.h"
#include "written_file.h"

namespace weft::runner {
namespace {

struct VizOptions {
    GraphOptions graph;
    std::string output;
    std::string format;  // empty: from the output's extension
    std::string collapse = "blocks";
    std::string annotate = "shapes";
    std::string channels;
    std::string times;
    std::string title;
    std::int64_t batch = 1;
    bool json = false;
};

// Per-node milliseconds from `weft bench --profile --json` output, matched by node name.
std::vector<double> read_times(const std::string& path, const Graph& g) {
    const nlohmann::json j = nlohmann::json::parse(read_whole_file(path, 64 << 20, "a profile"), nullptr, false);
    if (j.is_discarded() || !j.contains("profile") || !j["profile"].is_array())
        throw Error(fmt::format("--times: '{}' is not the output of `weft bench --profile --json`", path));
    std::vector<double> ms(g.nodes.size(), 0.0);
    for (const auto& entry : j["profile"]) {
        const int n = g.find_node(entry.value("name", ""));
        if (n < 0)
            throw Error(fmt::format("--times: '{}' times node '{}', which graph '{}' does not have", path,
                                    entry.value("name", ""), g.name));
        ms[n] = entry.value("ms", 0.0);
    }
    return ms;
}

void viz(const VizOptions& o) {
    const bool to_stdout = o.output == "-";
    const viz::Format format = !o.format.empty() ? viz::parse_format(o.format)
                               : to_stdout       ? viz::Format::dot
                                                 : viz::format_from_path(o.output);
    if (to_stdout && format == viz::Format::png) throw Error("-o -: PNG is binary; write it to a file");
    if (to_stdout && o.json) throw Error("--json describes the file written; with -o - the picture itself goes to stdout");
    auto registry = load_registry(o.graph);
    Graph g = load_graph(o.graph, *registry, o.batch);
    std::string content;
    if (!o.channels.empty()) {
        content = viz::export_channels(g, *registry, o.channels, format);
    } else {
        viz::ViewOptions view;
        view.collapse = viz::parse_collapse(o.collapse);
        view.annotate = viz::parse_annotations(o.annotate);
        view.title = o.title;
        if (!o.times.empty()) view.node_ms = read_times(o.times, g);
        content = viz::export_graph(g, view, format);
    }
    if (to_stdout) {
        fmt::print("{}", content);
        return;
    }
    viz::write_file(o.output, content);
    const WrittenFile written{o.output, std::string(viz::format_name(format)), content.size()};
    if (o.json) fmt::print("{}\n", written.json().dump(2));
    else fmt::print("{}\n", written.line());
}

}  // namespace

void add_viz_command(CLI::App& app) {
    auto o = std::make_shared<VizOptions>();
    CLI::App* cmd = app.add_subcommand("viz", "draw a graph: dot, svg, png, json or interactive html");
    add_graph_options(*cmd, o->graph);
    cmd->add_option("-o,--output", o->output, "file to write ('-': standard output)")->required();
    cmd->add_option("--format", o->format, "dot, svg, png, json or html (default: from the file extension)");
    cmd->add_option("--collapse", o->collapse, "one box per block instance, per stage, or every operator")
        ->check(CLI::IsMember({"blocks", "stages", "none"}))
        ->capture_default_str();
    cmd->add_option("--annotate", o->annotate, "comma-separated: shapes, params, macs, time")->capture_default_str();
    cmd->add_option("--channels", o->channels, "draw the channel connectivity of the block containing NODE (Figure 1)");
    cmd->add_option("--times", o->times, "colour by measured time: output of `weft bench --profile --json`");
    cmd->add_option("--title", o->title, "title line (default: graph, #params, multiply-adds)");
    cmd->add_option("--batch", o->batch, "batch size of the shapes shown")->check(CLI::Range(1, 1 << 20))->capture_default_str();
    cmd->add_flag("--json", o->json, "say what was written (path, format, bytes) as JSON");
    cmd->callback([o] { viz(*o); });
}

}  // namespace weft::runner
