// The graph-file format (docs/graph-format.md): expansion, expressions, variants, overrides,
// includes, repeats, conditionals, every class of error with its position, and the zoo in
// graphs/ checked against the paper's structures and Table 3.
#include <unistd.h>

#include <cmath>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/graph.h"
#include "weft/graph_file.h"

namespace weft {
namespace {

namespace fs = std::filesystem;

class GraphFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() /
               ("weft_graph_file_test." + std::to_string(getpid()) + "." + test->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Writes `text` (without its first newline, so that line 1 is the line after R"yaml()
    // to `name` inside the test's directory.
    fs::path write(const std::string& name, std::string text) {
        if (!text.empty() && text.front() == '\n') text.erase(0, 1);
        const fs::path path = dir_ / name;
        fs::create_directories(path.parent_path());
        std::ofstream(path) << text;
        return path;
    }

    Graph load(const std::string& text, const GraphFileOptions& options = {}) {
        return load_graph_file(write("net.yaml", text), options);
    }

    // The message of the weft::Error that loading `text` throws ("" when none is thrown).
    std::string load_error(const std::string& text, const GraphFileOptions& options = {}) {
        return error_of([&] { load_graph_file(write("net.yaml", text), options); });
    }

public:
    template <class F>
    static std::string error_of(F&& action) {
        try {
            action();
        } catch (const Error& error) {
            return error.what();
        }
        return "";
    }

protected:
    // "…/net.yaml:LINE:COL: "
    std::string at(const std::string& file, int line, int column) const {
        return (dir_ / file).string() + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
    }

    fs::path dir_;
};

// An error message that points at `where` and says `what`.
::testing::AssertionResult error_is(const std::string& message, const std::string& where, const std::string& what) {
    if (message.empty()) return ::testing::AssertionFailure() << "no weft::Error was thrown";
    if (message.rfind(where, 0) != 0)
        return ::testing::AssertionFailure() << "message does not start with '" << where << "': " << message;
    if (message.find(what) == std::string::npos)
        return ::testing::AssertionFailure() << "message does not say '" << what << "': " << message;
    if (message.find('\n') != std::string::npos)
        return ::testing::AssertionFailure() << "message spans several lines: " << message;
    return ::testing::AssertionSuccess();
}

const Node& node_named(const Graph& graph, const std::string& name) {
    const int index = graph.find_node(name);
    if (index < 0) throw std::runtime_error("no node named " + name);
    return graph.nodes[index];
}

// The value a node reads at input `i`, by the name of the value's producer (or graph input).
std::string input_name(const Graph& graph, const std::string& node, std::size_t i = 0) {
    return graph.values.at(node_named(graph, node).inputs.at(i)).name;
}

std::vector<std::string> node_names(const Graph& graph) {
    std::vector<std::string> names;
    for (const Node& node : graph.nodes) names.push_back(node.name);
    return names;
}

// =============================================================================================
// Expansion

TEST_F(GraphFileTest, ExpandsBlocksAndRepeatsIntoDottedScopedNodes) {
    const Graph graph = load(R"yaml(
family: tiny
params: {width: 8, blocks: 2}
inputs:
  - {name: data, shape: [3, 16, 16]}
blocks:
  unit:
    args: {out: ~, stride: 1}
    body:
      - {op: conv, name: conv, out_channels: "${out}", stride: "${stride}"}
      - {op: relu, name: relu}
graph:
  - {op: conv, name: stem, out_channels: "${width}"}
  - repeat: 2
    var: s
    name: stage${s + 1}
    body:
      - repeat: ${blocks}
        var: b
        body:
          - {block: unit, name: "unit${b}", out: "${width * 2**s}", stride: "${2 if b == 0 and s > 0 else 1}"}
  - {op: fc, name: fc, out_features: 10}
)yaml");
    const std::vector<std::string> expected = {
        "stem",
        "stage1.unit0.conv", "stage1.unit0.relu", "stage1.unit1.conv", "stage1.unit1.relu",
        "stage2.unit0.conv", "stage2.unit0.relu", "stage2.unit1.conv", "stage2.unit1.relu",
        "fc"};
    EXPECT_EQ(node_names(graph), expected);
    EXPECT_EQ(graph.name, "tiny");

    const Node& conv = node_named(graph, "stage2.unit0.conv");
    EXPECT_EQ(conv.op, "conv");
    EXPECT_EQ(conv.attrs.get_int("out_channels"), 16);
    EXPECT_EQ(conv.attrs.get_int("stride"), 2);
    EXPECT_EQ(node_named(graph, "stage2.unit1.conv").attrs.get_int("stride"), 1);
    EXPECT_EQ(conv.scope, (std::vector<ScopeEntry>{{"stage2", ""}, {"unit0", "unit"}}));
    EXPECT_TRUE(node_named(graph, "stem").scope.empty());
    // A block's nodes point at the block body in the file: line 9, column 9.
    EXPECT_EQ(conv.loc.str(), (dir_ / "net.yaml").string() + ":9:9");

    // Sequential chaining across scopes.
    EXPECT_EQ(input_name(graph, "stem"), "data");
    EXPECT_EQ(input_name(graph, "stage1.unit0.conv"), "stem");
    EXPECT_EQ(input_name(graph, "stage2.unit0.conv"), "stage1.unit1.relu");
    EXPECT_EQ(input_name(graph, "fc"), "stage2.unit1.relu");

    ASSERT_EQ(graph.inputs.size(), 1u);
    EXPECT_EQ(graph.values[graph.inputs[0]].desc.shape, (Shape{1, 3, 16, 16}));
    ASSERT_EQ(graph.outputs.size(), 1u);
    EXPECT_EQ(graph.values[graph.outputs[0]].name, "fc");
}

TEST_F(GraphFileTest, AttributesKeepTheirYamlTypes) {
    const Graph graph = load(R"yaml(
family: tiny
params: {width: 8}
inputs: [{name: data, shape: [3, 4, 4]}]
graph:
  - op: probe
    count: 3
    ratio: 0.5
    eps: 2e-5
    flag: true
    mode: max
    quoted: "12"
    kernel: [3, 1]
    scales: [1, 0.5]
    computed: ${width * 2}
    computed_real: ${width / 2.0}
    text: w${width}
    test: ${width > 4}
)yaml");
    const Attributes& attrs = graph.nodes.at(0).attrs;
    EXPECT_EQ(attrs.get_int("count"), 3);
    EXPECT_EQ(attr_value_type(*attrs.find("ratio")), AttrType::real);
    EXPECT_DOUBLE_EQ(attrs.get_real("ratio"), 0.5);
    EXPECT_DOUBLE_EQ(attrs.get_real("eps"), 2e-5);
    EXPECT_TRUE(attrs.get_bool("flag"));
    EXPECT_EQ(attrs.get_string("mode"), "max");
    EXPECT_EQ(attrs.get_string("quoted"), "12");
    EXPECT_EQ(attrs.get_ints("kernel"), (std::vector<std::int64_t>{3, 1}));
    EXPECT_EQ(std::get<std::vector<double>>(*attrs.find("scales")), (std::vector<double>{1.0, 0.5}));
    EXPECT_EQ(attrs.get_int("computed"), 16);
    EXPECT_EQ(attr_value_type(*attrs.find("computed_real")), AttrType::real);
    EXPECT_DOUBLE_EQ(attrs.get_real("computed_real"), 4.0);
    EXPECT_EQ(attrs.get_string("text"), "w8");
    EXPECT_TRUE(attrs.get_bool("test"));
    EXPECT_EQ(attrs.values().size(), 12u);  // op and name are not attributes
}

TEST_F(GraphFileTest, ExpressionsFollowTheDocumentedOperators) {
    const Graph graph = load(R"yaml(
family: tiny
params: {width: 8, zero: 0}
inputs: [{name: data, shape: [3, 4, 4]}]
graph:
  - op: probe
    floor_div: ${7 // 2}
    floor_div_negative: ${-7 // 2}
    modulo_negative: ${-7 % 3}
    power: ${2 ** 10}
    power_binds_tighter_than_minus: ${-2 ** 2}
    parentheses: ${(1 + 2) * 3}
    exact_division: ${12 / 4}
    python_conditional: ${1 if width > 4 else 0}
    c_conditional: "${width > 4 ? 10 : 20}"   # ": " inside a plain YAML value needs quotes
    nested_conditional: ${1 if width < 4 else 2 if width < 16 else 3}
    minimum: ${min(3, width, 5)}
    maximum: ${max(1, 2.5)}
    logic: ${not (width == 8) or width != 8}
    range: ${width >= 8 and width <= 8}
    strings: ${"max" == 'max'}
    short_circuit: ${0 if zero == 0 else 100 // zero}
    escaped: $${literal}
    interpolated: a${width}b${width * 2}
)yaml");
    const Attributes& attrs = graph.nodes.at(0).attrs;
    EXPECT_EQ(attrs.get_int("floor_div"), 3);
    EXPECT_EQ(attrs.get_int("floor_div_negative"), -4);
    EXPECT_EQ(attrs.get_int("modulo_negative"), 2);
    EXPECT_EQ(attrs.get_int("power"), 1024);
    EXPECT_EQ(attrs.get_int("power_binds_tighter_than_minus"), -4);
    EXPECT_EQ(attrs.get_int("parentheses"), 9);
    EXPECT_EQ(attrs.get_int("exact_division"), 3);
    EXPECT_EQ(attrs.get_int("python_conditional"), 1);
    EXPECT_EQ(attrs.get_int("c_conditional"), 10);
    EXPECT_EQ(attrs.get_int("nested_conditional"), 2);
    EXPECT_EQ(attrs.get_int("minimum"), 3);
    EXPECT_DOUBLE_EQ(attrs.get_real("maximum"), 2.5);
    EXPECT_FALSE(attrs.get_bool("logic"));
    EXPECT_TRUE(attrs.get_bool("range"));
    EXPECT_TRUE(attrs.get_bool("strings"));
    EXPECT_EQ(attrs.get_int("short_circuit"), 0);
    EXPECT_EQ(attrs.get_string("escaped"), "${literal}");
    EXPECT_EQ(attrs.get_string("interpolated"), "a8b16");
}

TEST_F(GraphFileTest, ParamDefaultsDerivedValuesAndChecksSeeEarlierParams) {
    const std::string text = R"yaml(
family: tiny
params: {depth: 8, width: "${depth * 2}"}
derived: {B: "${(depth - 2) // 3}"}
checks:
  - {require: "${(depth - 2) % 3 == 0}", message: "depth must be 3B + 2"}
inputs: [{name: data, shape: [3, 4, 4]}]
graph:
  - {op: probe, blocks: "${B}", width: "${width}"}
)yaml";
    const Graph graph = load(text);
    EXPECT_EQ(graph.nodes.at(0).attrs.get_int("blocks"), 2);
    EXPECT_EQ(graph.nodes.at(0).attrs.get_int("width"), 16);
    EXPECT_EQ(graph.meta.at("params"), "depth=8 width=16");

    const std::string error = load_error(text, {"", {{"depth", "9"}}});
    EXPECT_TRUE(error_is(error, at("net.yaml", 5, 5), "check failed: depth must be 3B + 2"));
}

TEST_F(GraphFileTest, ConditionalsSkipItemsAndChainingContinuesFromThePreviousOne) {
    const std::string text = R"yaml(
family: tiny
params: {extra: false}
inputs: [{name: data, shape: [3, 4, 4]}]
blocks:
  pair:
    body:
      - {op: conv, name: conv}
      - {op: relu, name: relu, if: "${extra}"}
graph:
  - {op: a, name: a}
  - {op: b, name: b, if: "${extra}"}
  - {block: pair, name: p}
  - repeat: 2
    if: ${extra}
    body:
      - {op: d, name: "d${i}"}
  - {op: c, name: c}
)yaml";
    const Graph without = load(text);
    EXPECT_EQ(node_names(without), (std::vector<std::string>{"a", "p.conv", "c"}));
    EXPECT_EQ(input_name(without, "p.conv"), "a");
    EXPECT_EQ(input_name(without, "c"), "p.conv");

    const Graph with = load(text, {"", {{"extra", "true"}}});
    EXPECT_EQ(node_names(with), (std::vector<std::string>{"a", "b", "p.conv", "p.relu", "d0", "d1", "c"}));
    EXPECT_EQ(input_name(with, "c"), "d1");
}

TEST_F(GraphFileTest, ResidualUnitAddsItsOwnInputToTheLastLayer) {
    const Graph graph = load(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
blocks:
  residual:
    args: {width: ~}
    body:
      - {op: conv, name: conv1, out_channels: "${width}"}
      - {op: relu, name: relu1}
      - {op: conv, name: conv2, out_channels: "${width}"}
      - {op: add, name: sum, inputs: [$in, conv2]}
      - {op: relu, name: relu}
graph:
  - {op: conv, name: stem, out_channels: 8}
  - {block: residual, name: unit0, width: 8}
  - {block: residual, name: unit1, width: 8}
)yaml");
    EXPECT_EQ(graph.nodes.size(), 11u);
    EXPECT_EQ(input_name(graph, "unit0.sum", 0), "stem");
    EXPECT_EQ(input_name(graph, "unit0.sum", 1), "unit0.conv2");
    EXPECT_EQ(input_name(graph, "unit1.conv1"), "unit0.relu");
    EXPECT_EQ(input_name(graph, "unit1.sum", 0), "unit0.relu");
    EXPECT_EQ(input_name(graph, "unit1.sum", 1), "unit1.conv2");
    EXPECT_EQ(graph.values[graph.outputs.at(0)].name, "unit1.relu");
}

TEST_F(GraphFileTest, ParallelBranchesReadTheBlockInputAndAreSummed) {
    const Graph graph = load(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
blocks:
  sum_fusion:
    body:
      - repeat: 4
        var: k
        body:
          - {op: conv, name: "branch${k}", inputs: [$in], out_channels: 8}
      - {op: add, name: sum, inputs: [branch0, branch1, branch2, branch3]}
graph:
  - {op: conv, name: stem}
  - {block: sum_fusion, name: fusion}
)yaml");
    for (int k = 0; k < 4; ++k) EXPECT_EQ(input_name(graph, "fusion.branch" + std::to_string(k)), "stem");
    const Node& sum = node_named(graph, "fusion.sum");
    ASSERT_EQ(sum.inputs.size(), 4u);
    for (int k = 0; k < 4; ++k) EXPECT_EQ(input_name(graph, "fusion.sum", k), "fusion.branch" + std::to_string(k));
}

TEST_F(GraphFileTest, NamesResolveInTheCurrentScopeFirstThenOutward) {
    const Graph graph = load(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
blocks:
  inner:
    body:
      - {op: conv, name: x}
      - {op: add, name: mix, inputs: [x, stem]}
graph:
  - {op: conv, name: stem}
  - {op: conv, name: x}
  - {block: inner, name: blk}
  - {op: add, name: tail, inputs: [blk.x, x, blk, data]}
)yaml");
    EXPECT_EQ(input_name(graph, "blk.mix", 0), "blk.x");  // own scope first
    EXPECT_EQ(input_name(graph, "blk.mix", 1), "stem");   // then outward
    EXPECT_EQ(input_name(graph, "tail", 0), "blk.x");     // dotted: inside an instance
    EXPECT_EQ(input_name(graph, "tail", 1), "x");
    EXPECT_EQ(input_name(graph, "tail", 2), "blk.mix");   // an instance's name: its output
    EXPECT_EQ(input_name(graph, "tail", 3), "data");
}

TEST_F(GraphFileTest, BlocksTakeSeveralInputsAndMayNameTheirOutput) {
    const Graph graph = load(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
blocks:
  pair:
    body:
      - {op: add, name: sum, inputs: [$in, $in1]}
      - {op: relu, name: side}
    output: sum
graph:
  - {op: conv, name: a}
  - {op: conv, name: b, inputs: data}
  - {block: pair, name: p, inputs: [a, b]}
  - {op: relu, name: after}
)yaml");
    EXPECT_EQ(input_name(graph, "p.sum", 0), "a");
    EXPECT_EQ(input_name(graph, "p.sum", 1), "b");
    EXPECT_EQ(input_name(graph, "after"), "p.sum");
}

TEST_F(GraphFileTest, UnnamedNodesGetTheirOpNameMadeUnique) {
    const Graph graph = load(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
blocks:
  unit:
    body: [{op: relu}]
graph:
  - {op: relu}
  - {op: relu}
  - {block: unit}
  - {block: unit}
)yaml");
    EXPECT_EQ(node_names(graph), (std::vector<std::string>{"relu", "relu_1", "unit.relu", "unit_1.relu"}));
}

TEST_F(GraphFileTest, RepeatOfZeroExpandsNothingAndNamedIterationsAreGroups) {
    const Graph graph = load(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
graph:
  - {op: conv, name: stem}
  - repeat: 0
    body: [{op: never}]
  - repeat: 2
    name: g${i}
    body:
      - {op: conv, name: conv}
)yaml");
    EXPECT_EQ(node_names(graph), (std::vector<std::string>{"stem", "g0.conv", "g1.conv"}));
    EXPECT_EQ(node_named(graph, "g1.conv").scope, (std::vector<ScopeEntry>{{"g1", ""}}));
    EXPECT_EQ(input_name(graph, "g1.conv"), "g0.conv");
}

// =============================================================================================
// Variants, overrides, meta

const char* const kVariantFamily = R"yaml(
family: widths
doc: A family with two widths.
params:
  width: 16
  depth: 8
  label: plain
derived:
  double: ${width * 2}
variants:
  - {id: widths-w32, paper: "Table 3", params: {width: 32}}
  - {id: widths-w64, paper: "Table 4", params: {width: 64, depth: 20}}
meta:
  class_names: [cat, dog]
  source: width ${width}
inputs: [{name: data, shape: [3, 4, 4]}]
graph:
  - {op: probe, width: "${width}", depth: "${depth}", label: "${label}", double: "${double}"}
)yaml";

TEST_F(GraphFileTest, VariantSetsItsParamsAndNamesTheGraph) {
    const Graph graph = load(kVariantFamily, {"widths-w64", {}});
    EXPECT_EQ(graph.name, "widths-w64");
    EXPECT_EQ(graph.nodes.at(0).attrs.get_int("width"), 64);
    EXPECT_EQ(graph.nodes.at(0).attrs.get_int("depth"), 20);
    EXPECT_EQ(graph.nodes.at(0).attrs.get_int("double"), 128);
    EXPECT_EQ(graph.meta.at("family"), "widths");
    EXPECT_EQ(graph.meta.at("variant"), "widths-w64");
    EXPECT_EQ(graph.meta.at("paper"), "Table 4");
    EXPECT_EQ(graph.meta.at("file"), (dir_ / "net.yaml").string());
    EXPECT_EQ(graph.meta.at("class_names"), "cat,dog");
    EXPECT_EQ(graph.meta.at("source"), "width 64");

    const Graph defaults = load(kVariantFamily);
    EXPECT_EQ(defaults.name, "widths");
    EXPECT_EQ(defaults.meta.at("variant"), "");
    EXPECT_EQ(defaults.nodes.at(0).attrs.get_int("width"), 16);
}

TEST_F(GraphFileTest, OverridesBeatTheVariantAndAreParsedAsYamlScalars) {
    const Graph graph = load(kVariantFamily, {"widths-w64", {{"width", "24"}, {"label", "'true'"}}});
    const Attributes& attrs = graph.nodes.at(0).attrs;
    EXPECT_EQ(attrs.get_int("width"), 24);
    EXPECT_EQ(attrs.get_int("depth"), 20);
    EXPECT_EQ(attrs.get_int("double"), 48);
    EXPECT_EQ(attrs.get_string("label"), "true");  // quoted: a string, not a bool

    const Graph expression = load(kVariantFamily, {"", {{"width", "${2 ** 5}"}}});
    EXPECT_EQ(expression.nodes.at(0).attrs.get_int("width"), 32);
}

TEST_F(GraphFileTest, OverridingAnUnknownOrDerivedParamIsAnError) {
    EXPECT_TRUE(error_is(load_error(kVariantFamily, {"", {{"widht", "3"}}}), "--set widht=3: ",
                         "unknown parameter 'widht'"));
    EXPECT_TRUE(error_is(load_error(kVariantFamily, {"", {{"double", "3"}}}), "--set double=3: ",
                         "derived"));
    EXPECT_TRUE(error_is(load_error(kVariantFamily, {"", {{"width", "${x}"}}}), "--set width=${x}:1:3: ",
                         "undefined parameter 'x'"));
}

TEST_F(GraphFileTest, UnknownVariantIsAnErrorListingTheKnownOnes) {
    EXPECT_TRUE(error_is(load_error(kVariantFamily, {"widths-w48", {}}), at("net.yaml", 10, 3),
                         "unknown variant 'widths-w48' of family 'widths' (its variants: widths-w32, widths-w64)"));
}

TEST_F(GraphFileTest, InfoListsParamsAndVariantsAsWritten) {
    const GraphFileInfo info = read_graph_file_info(write("net.yaml", kVariantFamily));
    EXPECT_EQ(info.family, "widths");
    EXPECT_EQ(info.doc, "A family with two widths.");
    EXPECT_EQ(info.params.at("width"), "16");
    EXPECT_EQ(info.params.count("double"), 0u);  // derived values are not settable params
    ASSERT_EQ(info.variants.size(), 2u);
    EXPECT_EQ(info.variants[1].id, "widths-w64");
    EXPECT_EQ(info.variants[1].paper, "Table 4");
    EXPECT_EQ(info.variants[1].params, (std::map<std::string, std::string>{{"width", "64"}, {"depth", "20"}}));
}

// =============================================================================================
// Includes

TEST_F(GraphFileTest, IncludesAreRelativeToTheIncludingFileAndReadOnce) {
    write("lib/base.yaml", R"yaml(
blocks:
  base: {body: [{op: relu, name: r}]}
)yaml");
    write("lib/left.yaml", "include: base.yaml\nblocks:\n  left: {body: [{block: base, name: b}]}\n");
    write("lib/right.yaml", "include: [base.yaml]\nblocks:\n  right: {body: [{block: base, name: b}]}\n");
    const Graph graph = load(R"yaml(
family: tiny
include: [lib/left.yaml, lib/right.yaml]
inputs: [{name: data, shape: [8, 4, 4]}]
graph:
  - {block: left, name: l}
  - {block: right, name: r}
)yaml");
    EXPECT_EQ(node_names(graph), (std::vector<std::string>{"l.b.r", "r.b.r"}));
    EXPECT_EQ(node_named(graph, "l.b.r").scope, (std::vector<ScopeEntry>{{"l", "left"}, {"b", "base"}}));
    EXPECT_EQ(node_named(graph, "l.b.r").loc.file, (dir_ / "lib/base.yaml").string());
}

TEST_F(GraphFileTest, IncludeNotFoundPointsAtTheInclude) {
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
include:
  - missing.yaml
inputs: [{name: data, shape: [8, 4, 4]}]
graph: [{op: relu}]
)yaml"),
                         at("net.yaml", 3, 5), "include 'missing.yaml' not found"));
}

TEST_F(GraphFileTest, CyclicIncludeIsAnError) {
    write("a.yaml", "include: b.yaml\nblocks: {}\n");
    write("b.yaml", "blocks: {}\ninclude: a.yaml\n");
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
include: a.yaml
inputs: [{name: data, shape: [8, 4, 4]}]
graph: [{op: relu}]
)yaml"),
                         at("b.yaml", 2, 10), "cyclic include"));
}

TEST_F(GraphFileTest, IncludedFilesHoldOnlyBlocks) {
    write("lib.yaml", "blocks: {}\ngraph: []\n");
    const std::string family = "family: tiny\ninclude: lib.yaml\ninputs: [{name: d, shape: [1]}]\ngraph: [{op: relu}]\n";
    EXPECT_TRUE(error_is(load_error(family),
                         at("lib.yaml", 2, 1), "unknown key 'graph' in an included block library"));
}

TEST_F(GraphFileTest, ABlockDefinedTwiceIsAnError) {
    write("lib.yaml", "blocks:\n  unit: {body: [{op: relu}]}\n");
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
include: lib.yaml
blocks:
  unit: {body: [{op: relu}]}
inputs: [{name: data, shape: [8, 4, 4]}]
graph: [{op: relu}]
)yaml"),
                         at("net.yaml", 4, 3),
                         "block 'unit' is already defined at " + (dir_ / "lib.yaml").string() + ":2:3"));
}

// =============================================================================================
// Errors, each with its position

TEST_F(GraphFileTest, MalformedYamlReportsWhereTheParserStopped) {
    EXPECT_TRUE(error_is(load_error("family: tiny\ngraph: [a, b\ninputs: []\n"), at("net.yaml", 3, 7),
                         "malformed YAML"));
}

TEST_F(GraphFileTest, UnquotedExpressionInAFlowCollectionGetsAHint) {
    EXPECT_TRUE(error_is(load_error("family: tiny\ngraph:\n  - {op: fc, out_features: ${classes}}\n"),
                         at("net.yaml", 3, 29), "must be quoted"));
}

TEST_F(GraphFileTest, UnknownKeysAreErrorsAtTheKey) {
    EXPECT_TRUE(error_is(load_error("family: tiny\nparam: {x: 1}\n"), at("net.yaml", 2, 1),
                         "unknown key 'param' in a family file (expected one of: family, doc, include,"));
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
graph:
  - repeat: 2
    times: 3
    body: [{op: relu}]
)yaml"),
                         at("net.yaml", 5, 5), "unknown key 'times' in a repeat"));
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
variants:
  - {id: v, parms: {x: 1}}
inputs: [{name: data, shape: [8, 4, 4]}]
graph: [{op: relu}]
)yaml"),
                         at("net.yaml", 3, 13), "unknown key 'parms' in a variant"));
}

TEST_F(GraphFileTest, DuplicateKeyIsAnError) {
    const std::string text = "family: tiny\ninputs: [{name: d, shape: [1]}]\ngraph:\n  - {op: conv, kernel: 3, kernel: 5}\n";
    EXPECT_TRUE(error_is(load_error(text),
                         at("net.yaml", 4, 27), "duplicate key 'kernel'"));
}

TEST_F(GraphFileTest, UndefinedParameterPointsIntoTheExpression) {
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
params: {L: 4, M: 8}
inputs: [{name: data, shape: [8, 4, 4]}]
graph:
  - op: conv
    out_channels: ${L * LM}
)yaml"),
                         at("net.yaml", 6, 25), "undefined parameter 'LM' (defined here: L, M)"));
}

TEST_F(GraphFileTest, BadExpressionSyntaxPointsAtTheOffendingToken) {
    const std::string head = "family: tiny\nparams: {w: 8}\ninputs: [{name: data, shape: [8, 4, 4]}]\ngraph:\n";
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${w +* 2}\"}\n"), at("net.yaml", 5, 25),
                         "expected a number, a name or '(', found '*'"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${(w + 2}\"}\n"), at("net.yaml", 5, 28),
                         "expected ')'"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${w}x${w\"}\n"), at("net.yaml", 5, 25),
                         "unterminated '${'"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${1 < w < 9}\"}\n"), at("net.yaml", 5, 28),
                         "chained comparisons"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${w && 1}\"}\n"), at("net.yaml", 5, 24),
                         "unexpected character '&'"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${sqrt(w)}\"}\n"), at("net.yaml", 5, 22),
                         "unknown function 'sqrt'"));
}

TEST_F(GraphFileTest, ArithmeticErrorsAreReportedNotComputed) {
    const std::string head = "family: tiny\nparams: {w: 8, zero: 0}\ninputs: [{name: data, shape: [8, 4, 4]}]\ngraph:\n";
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${w // zero}\"}\n"), at("net.yaml", 5, 24),
                         "division by zero"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${w % zero}\"}\n"), at("net.yaml", 5, 24),
                         "division by zero"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${w / 3}\"}\n"), at("net.yaml", 5, 24),
                         "8 / 3 is not a whole number (use // to round down)"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${w ** 99}\"}\n"), at("net.yaml", 5, 24),
                         "integer overflow"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, k: \"${w + true}\"}\n"), at("net.yaml", 5, 26),
                         "expected a number for '+', got bool true"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: conv, if: \"${w}\"}\n"), at("net.yaml", 5, 20),
                         "expected true or false for if:, got integer 8"));
}

TEST_F(GraphFileTest, UnknownBlockListsTheKnownOnes) {
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
blocks:
  unit: {body: [{op: relu}]}
graph:
  - {block: uint}
)yaml"),
                         at("net.yaml", 6, 13), "unknown block 'uint' (known blocks: unit)"));
}

TEST_F(GraphFileTest, UnknownInputNameListsTheVisibleNames) {
    const std::string head = "family: tiny\ninputs: [{name: data, shape: [8, 4, 4]}]\ngraph:\n  - {op: conv, name: conv}\n";
    EXPECT_TRUE(error_is(load_error(head + "  - {op: add, inputs: [conv, cnov]}\n"), at("net.yaml", 5, 30),
                         "unknown input 'cnov' (names visible here: conv, data)"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: add, inputs: [conv.x]}\n"), at("net.yaml", 5, 24),
                         "'conv' is a node, not a block instance or group"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: add, inputs: [$in1]}\n"), at("net.yaml", 5, 24),
                         "'$in1' does not exist"));
}

TEST_F(GraphFileTest, BlockArgumentsAreChecked) {
    const std::string head = R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
blocks:
  unit:
    args: {out_channels: ~, stride: 1}
    body: [{op: conv, out_channels: "${out_channels}", stride: "${stride}"}]
graph:
)yaml";
    EXPECT_TRUE(error_is(load_error(head + "  - {block: unit, stride: 2}\n"), at("net.yaml", 8, 5),
                         "missing required argument 'out_channels' of block 'unit' (defined at " +
                             (dir_ / "net.yaml").string() + ":4:3)"));
    EXPECT_TRUE(error_is(load_error(head + "  - {block: unit, out_channels: 8, strides: 2}\n"), at("net.yaml", 8, 36),
                         "block 'unit' has no argument 'strides' (its arguments: out_channels, stride)"));
}

TEST_F(GraphFileTest, RecursionWithoutAStopIsCutOff) {
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
blocks:
  forever:
    body:
      - {op: relu}
      - {block: forever}
graph:
  - {block: forever}
)yaml"),
                         at("net.yaml", 7, 9), "blocks nested deeper than 64"));
}

TEST_F(GraphFileTest, RecursionWithAStoppingConditionExpands) {
    const Graph graph = load(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
blocks:
  tower:
    args: {levels: ~}
    body:
      - {op: relu, name: r}
      - {block: tower, name: up, levels: "${levels - 1}", if: "${levels > 1}"}
graph:
  - {block: tower, name: t, levels: 3}
)yaml");
    EXPECT_EQ(node_names(graph), (std::vector<std::string>{"t.r", "t.up.r", "t.up.up.r"}));
}

TEST_F(GraphFileTest, RepeatCountsAreBounded) {
    const std::string head = "family: tiny\ninputs: [{name: data, shape: [8, 4, 4]}]\ngraph:\n";
    EXPECT_TRUE(error_is(load_error(head + "  - {repeat: -1, body: [{op: relu}]}\n"), at("net.yaml", 4, 14),
                         "repeat count must not be negative, got -1"));
    EXPECT_TRUE(error_is(load_error(head + "  - {repeat: 1000000000, body: [{op: relu}]}\n"), at("net.yaml", 4, 14),
                         "repeat count 1000000000 exceeds the limit of 100000"));
    EXPECT_TRUE(error_is(load_error(head + "  - {repeat: 2.5, body: [{op: relu}]}\n"), at("net.yaml", 4, 14),
                         "expected an integer for repeat:, got real 2.5"));
}

TEST_F(GraphFileTest, TotalNodeCountIsBounded) {
    const std::string error = load_error(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
graph:
  - repeat: 1000
    var: a
    body:
      - repeat: 1000
        var: b
        body:
          - {op: relu, name: "r${a}_${b}"}
)yaml");
    EXPECT_TRUE(error_is(error, at("net.yaml", 10, 13), "the graph exceeds 100000 nodes"));
}

TEST_F(GraphFileTest, DuplicateNodeNameNamesBothPlaces) {
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
graph:
  - {op: conv, name: conv}
  - {op: relu, name: conv}
)yaml"),
                         at("net.yaml", 5, 5), "duplicate node name 'conv' (first defined at " +
                                                   (dir_ / "net.yaml").string() + ":4:5)"));
    // A repeat without a scope name needs the loop variable in its items' names.
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
graph:
  - repeat: 2
    body: [{op: conv, name: conv}]
)yaml"),
                         at("net.yaml", 5, 12), "duplicate node name 'conv'"));
    EXPECT_TRUE(error_is(load_error(R"yaml(
family: tiny
inputs: [{name: data, shape: [8, 4, 4]}]
graph:
  - {op: conv, name: data}
)yaml"),
                         at("net.yaml", 4, 5), "duplicate node name 'data'"));
}

TEST_F(GraphFileTest, ItemsMustSayWhatTheyAre) {
    const std::string head = "family: tiny\ninputs: [{name: data, shape: [8, 4, 4]}]\ngraph:\n";
    EXPECT_TRUE(error_is(load_error(head + "  - {name: x}\n"), at("net.yaml", 4, 5),
                         "expected a graph item with 'op:', 'block:' or 'repeat:'"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: relu, block: unit}\n"), at("net.yaml", 4, 5),
                         "only one of"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: relu, name: a.b}\n"), at("net.yaml", 4, 22),
                         "name 'a.b' may hold only letters, digits"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: relu, k: {a: 1}}\n"), at("net.yaml", 4, 19),
                         "expected a single value for attribute 'k'"));
    EXPECT_TRUE(error_is(load_error(head + "  - {op: relu, k: [1, x]}\n"), at("net.yaml", 4, 23),
                         "attribute lists hold numbers only"));
}

TEST_F(GraphFileTest, FamilyFilesNeedTheirRequiredKeys) {
    EXPECT_TRUE(error_is(load_error("graph: []\n"), at("net.yaml", 1, 1), "needs 'family:'"));
    EXPECT_TRUE(error_is(load_error("family: tiny\ngraph: [{op: relu}]\n"), at("net.yaml", 1, 1), "needs a 'inputs:' key"));
}

// =============================================================================================
// Finding graphs

TEST_F(GraphFileTest, VariantIdsResolveOnTheGraphSearchPath) {
    write("zoo/widths.yaml", kVariantFamily);
    write("zoo/blocks/lib.yaml", "blocks: {}\n");  // a library, not a family: skipped
    ASSERT_EQ(setenv("WEFT_GRAPH_PATH", (dir_ / "zoo").c_str(), 1), 0);
    const Graph graph = resolve_graph("widths-w32");
    EXPECT_EQ(graph.name, "widths-w32");
    EXPECT_EQ(graph.nodes.at(0).attrs.get_int("width"), 32);
    EXPECT_EQ(resolve_graph("widths").name, "widths");
    EXPECT_EQ(resolve_graph((dir_ / "zoo/widths.yaml").string(), {"widths-w64", {}}).name, "widths-w64");

    bool found = false;
    for (const auto& [family, variant] : list_zoo()) found = found || variant.id == "widths-w64";
    EXPECT_TRUE(found);
    EXPECT_NE(error_of([] { resolve_graph("widths-w48"); }).find("'widths-w48' is neither a graph file nor a variant id"),
              std::string::npos);
    unsetenv("WEFT_GRAPH_PATH");
}

// =============================================================================================
// The examples in docs/graph-format.md

// Every ```yaml block of the format's documentation that is a whole family file.
std::vector<std::string> documented_families() {
    std::ifstream in(fs::path(WEFT_TEST_SOURCE_DIR) / "docs" / "graph-format.md");
    std::vector<std::string> families;
    std::string line, block;
    bool inside = false;
    while (std::getline(in, line)) {
        if (!inside && line == "```yaml") {
            inside = true;
            block.clear();
        } else if (inside && line == "```") {
            inside = false;
            if (block.rfind("family:", 0) == 0) families.push_back(block);
        } else if (inside) {
            block += line + "\n";
        }
    }
    return families;
}

TEST_F(GraphFileTest, DocumentedExamplesLoad) {
    const std::vector<std::string> families = documented_families();
    ASSERT_GE(families.size(), 3u);
    for (const std::string& text : families) {
        const fs::path file = write("example.yaml", text);
        SCOPED_TRACE(text.substr(0, text.find('\n')));
        EXPECT_NO_THROW(load_graph_file(file));
        for (const VariantInfo& variant : read_graph_file_info(file).variants)
            EXPECT_NO_THROW(load_graph_file(file, {variant.id, {}})) << variant.id;
    }
}

TEST_F(GraphFileTest, DocumentedResidualNetworkAddsEachUnitsInput) {
    const std::vector<std::string> families = documented_families();
    ASSERT_FALSE(families.empty());
    Graph graph = load_graph_file(write("example.yaml", families.back()), {"tiny-resnet-w32", {}});
    EXPECT_EQ(input_name(graph, "unit1.sum", 0), "unit0.relu");
    EXPECT_EQ(input_name(graph, "unit1.sum", 1), "unit1.second.bn");
    EXPECT_EQ(graph.find_node("unit1.second.relu"), -1);
    EXPECT_NE(graph.find_node("unit2.sum"), -1);
    const Registry& registry = testing::build_registry();
    for (const Node& node : graph.nodes)
        if (!registry.find_op(node.op)) GTEST_SKIP() << "operator plugin '" << node.op << "' is not built";
    infer_shapes(graph, registry);
    EXPECT_EQ(graph.values[graph.outputs.at(0)].desc.shape, (Shape{1, 10}));
}

// =============================================================================================
// The zoo in graphs/

std::vector<fs::path> family_files() {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(WEFT_TEST_GRAPH_DIR))
        if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

int count_op(const Graph& graph, const std::string& op) {
    return static_cast<int>(
        std::count_if(graph.nodes.begin(), graph.nodes.end(), [&](const Node& n) { return n.op == op; }));
}

// Depth counts the weighted layers: the first conv, one per block, the FC. A block is one layer
// however many convolutions it holds (an IGC block's two, SumFusion's four branches, a 3×1 + 1×3
// pair); shortcut projections do not count (as for ResNets).
int weighted_layers(const Graph& graph) {
    std::set<std::string> layers;
    for (const Node& node : graph.nodes) {
        if (node.op != "group_conv" && node.op != "pointwise_conv" && node.op != "fc") continue;
        if (!node.scope.empty() && node.scope.back().block == "projection") continue;
        const std::size_t dot = node.name.rfind('.');
        layers.insert(node.scope.empty() || dot == std::string::npos ? node.name : node.name.substr(0, dot));
    }
    return static_cast<int>(layers.size());
}

TEST(GraphZoo, EveryVariantLoadsAndHasThePapersDepth) {
    const std::vector<fs::path> files = family_files();
    ASSERT_GE(files.size(), 2u);
    for (const fs::path& file : files) {
        const GraphFileInfo info = read_graph_file_info(file);
        EXPECT_FALSE(info.variants.empty()) << file;
        for (const VariantInfo& variant : info.variants) {
            SCOPED_TRACE(variant.id);
            const Graph graph = load_graph_file(file, {variant.id, {}});
            EXPECT_EQ(graph.name, variant.id);
            EXPECT_FALSE(variant.paper.empty());
            const std::int64_t size = std::stoll(info.params.count("size") ? info.params.at("size") : "32");
            EXPECT_EQ(graph.values.at(graph.inputs.at(0)).desc.shape, (Shape{1, 3, size, size}));
            EXPECT_EQ(graph.nodes.back().op, "softmax");
            if (variant.params.count("depth"))
                EXPECT_EQ(weighted_layers(graph), std::stoi(variant.params.at("depth")));
            std::set<std::string> names;
            for (const Node& node : graph.nodes) EXPECT_TRUE(names.insert(node.name).second) << node.name;
        }
    }
}

TEST(GraphZoo, IgcL24M2D20HasEighteenInterleavedBlocks) {
    const Graph graph = load_graph_file(fs::path(WEFT_TEST_GRAPH_DIR) / "igc_cifar.yaml", {"igc-l24m2-d20", {}});
    EXPECT_EQ(graph.meta.at("paper"), "Table 3");
    std::vector<const Node*> convs;
    for (const Node& node : graph.nodes)
        if (node.op == "group_conv") convs.push_back(&node);
    ASSERT_EQ(convs.size(), 19u);
    EXPECT_EQ(convs[0]->attrs.get_int("groups"), 1);  // the first layer is a regular conv to L·M = 48
    EXPECT_EQ(convs[0]->attrs.get_int("out_channels"), 48);
    for (std::size_t i = 1; i < convs.size(); ++i) {
        EXPECT_EQ(convs[i]->attrs.get_int("groups"), 24);
        EXPECT_EQ(convs[i]->scope.back().block, "igc_block");
    }
    EXPECT_EQ(count_op(graph, "channel_permute"), 36);
    EXPECT_EQ(count_op(graph, "pointwise_conv"), 18);
    EXPECT_EQ(count_op(graph, "batch_norm"), 19);
    EXPECT_EQ(count_op(graph, "relu"), 19);
    // M doubles per stage: secondary partitions 2, 4, 8; widths 48, 96, 192.
    EXPECT_EQ(node_named(graph, "stage1.block5.secondary").attrs.get_int("groups"), 2);
    EXPECT_EQ(node_named(graph, "stage2.block0.secondary").attrs.get_int("groups"), 4);
    EXPECT_EQ(node_named(graph, "stage3.block5.secondary").attrs.get_int("groups"), 8);
    EXPECT_EQ(node_named(graph, "stage3.block5.primary").attrs.get_int("out_channels"), 192);
    // Down-sampling by the first block of stages 2 and 3 only.
    std::vector<std::string> strided;
    for (const Node& node : graph.nodes)
        if (node.attrs.has("stride") && node.attrs.get_int("stride") == 2) strided.push_back(node.name);
    EXPECT_EQ(strided, (std::vector<std::string>{"stage2.block0.primary", "stage3.block0.primary"}));
    EXPECT_EQ(node_named(graph, "stage2.block0.permute").attrs.get_int("groups"), 24);
    EXPECT_EQ(node_named(graph, "stage2.block0.unpermute").attrs.get_int("groups"), 4);
    EXPECT_EQ(node_named(graph, "head.fc").attrs.get_int("out_features"), 10);
}

TEST(GraphZoo, RegConvW16D20HasWidthsSixteenThirtyTwoSixtyFour) {
    const Graph graph = load_graph_file(fs::path(WEFT_TEST_GRAPH_DIR) / "regconv_cifar.yaml", {"regconv-w16-d20", {}});
    std::map<std::int64_t, int> widths;
    for (const Node& node : graph.nodes)
        if (node.op == "group_conv") ++widths[node.attrs.get_int("out_channels")];
    EXPECT_EQ(widths, (std::map<std::int64_t, int>{{16, 7}, {32, 6}, {64, 6}}));
    EXPECT_EQ(count_op(graph, "channel_permute"), 0);
}

TEST(GraphZoo, OverridesAndChecksReachTheZooFamilies) {
    const fs::path file = fs::path(WEFT_TEST_GRAPH_DIR) / "igc_cifar.yaml";
    const Graph graph = load_graph_file(file, {"igc-l4m8-d8", {{"classes", "100"}}});
    EXPECT_EQ(node_named(graph, "head.fc").attrs.get_int("out_features"), 100);
    const std::string error = GraphFileTest::error_of([&] { load_graph_file(file, {"", {{"depth", "21"}}}); });
    EXPECT_NE(error.find("check failed: depth must be 3B + 2"), std::string::npos) << error;
}

}  // namespace
}  // namespace weft
