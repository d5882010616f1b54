// The channel view of one block, as in the paper's Figure 1: columns of channels, and between
// them what each operator does to channels: a grouped convolution connects every input channel
// of a partition to every output channel of that partition (Eq. 1, Eq. 3), a permutation moves
// channels (Eq. 2, Eq. 4). Everything is read from the block's nodes; nothing assumes L or M.
#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "dot.h"
#include "palette.h"
#include "view.h"
#include "weft/channel_permutation.h"
#include "weft/error.h"
#include "weft/registry.h"

namespace weft::viz {
namespace {

// What one operator of the block does to channels.
struct Step {
    enum class Kind { grouped, permute };
    Kind kind = Kind::grouped;
    const Node* node = nullptr;
    std::string local;      // name inside the block
    std::int64_t in = 0;    // channels in
    std::int64_t out = 0;   // channels out
    std::int64_t groups = 1;
    std::vector<std::int64_t> source;  // permute: output position -> input channel
};

std::int64_t channels_of(const Graph& g, int value) {
    const Shape& s = g.values[value].desc.shape;
    if (s.size() < 2) throw Error(fmt::format("value '{}' has no channel dimension", g.values[value].name));
    return s[1];
}

std::vector<int> block_members(const Graph& g, const std::string& block_id) {
    std::vector<int> members;
    for (int n : g.topological_order())
        for (const Group& grp : node_groups(g.nodes[n]))
            if (grp.id == block_id) members.push_back(n);
    return members;
}

// The operators of the block in data order. The view needs a chain: a block that branches has no
// single channel order to draw.
std::vector<int> block_chain(const Graph& g, const std::vector<int>& members, const std::string& block_id) {
    const std::set<int> in(members.begin(), members.end());
    std::vector<int> chain;
    for (int n : members) {
        int preds = 0;
        for (int v : g.nodes[n].inputs) preds += g.values[v].producer >= 0 && in.count(g.values[v].producer);
        if (preds > 1 || (preds == 0 && !chain.empty()))
            throw Error(fmt::format("block '{}' branches at node '{}': the channel view draws blocks that are one "
                                    "chain of operators", block_id, g.nodes[n].name));
        chain.push_back(n);
    }
    return chain;
}

Step make_step(const Graph& g, const Registry& registry, int n, const std::string& block_id) {
    const Node& node = g.nodes[n];
    Step s;
    s.node = &node;
    s.local = node.name.starts_with(block_id + ".") ? node.name.substr(block_id.size() + 1) : node.name;
    s.in = channels_of(g, node.inputs.at(0));
    s.out = channels_of(g, node.outputs.at(0));
    if (const auto destination = channel_permutation::of_node(g, registry, n)) {
        // Whatever map the op declares (channel_permute: the (g, C/g) transpose of Eq. 2).
        s.kind = Step::Kind::permute;
        s.groups = node.attrs.has("groups") ? node.attrs.get_int("groups") : 0;  // for the label only
        s.source.resize(static_cast<std::size_t>(s.in));
        for (std::int64_t c = 0; c < s.in; ++c) s.source[(*destination)[c]] = c;
    } else {
        s.kind = Step::Kind::grouped;
        s.groups = node.attrs.find("groups") ? node.attrs.get_int("groups") : 1;
    }
    return s;
}

bool channel_wise(const Graph& g, const Node& node) {
    return !node.attrs.has("out_channels") && !node.attrs.has("groups") && node.outputs.size() == 1 &&
           !node.inputs.empty() && channels_of(g, node.inputs[0]) == channels_of(g, node.outputs[0]);
}

// Colours of the secondary kind: a family of slate blues that cannot be confused with the
// hue wheel of the primary partitions.
std::string second_colour(int k, int n) {
    const double t = n > 1 ? double(k) / (n - 1) : 0;
    return rgb_hex(0.12 + 0.40 * t, 0.16 + 0.42 * t, 0.32 + 0.38 * t);
}

struct Figure {
    explicit Figure(const Graph& graph) : g(graph) {}
    const Graph& g;
    std::vector<Step> steps;
    std::vector<std::string> after;  // channel-wise operators that follow, by name
    std::string block_id, block_template;
    double pitch = 12, gap = 150, dot = 8;
    std::string out;
    int ids = 0;

    bool igc_pattern() const {
        return steps.size() == 4 && steps[0].kind == Step::Kind::grouped && steps[1].kind == Step::Kind::permute &&
               steps[2].kind == Step::Kind::grouped && steps[3].kind == Step::Kind::permute;
    }

    double y_of(std::int64_t c) const { return -double(c) * pitch; }
    double x_of(std::size_t col) const { return double(col) * gap; }

    void plain(double x, double y, const std::string& html) {
        out += fmt::format("  t{} [shape=plain, pos=\"{:.1f},{:.1f}\", label=<{}>];\n", ids++, x, y, html);
    }

    // A partition of a grouped convolution: a pale box behind its connections. Returns its name,
    // so that the connections of a large partition can fan into it instead of crossing it.
    std::string band(double x, double top, double bottom, const std::string& colour, const std::string& label,
                     const std::string& tip) {
        const std::string name = fmt::format("b{}", ids++);
        out += fmt::format("  {} [shape=box, style=\"rounded,filled\", label=<{}>, tooltip={}, fillcolor=\"{}26\", "
                           "color=\"{}99\", penwidth=1, fixedsize=true, width={:.3f}, height={:.3f}, pos=\"{:.1f},{:.1f}\"];\n",
                           name, label, dot_quote(tip), colour, colour, (gap * 0.56) / 72, (top - bottom) / 72, x,
                           (top + bottom) / 2);
        return name;
    }

    std::string channel_name(std::size_t col, std::int64_t c) const { return fmt::format("c{}_{}", col, c); }

    void channel(std::size_t col, std::int64_t c, const std::string& colour, const std::string& tip) {
        const bool numbered = pitch >= 20;
        out += fmt::format("  {} [shape=circle, style=filled, fixedsize=true, width={:.3f}, fillcolor=\"{}\", "
                           "color=\"#ffffff\", penwidth=0.8, fontsize={:.0f}, fontcolor=\"#ffffff\", label=\"{}\", "
                           "tooltip={}, pos=\"{:.1f},{:.1f}\"];\n",
                           channel_name(col, c), dot / 72, colour, dot * 0.55, numbered ? std::to_string(c) : "",
                           dot_quote(tip), x_of(col), y_of(c));
    }

    void wire(const std::string& from, const std::string& to, const std::string& colour, double width) {
        out += fmt::format("  {} -> {} [color=\"{}\", penwidth={:.2f}];\n", from, to, colour, width);
    }

    // Multi-line labels as one-column tables: Graphviz spaces table rows by their own font
    // size, where <BR/> between fonts of different sizes lets lines overlap.
    static std::string lines(const std::vector<std::string>& rows) {
        std::string t = "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\">";
        for (const std::string& r : rows) t += "<TR><TD>" + r + "</TD></TR>";
        return t + "</TABLE>";
    }
    static std::string small(const std::string& text, const char* colour = "#475569") {
        return fmt::format("<FONT POINT-SIZE=\"9\" COLOR=\"{}\">{}</FONT>", colour, html_escape(text));
    }

    // A superscript smaller than its line: SVG viewers draw Graphviz's <SUP> at the line's size,
    // only raised, so W^d would read as two letters.
    static std::string sup(const char* text, int point_size) {
        return fmt::format("<SUP><FONT POINT-SIZE=\"{}\">{}</FONT></SUP>", point_size, text);
    }

    static std::string channel_counts(std::int64_t groups, std::int64_t in, std::int64_t out) {
        const std::string each = in == out ? fmt::format("{} channels", in) : fmt::format("{} in, {} out", in, out);
        return fmt::format("{} group{} of {}", groups, groups == 1 ? "" : "s", each);
    }

    std::string step_title(const Step& s, std::size_t k) const {
        const std::string symbols[] = {"W" + sup("p", 10), "P" + sup("T", 10), "W" + sup("d", 10), "P"};
        const char* eqs[] = {"Eq. 1", "Eq. 2", "Eq. 3", "Eq. 4"};
        std::string head = "<FONT POINT-SIZE=\"13\"><B>" + html_escape(s.local) + "</B></FONT>";
        if (igc_pattern()) head += fmt::format("  <FONT POINT-SIZE=\"13\">{}</FONT>  {}", symbols[k], small(eqs[k], "#64748b"));
        if (s.kind == Step::Kind::permute && s.groups > 0 && s.in % s.groups == 0)
            return lines({head, small(fmt::format("{}, g = {}", s.node->op, s.groups)),
                          small(fmt::format("{}×{} transposed", s.groups, s.in / s.groups))});
        if (s.kind == Step::Kind::permute) return lines({head, small(s.node->op), small("channel permutation")});
        std::string kernel;
        if (s.node->attrs.has("kernel")) {
            const auto ks = s.node->attrs.get_ints("kernel");
            if (!ks.empty()) kernel = fmt::format(" {}×{}", ks.front(), ks.back());
        }
        return lines({head, small(s.node->op + kernel), small(channel_counts(s.groups, s.in / s.groups, s.out / s.groups))});
    }

    std::string column_title(std::size_t col) const {
        const std::string symbols[] = {"x", "y = W" + sup("p", 10) + "x", "ȳ = P" + sup("T", 10) + "y",
                                       "z̄ = W" + sup("d", 10) + "ȳ", "x′ = Pz̄"};
        const std::int64_t c = col == 0 ? steps.front().in : steps[col - 1].out;
        const std::string name = igc_pattern() ? symbols[col] : (col == 0 ? "input" : html_escape(steps[col - 1].local));
        return lines({"<FONT POINT-SIZE=\"13\"><B>" + name + "</B></FONT>", small(fmt::format("{} channels", c), "#64748b")});
    }

    std::string caption() const {
        const auto line = [](const std::string& html) { return "<FONT POINT-SIZE=\"11\" COLOR=\"#334155\">" + html + "</FONT>"; };
        std::vector<std::string> rows = {"<FONT POINT-SIZE=\"17\"><B>" + html_escape(block_id) + "</B>  </FONT>"
                                         "<FONT POINT-SIZE=\"13\" COLOR=\"#64748b\">" + html_escape(block_template) + "</FONT>"};
        if (igc_pattern()) {
            const std::int64_t L = steps[0].groups, M = steps[2].groups;
            rows.push_back(line("x′ = P W" + sup("d", 8) + " P" + sup("T", 8) + " W" + sup("p", 8) + " x   (Eq. 5)"));
            rows.push_back(line(html_escape(fmt::format("L = {} primary partitions of {} channels (one colour each); "
                                                        "M = {} secondary partitions of {} channels, one from every primary partition",
                                                        L, steps[0].out / L, M, steps[2].in / M))));
        } else {
            rows.push_back(line("channel connectivity"));
        }
        if (!after.empty())
            rows.push_back(line(html_escape("then, channel by channel: " + fmt::format("{}", fmt::join(after, ", ")))));
        return lines(rows);
    }

    void grouped(const Step& s, std::size_t k, bool second, std::vector<std::string>& next) {
        const double mid = (x_of(k) + x_of(k + 1)) / 2;
        const std::int64_t gi = s.in / s.groups, go = s.out / s.groups;
        // Small partitions draw every connection; large ones fan into their box, which says
        // "every input to every output" without a solid mesh of lines.
        const bool fan = gi * go > 100;
        for (std::int64_t p = 0; p < s.groups; ++p) {
            const std::string pc = second ? second_colour(int(p), int(s.groups)) : partition_colour(int(p), int(s.groups));
            const double top = std::max(y_of(p * gi), y_of(p * go)) + pitch * 0.42;
            const double bottom = std::min(y_of((p + 1) * gi - 1), y_of((p + 1) * go - 1)) - pitch * 0.42;
            const std::string label =
                fan ? lines({fmt::format("<FONT POINT-SIZE=\"11\" COLOR=\"{}\"><B>{}</B></FONT>", pc, p + 1),
                             small(gi == go ? fmt::format("{} channels", gi) : fmt::format("{} in, {} out", gi, go), pc.c_str()),
                             small("all to all", pc.c_str())})
                    : "";
            const std::string box = band(mid, top, bottom, pc, label,
                                         fmt::format("{} partition {}: channels {}–{} → {}–{}", s.local, p + 1, p * gi,
                                                     (p + 1) * gi - 1, p * go, (p + 1) * go - 1));
            for (std::int64_t i = 0; i < gi; ++i) {
                if (fan) {
                    wire(channel_name(k, p * gi + i), box, pc + "aa", 0.8);
                    continue;
                }
                for (std::int64_t o = 0; o < go; ++o)
                    wire(channel_name(k, p * gi + i), channel_name(k + 1, p * go + o), pc + "bb", 0.9);
            }
            if (fan)
                for (std::int64_t o = 0; o < go; ++o) wire(box, channel_name(k + 1, p * go + o), pc + "aa", 0.8);
            for (std::int64_t o = 0; o < go; ++o) next[p * go + o] = pc;
        }
    }

    std::string emit() {
        std::int64_t c_max = 1;
        for (const Step& s : steps) c_max = std::max({c_max, s.in, s.out});
        pitch = std::clamp(520.0 / double(c_max), 8.0, 30.0);
        dot = std::clamp(pitch * 0.7, 5.5, 20.0);
        gap = 175;

        out = "digraph " + dot_quote("channels:" + block_id) + " {\n";
        out += fmt::format("  graph [layout=nop2, splines=line, outputorder=nodesfirst, bgcolor=\"#ffffff\", pad=0.3, "
                           "fontname={0}];\n",
                           dot_quote(kFont));
        out += fmt::format("  node [fontname={0}, fontcolor=\"#0f172a\"]; edge [arrowhead=none];\n", dot_quote(kFont));

        // The colour every channel carries: the primary partition it came from, until a grouped
        // convolution mixes partitions; then the partition it was mixed in.
        const Step& first = steps.front();
        const std::int64_t first_groups = first.kind == Step::Kind::grouped ? first.groups : 1;
        std::vector<std::string> colour(static_cast<std::size_t>(first.in));
        for (std::int64_t c = 0; c < first.in; ++c)
            colour[c] = partition_colour(int(c / (first.in / first_groups)), int(first_groups));
        const double header_y = y_of(0) + pitch / 2 + 42;
        const double footer_y = y_of(c_max - 1) - pitch / 2 - 24;
        plain(x_of(steps.size()) / 2, header_y + 78, caption());
        for (std::int64_t c = 0; c < first.in; ++c) channel(0, c, colour[c], fmt::format("input channel {}", c));
        plain(x_of(0), footer_y, column_title(0));
        int grouped_seen = 0;
        for (std::size_t k = 0; k < steps.size(); ++k) {
            const Step& s = steps[k];
            std::vector<std::string> next(static_cast<std::size_t>(s.out));
            if (s.kind == Step::Kind::permute) {
                for (std::int64_t o = 0; o < s.out; ++o) {
                    next[o] = colour[s.source[o]];
                    wire(channel_name(k, s.source[o]), channel_name(k + 1, o), next[o] + "dd", 1.1);
                }
            } else {
                grouped(s, k, grouped_seen++ > 0, next);
            }
            colour = std::move(next);
            for (std::int64_t c = 0; c < s.out; ++c)
                channel(k + 1, c, colour[c], fmt::format("channel {} after {}", c, s.local));
            plain((x_of(k) + x_of(k + 1)) / 2, header_y, step_title(s, k));
            plain(x_of(k + 1), footer_y, column_title(k + 1));
        }
        // Channel numbers down the left side (when the dots are too small to carry them), thinned
        // out when the channels are close together.
        const std::int64_t every = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(11.0 / pitch)));
        for (std::int64_t c = 0; c < first.in && pitch < 20; c += every)
            plain(x_of(0) - dot - 10, y_of(c), fmt::format("<FONT POINT-SIZE=\"8\" COLOR=\"#64748b\">{}</FONT>", c));
        out += "}\n";
        return out;
    }
};

}  // namespace

std::string channel_dot(const Graph& g, const Registry& registry, const std::string& node_name) {
    const int n = g.find_node(node_name);
    if (n < 0) throw Error(fmt::format("--channels: no node named '{}' in graph '{}'", node_name, g.name));
    const std::vector<Group> groups = node_groups(g.nodes[n]);
    const int b = innermost_block(groups);
    if (b < 0) throw Error(fmt::format("--channels: node '{}' is not inside a block instance", node_name));
    const std::string& block_id = groups[b].id;
    Figure fig{g};
    fig.block_id = block_id;
    fig.block_template = groups[b].block;
    for (int m : block_chain(g, block_members(g, block_id), block_id)) {
        const Node& node = g.nodes[m];
        const OpSchema* schema = registry.find_op(node.op);
        const bool permutes = schema && schema->traits.channel_permutation;
        const bool convolves = (schema && schema->traits.convolution) || node.attrs.has("out_channels");
        if (permutes || convolves) {
            if (!fig.after.empty())
                throw Error(fmt::format("--channels: block '{}' mixes channels again after '{}'", block_id, fig.after.front()));
            fig.steps.push_back(make_step(g, registry, m, block_id));
        } else if (channel_wise(g, node)) {
            if (!fig.steps.empty()) fig.after.push_back(node.op);
        } else {
            throw Error(fmt::format("--channels: cannot tell what node '{}' ({}) does to channels; the channel view "
                                    "draws blocks of convolutions (out_channels, groups) and channel permutations",
                                    node.name, node.op));
        }
    }
    if (fig.steps.empty())
        throw Error(fmt::format("--channels: block '{}' has no convolution or permutation to draw", block_id));
    for (std::size_t k = 1; k < fig.steps.size(); ++k)
        if (fig.steps[k].in != fig.steps[k - 1].out)
            throw Error(fmt::format("--channels: node '{}' reads {} channels but '{}' gives {}", fig.steps[k].node->name,
                                    fig.steps[k].in, fig.steps[k - 1].node->name, fig.steps[k - 1].out));
    return fig.emit();
}

}  // namespace weft::viz
