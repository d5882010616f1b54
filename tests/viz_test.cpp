// weft viz: DOT that Graphviz reads, well-formed SVG naming every box, a JSON export that reads
// back into the same graph, an HTML page that shows the graph and a node's details in a real
// browser, collapsed views of every zoo family, and the channel view of an IGC block.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/graph_file.h"
#include "weft/viz/viz.h"

namespace fs = std::filesystem;
using namespace weft;

namespace {

Graph zoo_graph(const std::string& id, std::map<std::string, std::string> overrides = {}) {
    setenv("WEFT_GRAPH_PATH", WEFT_TEST_GRAPH_DIR, 1);
    Graph g = resolve_graph(id, {"", std::move(overrides)});
    g.set_batch(1);
    infer_shapes(g, weft::testing::build_registry());
    return g;
}

const Graph& igc_d8() {
    static const Graph g = zoo_graph("igc-l24m2-d8");
    return g;
}

// A program on PATH, or empty.
std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "");
    for (std::string dir; std::getline(dirs, dir, ':');)
        if (!dir.empty() && fs::exists(fs::path(dir) / name)) return (fs::path(dir) / name).string();
    return {};
}

struct CommandResult {
    int status = -1;
    std::string output;
};

CommandResult run_command(const std::string& command) {
    CommandResult r;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return r;
    char buffer[4096];
    for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) r.output.append(buffer, n);
    r.status = pclose(pipe);
    return r;
}

fs::path temp_dir() {
    const fs::path dir = fs::temp_directory_path() / ("weft_viz_test_" + std::to_string(getpid()));
    fs::create_directories(dir);
    return dir;
}

// Removes this process's scratch directory when the test binary exits.
const struct TempCleanup {
    ~TempCleanup() {
        std::error_code ignored;
        fs::remove_all(fs::temp_directory_path() / ("weft_viz_test_" + std::to_string(getpid())), ignored);
    }
} temp_cleanup;

fs::path write_temp(const std::string& name, const std::string& content) {
    const fs::path p = temp_dir() / name;
    viz::write_file(p, content);
    return p;
}

// Well-formed XML, checked by a small parser: balanced and properly nested elements, quoted
// attributes, valid entity references. Returns the first problem, or an empty string.
std::string xml_problem(const std::string& xml) {
    std::vector<std::string> open;
    std::size_t i = 0;
    const auto entity_ok = [&](std::size_t at) {
        static const std::regex entity("^&(#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);");
        return std::regex_search(xml.substr(at, 16), entity);
    };
    bool root_seen = false;
    while (i < xml.size()) {
        if (xml[i] == '&' && !entity_ok(i)) return "bad entity at " + std::to_string(i);
        if (xml[i] != '<') {
            ++i;
            continue;
        }
        const auto skip_to = [&](const char* end) {
            const std::size_t e = xml.find(end, i);
            i = e == std::string::npos ? xml.size() + 1 : e + std::strlen(end);
        };
        if (xml.compare(i, 4, "<!--") == 0) skip_to("-->");
        else if (xml.compare(i, 9, "<![CDATA[") == 0) skip_to("]]>");
        else if (xml.compare(i, 2, "<?") == 0) skip_to("?>");
        else if (xml.compare(i, 2, "<!") == 0) skip_to(">");
        else if (xml.compare(i, 2, "</") == 0) {
            const std::size_t e = xml.find('>', i);
            if (e == std::string::npos) return "unterminated end tag";
            const std::string name = xml.substr(i + 2, e - i - 2);
            if (open.empty() || open.back() != name) return "end tag </" + name + "> does not match";
            open.pop_back();
            i = e + 1;
        } else {
            std::size_t j = i + 1;
            while (j < xml.size() && !std::isspace(static_cast<unsigned char>(xml[j])) && xml[j] != '>' && xml[j] != '/') ++j;
            const std::string name = xml.substr(i + 1, j - i - 1);
            if (name.empty()) return "empty tag name at " + std::to_string(i);
            // Attributes: name="value" or name='value', until > or />.
            while (true) {
                while (j < xml.size() && std::isspace(static_cast<unsigned char>(xml[j]))) ++j;
                if (j >= xml.size()) return "unterminated tag <" + name;
                if (xml[j] == '>' || xml.compare(j, 2, "/>") == 0) break;
                const std::size_t eq = xml.find('=', j);
                if (eq == std::string::npos || eq + 1 >= xml.size()) return "attribute without value in <" + name;
                const char quote = xml[eq + 1];
                if (quote != '"' && quote != '\'') return "unquoted attribute in <" + name;
                const std::size_t close = xml.find(quote, eq + 2);
                if (close == std::string::npos) return "unterminated attribute in <" + name;
                if (xml.substr(eq + 2, close - eq - 2).find('<') != std::string::npos) return "'<' in attribute of <" + name;
                j = close + 1;
            }
            if (open.empty() && root_seen) return "second root element <" + name;
            root_seen = true;
            if (xml[j] == '>') open.push_back(name), i = j + 1;
            else i = j + 2;
        }
    }
    if (!open.empty()) return "unclosed <" + open.back() + ">";
    return root_seen ? "" : "no root element";
}

// The DOT names of the boxes (the text of every <title> of a node group in Graphviz's SVG).
std::set<std::string> svg_titles(const std::string& svg) {
    std::set<std::string> titles;
    static const std::regex title("<title>([^<]*)</title>");
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), title); it != std::sregex_iterator(); ++it)
        titles.insert((*it)[1].str());
    return titles;
}

int count_of(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

viz::ViewOptions view_at(viz::Collapse collapse) {
    viz::ViewOptions o;
    o.collapse = collapse;
    o.annotate = viz::parse_annotations("shapes,params,macs");
    return o;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// DOT and SVG

TEST(VizDot, GraphvizReadsEveryViewAndTheChannelView) {
    const std::string dot = find_program("dot");
    if (dot.empty()) GTEST_SKIP() << "the Graphviz `dot` program is not installed (apt-get install graphviz)";
    std::vector<std::pair<std::string, std::string>> files = {
        {"blocks.dot", viz::graph_dot(igc_d8(), view_at(viz::Collapse::blocks))},
        {"stages.dot", viz::graph_dot(igc_d8(), view_at(viz::Collapse::stages))},
        {"none.dot", viz::graph_dot(igc_d8(), view_at(viz::Collapse::none))},
        {"channels.dot", viz::channel_dot(igc_d8(), weft::testing::build_registry(), "stage2.block0.secondary")},
    };
    for (const auto& [name, text] : files) {
        const fs::path p = write_temp(name, text);
        const CommandResult r = run_command(dot + " -Tsvg -o /dev/null '" + p.string() + "'");
        EXPECT_EQ(r.status, 0) << name << ": dot says: " << r.output;
        EXPECT_EQ(r.output, "") << name << ": dot warns: " << r.output;
    }
}

TEST(VizSvg, IsWellFormedXmlAndNamesEveryOperator) {
    const std::string svg = viz::render(viz::graph_dot(igc_d8(), view_at(viz::Collapse::none)), viz::Format::svg);
    EXPECT_EQ(xml_problem(svg), "");
    const std::set<std::string> titles = svg_titles(svg);
    for (const Node& n : igc_d8().nodes) EXPECT_TRUE(titles.count(n.name)) << n.name << " is not drawn";
    EXPECT_TRUE(titles.count("input:data"));
}

TEST(VizSvg, CollapsedViewsDrawOneBoxPerBlockOrStage) {
    const std::string blocks = viz::render(viz::graph_dot(igc_d8(), view_at(viz::Collapse::blocks)), viz::Format::svg);
    EXPECT_EQ(xml_problem(blocks), "");
    std::set<std::string> titles = svg_titles(blocks);
    for (const char* name : {"stem", "stage1.block0", "stage1.block1", "stage2.block0", "stage3.block1", "head"})
        EXPECT_TRUE(titles.count(name)) << name;
    EXPECT_FALSE(titles.count("stage1.block0.primary")) << "operators are hidden inside their block";
    EXPECT_TRUE(titles.count("cluster_stage2")) << "stages are drawn as clusters around their blocks";

    const std::string stages = viz::render(viz::graph_dot(igc_d8(), view_at(viz::Collapse::stages)), viz::Format::svg);
    titles = svg_titles(stages);
    for (const char* name : {"stem", "stage1", "stage2", "stage3", "head"}) EXPECT_TRUE(titles.count(name)) << name;
    EXPECT_FALSE(titles.count("stage1.block0"));
}

TEST(VizDot, EdgesCarryTensorShapesAndBoxesTheirCost) {
    const std::string dot = viz::graph_dot(igc_d8(), view_at(viz::Collapse::blocks));
    // stage2.block0 halves the resolution and doubles the width (stride 2, M doubles).
    EXPECT_NE(dot.find("\"stage2.block0\" -> \"stage2.block1\" [label=\" 96×16×16\""), std::string::npos) << dot;
    EXPECT_NE(dot.find("\"stem\" -> \"stage1.block0\" [label=\" 48×32×32\""), std::string::npos);
    EXPECT_NE(dot.find("params"), std::string::npos);
    EXPECT_NE(dot.find("MACs"), std::string::npos);
}

TEST(VizPng, RendersInProcess) {
    const std::string png = viz::render(viz::graph_dot(igc_d8(), view_at(viz::Collapse::stages)), viz::Format::png);
    ASSERT_GT(png.size(), 1000u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(VizProfile, ColoursBoxesByMeasuredTimeWithALegend) {
    viz::ViewOptions o;
    o.collapse = viz::Collapse::none;
    o.node_ms.assign(igc_d8().nodes.size(), 0.01);
    const int hot = igc_d8().find_node("stage1.block1.primary");
    o.node_ms[hot] = 2.0;
    const std::string dot = viz::graph_dot(igc_d8(), o);
    EXPECT_NE(dot.find("time per batch (ms)"), std::string::npos);
    // The slowest box gets the dark end of the heat scale; a fast one the pale end.
    EXPECT_NE(dot.find("fillcolor=\"#800026\""), std::string::npos);
    const std::size_t at = dot.find("\"stage1.block1.primary\" [");
    ASSERT_NE(at, std::string::npos);
    EXPECT_NE(dot.substr(at, dot.find('\n', at) - at).find("#800026"), std::string::npos);
    EXPECT_NE(dot.find("2.000 ms"), std::string::npos);
    EXPECT_EQ(xml_problem(viz::render(dot, viz::Format::svg)), "");
}

TEST(VizOptions, RejectUnknownNamesWithTheChoices) {
    EXPECT_THROW(viz::parse_format("jpeg"), Error);
    EXPECT_EQ(viz::format_from_path("net.svg"), viz::Format::svg);
    EXPECT_THROW(viz::format_from_path("net"), Error);
    EXPECT_THROW(viz::parse_collapse("layers"), Error);
    EXPECT_THROW(viz::parse_annotations("shapes,flops"), Error);
    const viz::Annotations a = viz::parse_annotations("params,time");
    EXPECT_TRUE(a.params && a.time && !a.shapes && !a.macs);
    viz::ViewOptions o;
    o.annotate.time = true;
    EXPECT_THROW(viz::export_graph(igc_d8(), o, viz::Format::dot), Error) << "time needs a profile";
}

// ---------------------------------------------------------------------------------------------
// JSON

TEST(VizJson, HasTheDocumentedSchema) {
    const nlohmann::json j = viz::graph_json(igc_d8(), {});
    EXPECT_EQ(j.at("schema_version"), viz::kJsonSchemaVersion);
    for (const char* key : {"graph", "totals", "inputs", "outputs", "groups", "nodes", "edges"}) EXPECT_TRUE(j.contains(key)) << key;
    const auto& primary = j.at("nodes").at(igc_d8().find_node("stage2.block0.primary"));
    EXPECT_EQ(primary.at("op"), "group_conv");
    EXPECT_EQ(primary.at("attrs").at("groups"), 24);
    EXPECT_EQ(primary.at("output_shapes").at(0), (Shape{1, 96, 16, 16}));
    EXPECT_EQ(primary.at("block"), "stage2.block0");
    EXPECT_EQ(primary.at("stage"), "stage2");
    EXPECT_EQ(primary.at("params"), 9 * 48 * 96 / 24);  // 3×3 kernels, 48 → 96 channels in 24 groups
    EXPECT_GT(primary.at("macs").get<std::int64_t>(), 0);
    for (const auto& e : j.at("edges"))
        for (const char* key : {"from", "from_kind", "to", "to_input", "value", "shape", "dtype"}) EXPECT_TRUE(e.contains(key)) << key;
}

TEST(VizJson, RoundTripsIntoTheSameGraph) {
    const Graph& g = igc_d8();
    const Graph back = viz::graph_from_json(nlohmann::json::parse(viz::graph_json(g, {}).dump()));
    ASSERT_EQ(back.nodes.size(), g.nodes.size());
    EXPECT_EQ(back.name, g.name);
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        EXPECT_EQ(back.nodes[i].name, g.nodes[i].name);
        EXPECT_EQ(back.nodes[i].op, g.nodes[i].op);
        EXPECT_EQ(back.nodes[i].scope, g.nodes[i].scope);
        EXPECT_EQ(back.nodes[i].attrs.values(), g.nodes[i].attrs.values()) << g.nodes[i].name;
    }
    // Edges: (producer or graph input, consumer, input slot), the same set on both sides.
    const auto edges = [](const Graph& graph) {
        std::set<std::tuple<std::string, std::string, std::size_t>> s;
        for (const Node& n : graph.nodes)
            for (std::size_t k = 0; k < n.inputs.size(); ++k) {
                const Value& v = graph.values[n.inputs[k]];
                s.insert({v.producer >= 0 ? graph.nodes[v.producer].name : "input:" + v.name, n.name, k});
            }
        return s;
    };
    EXPECT_EQ(edges(back), edges(g));
    ASSERT_EQ(back.outputs.size(), g.outputs.size());
    EXPECT_EQ(back.values[back.outputs[0]].name, g.values[g.outputs[0]].name);
    // What was read back is a complete graph: shape inference gives the same shapes and costs.
    Graph rechecked = back;
    infer_shapes(rechecked, weft::testing::build_registry());
    EXPECT_EQ(graph_totals(rechecked).params, graph_totals(g).params);
    EXPECT_EQ(graph_totals(rechecked).macs, graph_totals(g).macs);
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
        EXPECT_EQ(rechecked.values[rechecked.nodes[i].outputs[0]].desc, g.values[g.nodes[i].outputs[0]].desc);
}

TEST(VizJson, RefusesAnotherSchemaVersion) {
    nlohmann::json j = viz::graph_json(igc_d8(), {});
    j["schema_version"] = viz::kJsonSchemaVersion + 1;
    EXPECT_THROW(viz::graph_from_json(j), Error);
}

// ---------------------------------------------------------------------------------------------
// HTML in a real browser

TEST(VizHtml, BrowserShowsTheGraphAndTheDetailsOfASelectedNode) {
    std::string browser;
    for (const char* name : {"chromium", "chromium-browser", "google-chrome"})
        if (browser.empty()) browser = find_program(name);
    if (browser.empty())
        GTEST_SKIP() << "no headless Chromium (optional: WEFT_WITH_CHROMIUM=1 scripts/install-deps.sh)";
    const std::string html = viz::export_graph(igc_d8(), view_at(viz::Collapse::blocks), viz::Format::html);
    // Self-contained: nothing to fetch (the only URLs are the SVG and XLink namespace names).
    for (const char* fetch : {"<link", "src=\"", "@import", "url(", "fetch(", "XMLHttpRequest", "href=\"http"})
        EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;
    const fs::path page = write_temp("view.html", html);
    const fs::path profile = temp_dir() / "chromium-profile";
    const CommandResult r = run_command("timeout 60 '" + browser + "' --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                              "--no-first-run --user-data-dir='" + profile.string() + "' --dump-dom "
                              "'file://" + page.string() + "#select=stage2.block0.primary'");
    ASSERT_EQ(r.status, 0) << r.output;
    const std::string& dom = r.output;
    EXPECT_NE(dom.find("data-ready=\"true\""), std::string::npos) << "the viewer script did not finish";
    // The operator is not a box at the blocks level, so the page switched to the operators.
    EXPECT_NE(dom.find("<button data-level=\"none\" class=\"active\">"), std::string::npos);
    const std::size_t aside = dom.find("<aside id=\"details\">");
    ASSERT_NE(aside, std::string::npos);
    const std::string details = dom.substr(aside, dom.find("</aside>", aside) - aside);
    EXPECT_NE(details.find("<h2>stage2.block0.primary</h2>"), std::string::npos) << details;
    EXPECT_NE(details.find("group_conv"), std::string::npos);
    EXPECT_NE(details.find("[1, 96, 16, 16]"), std::string::npos) << "output shape";
    EXPECT_NE(details.find("#params"), std::string::npos);
    EXPECT_NE(details.find("1,728"), std::string::npos) << "9 · 48 · 96 / 24 parameters: " << details;
    EXPECT_NE(details.find("<td>groups</td>"), std::string::npos) << "attributes";
    EXPECT_EQ(count_of(dom, "class=\"node selected\""), 1);
}

// ---------------------------------------------------------------------------------------------
// Every family of the zoo

TEST(VizZoo, CollapsedViewsOfEveryFamilyRender) {
    setenv("WEFT_GRAPH_PATH", WEFT_TEST_GRAPH_DIR, 1);
    std::set<std::string> families;
    for (const auto& [file, variant] : list_zoo()) {
        if (!families.insert(file.family).second) continue;  // one variant per family
        SCOPED_TRACE(variant.id);
        const Graph g = zoo_graph(variant.id);
        for (viz::Collapse c : {viz::Collapse::blocks, viz::Collapse::stages}) {
            const std::string svg = viz::render(viz::graph_dot(g, view_at(c)), viz::Format::svg);
            EXPECT_EQ(xml_problem(svg), "");
            EXPECT_GE(count_of(svg, "class=\"node\""), 3);
        }
    }
    EXPECT_GE(families.size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Any DAG: a block that branches and joins

TEST(VizDag, BranchingBlocksDrawAndTheChannelViewSaysWhyItCannot) {
    Graph g;
    g.name = "branches";
    const int x = g.add_input("x", TensorDesc{DType::f32, {1, 4, 8, 8}});
    const auto conv = [&](const std::string& name, std::int64_t groups) {
        Node n;
        n.name = "unit." + name;
        n.op = "group_conv";
        n.attrs.set("out_channels", std::int64_t{4});
        n.attrs.set("kernel", std::int64_t{3});
        n.attrs.set("padding", std::int64_t{1});
        n.attrs.set("groups", groups);
        n.inputs = {x};
        n.scope = {{"unit", "two_paths"}};
        return g.nodes[g.add_node(std::move(n))].outputs[0];
    };
    const int a = conv("a", 2), b = conv("b", 4);
    Node add;
    add.name = "unit.sum";
    add.op = "add";
    add.inputs = {a, b};
    add.scope = {{"unit", "two_paths"}};
    g.outputs = g.nodes[g.add_node(std::move(add))].outputs;
    infer_shapes(g, weft::testing::build_registry());
    for (viz::Collapse c : {viz::Collapse::none, viz::Collapse::blocks, viz::Collapse::stages}) {
        const std::string dot = viz::graph_dot(g, view_at(c));
        std::istringstream lines(dot);
        for (std::string line; std::getline(lines, line);)
            if (line.find("rank=same") != std::string::npos)
                EXPECT_EQ(line.find("unit."), std::string::npos) << "branches are not laid out as a row: " << line;
        EXPECT_EQ(xml_problem(viz::render(dot, viz::Format::svg)), "");
    }
    try {
        viz::channel_dot(g, weft::testing::build_registry(), "unit.sum");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("branches at node"), std::string::npos) << e.what();
    }
}

// ---------------------------------------------------------------------------------------------
// The channel view (Figure 1)

TEST(VizChannels, FollowTheBlocksPartitionsAndPermutations) {
    // The paper's Figure 1 example: L = 2 primary partitions, M = 3 secondary partitions.
    const Graph g = zoo_graph("igc-l24m2-d8", {{"L", "2"}, {"M", "3"}});
    const std::string dot = viz::channel_dot(g, weft::testing::build_registry(), "stage1.block0.bn");  // any node of the block
    EXPECT_NE(dot.find("L = 2 primary partitions of 3 channels"), std::string::npos);
    EXPECT_NE(dot.find("M = 3 secondary partitions of 2 channels"), std::string::npos);
    const auto wired = [&](int column, int from, int to) {
        return dot.find(fmt::format("c{}_{} -> c{}_{} ", column, from, column + 1, to)) != std::string::npos;
    };
    // Primary group convolution (Eq. 1): channel l·M + m connects within partition l only.
    EXPECT_TRUE(wired(0, 0, 2));
    EXPECT_TRUE(wired(0, 3, 5));
    EXPECT_FALSE(wired(0, 2, 3));
    // P^T (Eq. 2): channel l·M + m moves to m·L + l.
    for (int l = 0; l < 2; ++l)
        for (int m = 0; m < 3; ++m) EXPECT_TRUE(wired(1, l * 3 + m, m * 2 + l)) << l << "," << m;
    // Secondary group convolution (Eq. 3): partitions of L = 2 consecutive channels.
    EXPECT_TRUE(wired(2, 0, 1));
    EXPECT_TRUE(wired(2, 4, 5));
    EXPECT_FALSE(wired(2, 1, 2));
    // P (Eq. 4): back to primary order, m·L + l moves to l·M + m.
    for (int l = 0; l < 2; ++l)
        for (int m = 0; m < 3; ++m) EXPECT_TRUE(wired(3, m * 2 + l, l * 3 + m)) << l << "," << m;
    EXPECT_EQ(xml_problem(viz::render(dot, viz::Format::svg)), "");
}

TEST(VizChannels, ReadLAndMFromTheGraphAtEveryStage) {
    // Stage 3 of IGC-L24M2 has M = 8: 192 channels, 24 primary and 8 secondary partitions.
    const std::string dot = viz::channel_dot(igc_d8(), weft::testing::build_registry(), "stage3.block1.primary");
    EXPECT_NE(dot.find("L = 24 primary partitions of 8 channels"), std::string::npos);
    EXPECT_NE(dot.find("M = 8 secondary partitions of 24 channels"), std::string::npos);
    EXPECT_NE(dot.find("c4_191 "), std::string::npos);
}

TEST(VizChannels, NameTheProblemWithTheNodeGiven) {
    try {
        viz::channel_dot(igc_d8(), weft::testing::build_registry(), "stage9.block0.primary");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no node named 'stage9.block0.primary'"), std::string::npos) << e.what();
    }
    EXPECT_THROW(viz::export_channels(igc_d8(), weft::testing::build_registry(), "stage1.block0.primary", viz::Format::json), Error);
}
