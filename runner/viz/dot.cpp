#include "dot.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "palette.h"

namespace weft::viz {

std::string dot_quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c == '\n' ? ' ' : c;
    }
    return out + "\"";
}

std::string html_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string graph_title(const Graph& graph) {
    const GraphTotals t = graph_totals(graph);
    const std::int64_t batch = std::max<std::int64_t>(graph.batch(), 1);
    return fmt::format("{} · {} params · {} multiply-adds per image", graph.name, human_count(double(t.params)),
                       human_count(double(t.macs / batch)));
}

namespace {

constexpr const char* kMuted = "#475569";
constexpr const char* kEdge = "#94a3b8";

std::string small_line(const std::string& text, const std::string& colour) {
    return fmt::format("<BR/><FONT POINT-SIZE=\"8\" COLOR=\"{}\">{}</FONT>", colour, html_escape(text));
}

struct Emitter {
    Emitter(const Graph& g, const View& v, const ViewOptions& o, const DotSettings& s)
        : graph(g), view(v), options(o), settings(s) {}
    const Graph& graph;
    const View& view;
    const ViewOptions& options;
    const DotSettings& settings;
    std::string out;
    std::vector<std::string> dot_ids;  // per unit
    std::vector<int> row_head;         // per unit: the first box of its row, -1 when not in a row
    std::vector<bool> row_tail;        // per unit: the last box of a row
    int edge_count = 0;

    bool timed() const { return view.has_profile; }

    Swatch swatch(const Unit& u) const {
        if (u.kind == Unit::Kind::input || u.kind == Unit::Kind::output) return io_swatch();
        if (timed()) return heat_swatch(view.max_ms > 0 ? u.ms / view.max_ms : 0);
        return u.kind == Unit::Kind::block ? block_swatch(u.type) : op_swatch(u.type);
    }

    std::string label(const Unit& u, const Swatch& s) const {
        const std::string sub = timed() ? s.text : std::string(kMuted);
        std::string l = "<B>" + html_escape(u.label) + "</B>";
        switch (u.kind) {
            case Unit::Kind::input:
                return l + small_line("input", kMuted);
            case Unit::Kind::output:
                return html_escape(u.label);
            case Unit::Kind::op: {
                const std::string brief = attr_brief(graph.nodes[u.nodes.front()]);
                if (!brief.empty()) l += small_line(u.type + " · " + brief, sub);
                else if (u.label != u.type) l += small_line(u.type, sub);
                break;
            }
            case Unit::Kind::block:
                l += small_line(u.type.empty() ? group_summary(graph, u) : u.type, sub);
                break;
        }
        std::vector<std::string> notes;
        if (options.annotate.params && u.params > 0) notes.push_back(human_count(double(u.params)) + " params");
        if (options.annotate.macs && u.macs > 0) notes.push_back(human_count(double(u.macs)) + " MACs");
        if (!notes.empty()) l += small_line(fmt::format("{}", fmt::join(notes, " · ")), sub);
        if ((options.annotate.time || timed()) && timed() && view.total_ms > 0)
            l += small_line(fmt::format("{:.3f} ms · {:.1f}%", u.ms, 100 * u.ms / view.total_ms), sub);
        if (u.kind == Unit::Kind::op && u.nodes.size() == 1 && !options.node_kernels.empty() &&
            !options.node_kernels.at(u.nodes[0]).empty())
            l += small_line("kernel " + options.node_kernels[u.nodes[0]], sub);
        return l;
    }

    std::string tooltip(const Unit& u) const {
        if (u.kind == Unit::Kind::block)
            return fmt::format("{} ({}, {} operators)", u.id, u.type.empty() ? "group" : u.type, u.nodes.size());
        if (u.kind == Unit::Kind::op) return u.id + " (" + u.type + ")";
        return u.id;
    }

    void node(std::size_t k, const std::string& indent) {
        const Unit& u = view.units[k];
        const Swatch s = swatch(u);
        const bool io = u.kind == Unit::Kind::input || u.kind == Unit::Kind::output;
        out += fmt::format("{}{} [id={}, label=<{}>, tooltip={}, fillcolor=\"{}\", color=\"{}\", fontcolor=\"{}\"", indent,
                           dot_ids[k], dot_quote(settings.id_prefix + "u" + std::to_string(k)), label(u, s),
                           dot_quote(tooltip(u)), s.fill, s.line, s.text);
        if (io) out += ", shape=box, style=\"rounded,dashed\"";
        if (u.kind == Unit::Kind::block) out += ", penwidth=1.8";
        out += "];\n";
    }

    // Direct member boxes of a cluster, and whether they form one chain (then in chain order).
    std::vector<int> chain_of(const std::vector<int>& members) const {
        std::set<int> in(members.begin(), members.end());
        std::map<int, int> next, indegree;
        for (const Edge& e : view.edges) {
            if (!in.count(e.from) || !in.count(e.to)) continue;
            if (next.count(e.from) && next[e.from] != e.to) return {};
            if (next.count(e.from)) continue;
            next[e.from] = e.to;
            if (++indegree[e.to] > 1) return {};
        }
        if (members.size() < 2 || next.size() != members.size() - 1) return {};
        int head = -1;
        for (int m : members)
            if (!indegree.count(m)) head = m;
        std::vector<int> chain;
        for (int at = head; at >= 0 && chain.size() <= members.size();) {
            chain.push_back(at);
            const auto it = next.find(at);
            at = it == next.end() ? -1 : it->second;
        }
        return chain.size() == members.size() ? chain : std::vector<int>{};
    }

    void rows(const std::vector<int>& members, const std::string& indent) {
        const std::vector<int> chain = chain_of(members);
        const std::size_t row = static_cast<std::size_t>(std::max(settings.row_length, 1));
        for (std::size_t start = 0; start + 1 < chain.size(); start += row) {
            const std::size_t end = std::min(chain.size(), start + row);
            out += indent + "{rank=same;";
            for (std::size_t i = start; i < end; ++i) {
                out += " " + dot_ids[chain[i]] + ";";
                row_head[chain[i]] = chain[start];
            }
            row_tail[chain[end - 1]] = true;
            out += "}\n";
        }
    }

    // An edge from the end of a row to the start of the next line wraps like text: it must not
    // pull the next line under the end of this one. An invisible, stiff edge from this row's
    // start keeps the lines left-aligned instead.
    bool wraps(const Edge& e) const {
        return row_tail[e.from] && row_head[e.to] != row_head[e.from] && (row_head[e.to] < 0 || row_head[e.to] == e.to);
    }

    void cluster(std::size_t c, const std::string& indent) {
        const Group& g = view.clusters[c];
        const Swatch s = block_swatch(g.block);
        const bool stage = g.parent.empty();
        const std::string title = g.block.empty() ? html_escape(g.name)
                                                  : "<B>" + html_escape(g.name) + "</B>  <I>" + html_escape(g.block) + "</I>";
        out += fmt::format("{}subgraph {} {{\n", indent, dot_quote("cluster_" + g.id));
        const std::string in = indent + "  ";
        out += fmt::format("{}id={}; label=<{}>; tooltip={}; style=\"rounded,filled\"; fillcolor=\"{}\"; color=\"{}\"; "
                           "fontcolor=\"{}\"; fontsize=11; labeljust=r; penwidth={};\n",
                           in, dot_quote(settings.id_prefix + "c" + std::to_string(c)), title, dot_quote(g.id),
                           stage ? "#f8fafc" : "#ffffff", timed() ? std::string("#cbd5e1") : s.line, kMuted,
                           stage ? "1" : "1.2");
        members(g.id, in);
        for (std::size_t k = 0; k < view.clusters.size(); ++k)
            if (view.clusters[k].parent == g.id) cluster(k, in);
        out += indent + "}\n";
    }

    void members(const std::string& cluster_id, const std::string& indent) {
        std::vector<int> direct;
        for (std::size_t k = 0; k < view.units.size(); ++k)
            if (view.units[k].cluster == cluster_id) {
                node(k, indent);
                direct.push_back(static_cast<int>(k));
            }
        if (!cluster_id.empty()) rows(direct, indent);
    }

    std::string op_legend() const {
        std::vector<std::pair<std::string, Swatch>> entries;
        std::set<std::string> seen;
        for (const Unit& u : view.units) {
            if (u.kind != Unit::Kind::op && u.kind != Unit::Kind::block) continue;
            const std::string key = (u.kind == Unit::Kind::block ? "block " : "") + (u.type.empty() ? "group" : u.type);
            if (seen.insert(key).second)
                entries.push_back({u.kind == Unit::Kind::block ? (u.type.empty() ? "group" : u.type) : u.type,
                                   u.kind == Unit::Kind::block ? block_swatch(u.type) : op_swatch(u.type)});
        }
        std::string rows;
        for (const auto& [name, s] : entries)
            rows += fmt::format("<TR><TD BGCOLOR=\"{}\" COLOR=\"{}\" BORDER=\"1\" STYLE=\"rounded\" WIDTH=\"16\" HEIGHT=\"11\" FIXEDSIZE=\"TRUE\"></TD>"
                                "<TD ALIGN=\"LEFT\">{}</TD></TR>",
                                s.fill, s.line, html_escape(name));
        return "<TR><TD COLSPAN=\"2\" ALIGN=\"LEFT\"><B>colour = type</B></TD></TR>" + rows;
    }

    std::string heat_legend() const {
        constexpr int steps = 6;
        std::string cells, labels;
        for (int i = 0; i < steps; ++i) {
            const double t = double(i) / (steps - 1);
            cells += fmt::format("<TD BGCOLOR=\"{}\" WIDTH=\"34\" HEIGHT=\"12\" FIXEDSIZE=\"TRUE\"></TD>", heat_swatch(t).fill);
            const double ms = t * view.max_ms;
            const std::string text = ms == 0 ? "0" : ms < 1 ? fmt::format("{:.2f}", ms) : ms < 10 ? fmt::format("{:.1f}", ms)
                                                                                                 : fmt::format("{:.0f}", ms);
            labels += fmt::format("<TD><FONT POINT-SIZE=\"8\">{}</FONT></TD>", text);
        }
        return fmt::format("<TR><TD COLSPAN=\"{0}\" ALIGN=\"LEFT\"><B>time per batch (ms)</B></TD></TR><TR>{1}</TR><TR>{2}</TR>"
                           "<TR><TD COLSPAN=\"{0}\" ALIGN=\"LEFT\"><FONT POINT-SIZE=\"8\">total {3:.2f} ms</FONT></TD></TR>",
                           steps, cells, labels, view.total_ms);
    }

    void legend() {
        const std::string body = timed() ? heat_legend() : op_legend();
        out += fmt::format("  legend [id={}, shape=plain, label=<<TABLE BORDER=\"1\" COLOR=\"#e2e8f0\" CELLBORDER=\"0\" "
                           "CELLSPACING=\"3\" CELLPADDING=\"1\" BGCOLOR=\"#ffffff\">{}</TABLE>>, tooltip=\"legend\"];\n",
                           dot_quote(settings.id_prefix + "legend"), body);
        std::string top;
        for (std::size_t k = 0; k < view.units.size(); ++k)
            if (view.units[k].kind == Unit::Kind::input) top += " " + dot_ids[k] + ";";
        out += "  {rank=same; legend;" + top + "}\n";
    }

    std::string emit() {
        std::set<std::string> used;
        for (const Unit& u : view.units) {
            std::string id = u.kind == Unit::Kind::input    ? "input:" + u.id
                             : u.kind == Unit::Kind::output ? "output:" + u.id
                                                            : u.id;
            for (int n = 2; !used.insert(id).second; ++n) id = fmt::format("{}#{}", u.id, n);
            dot_ids.push_back(dot_quote(id));
        }
        row_head.assign(view.units.size(), -1);
        row_tail.assign(view.units.size(), false);
        const std::string title = options.title.empty() ? graph_title(graph) : options.title;
        out += "digraph " + dot_quote(graph.name) + " {\n";
        out += fmt::format("  graph [rankdir=TB, newrank=true, nodesep=0.22, ranksep=0.34, pad=0.3, bgcolor=\"#ffffff\", "
                           "fontname={0}, fontsize=15, fontcolor=\"#0f172a\", labelloc=t, labeljust=l, "
                           "label=<<B>{1}</B><BR/>>, outputorder=edgesfirst, id={2}];\n",
                           dot_quote(kFont), html_escape(title), dot_quote(settings.id_prefix + "graph"));
        out += fmt::format("  node [shape=box, style=\"rounded,filled\", fontname={}, fontsize=10, penwidth=1.2, "
                           "margin=\"0.14,0.05\", height=0.36];\n",
                           dot_quote(kFont));
        out += fmt::format("  edge [color=\"{}\", arrowsize=0.6, penwidth=1.1, fontname={}, fontsize=8, fontcolor=\"#64748b\"];\n",
                           kEdge, dot_quote(kFont));
        members("", "  ");
        for (std::size_t c = 0; c < view.clusters.size(); ++c)
            if (view.clusters[c].parent.empty()) cluster(c, "  ");
        std::set<std::pair<int, int>> aligned;
        for (const Edge& e : view.edges) {
            if (wraps(e) && aligned.insert({row_head[e.from], e.to}).second)
                out += fmt::format("  {} -> {} [style=invis, weight=10];\n", dot_ids[row_head[e.from]], dot_ids[e.to]);
            out += fmt::format("  {} -> {}", dot_ids[e.from], dot_ids[e.to]);
            const TensorDesc& d = graph.values[e.value].desc;
            std::vector<std::string> attrs;
            if (options.annotate.shapes && !d.shape.empty()) attrs.push_back("label=" + dot_quote(fmt::format(" {}", compact_shape(d.shape))));
            attrs.push_back("tooltip=" + dot_quote(graph.values[e.value].name + " " + d.str()));
            attrs.push_back("id=" + dot_quote(fmt::format("{}e{}", settings.id_prefix, edge_count++)));
            if (wraps(e)) {
                attrs.push_back("weight=0");
                attrs.push_back("tailport=s");
                attrs.push_back("headport=n");
            }
            out += " [" + fmt::format("{}", fmt::join(attrs, ", ")) + "];\n";
        }
        if (settings.legend) legend();
        out += "}\n";
        return out;
    }
};

}  // namespace

std::string view_dot(const Graph& graph, const View& view, const ViewOptions& options, const DotSettings& settings) {
    Emitter e(graph, view, options, settings);
    return e.emit();
}

std::string graph_dot(const Graph& graph, const ViewOptions& options) {
    return view_dot(graph, build_view(graph, options.collapse, options.node_ms), options);
}

}  // namespace weft::viz
