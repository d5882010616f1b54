// Expansion of the `graph:` sequence (graph_file_expander.h): the Expander walks items with a
// Context that says which file, variables, name table and block inputs are in force.
#include "graph_file_expander.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>

namespace weft::graph_file {

namespace {

// Guards against files that would expand without end or exhaust memory.
constexpr std::size_t kMaxNodes = 100000;
constexpr std::int64_t kMaxRepeatCount = 100000;
constexpr std::int64_t kMaxExpansionSteps = 1000000;  // items and iterations visited
constexpr int kMaxBlockDepth = 64;

constexpr std::string_view kBlockInput = "$in";  // a block's own input ($in1, $in2 for more)

// =============================================================================================
// Expansion

// The names bound in one block instance or named repeat iteration: what `inputs:` and
// `outputs:` resolve against (expression variables are VariableBindings). A name bound to a block
// instance or group means its output, and `instance.child` reaches inside it through its members.
struct NameTable {
    struct Target {
        int value = -1;
        std::shared_ptr<NameTable> members;  // set for block instances and named groups
    };
    NameTable* parent = nullptr;  // names not found here are looked up outward
    std::map<std::string, Target, std::less<>> names;
};

struct Context {
    const SourceFile* file = nullptr;
    const VariableBindings* vars = nullptr;
    const VariableBindings* globals = nullptr;  // the family's params: what block bodies see
    NameTable* name_table = nullptr;
    std::vector<ScopeEntry> node_scope;      // Node::scope: the block instances and groups around here
    std::string prefix;                      // "stage1.block0."
    std::vector<int> block_inputs;           // $in, $in1, ...
    int cursor = -1;                         // what a node without inputs: reads
    int block_depth = 0;
};

bool is_node_name(std::string_view name) {
    auto allowed = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
    return !name.empty() && std::all_of(name.begin(), name.end(), allowed);
}

class Expander {
public:
    Expander(Graph& graph, const BlockLibrary& blocks) : graph_(graph), blocks_(blocks) {}

    void bind_graph_input(Context& context, const std::string& name, int value, const SourceLocation& where) {
        claim_name(context, name, where);
        context.name_table->names[name] = NameTable::Target{value, nullptr};
    }

    void expand_sequence(const YAML::Node& body, Context& context) {
        for (const YAML::Node& item : require_sequence(*context.file, body, "a graph body")) expand_item(item, context);
    }

    int resolve_name(const std::string& name, const Context& context, const SourceLocation& where) const;

private:
    void count_step(const SourceLocation& where) {
        if (++steps_ > kMaxExpansionSteps)
            fail_at(where, fmt::format("the graph expands to more than {} items (is a repeat count too large?)",
                                       kMaxExpansionSteps));
    }

    void expand_item(const YAML::Node& node, Context& context) {
        const Mapping item(*context.file, node, "a graph item");
        count_step(item.where());
        if (const YAML::Node* condition = item.get("if"))
            if (!evaluate_bool(*context.file, *condition, *context.vars, "if:")) return;
        const int kinds = int(item.get("op") != nullptr) + int(item.get("block") != nullptr) +
                          int(item.get("repeat") != nullptr);
        if (kinds != 1)
            fail_at(item.where(), kinds == 0 ? "expected a graph item with 'op:', 'block:' or 'repeat:'"
                                             : "a graph item takes only one of 'op:', 'block:', 'repeat:'");
        if (item.get("op")) return expand_op(item, context);
        if (item.get("block")) return expand_block_call(item, context);
        expand_repeat(item, context);
    }

    void expand_op(const Mapping& item, Context& context);
    void expand_block_call(const Mapping& item, Context& context);
    void expand_repeat(const Mapping& item, Context& context);
    void expand_iteration(const Mapping& item, Context& context, const VariableBindings& vars);
    VariableBindings bind_block_args(const Mapping& item, const BlockDef& block, const Context& context) const;
    int block_output(const BlockDef& block, const Context& inner) const;
    std::vector<int> resolve_inputs(const Mapping& item, const Context& context, const std::string& node_name) const;
    int resolve_block_input(const std::string& name, const Context& context, const SourceLocation& where) const;
    std::string local_name(const Mapping& item, const Context& context, const std::string& fallback);
    std::string claim_name(const Context& context, const std::string& local, const SourceLocation& where);
    std::string auto_name(const Context& context, const std::string& base);

    Graph& graph_;
    const BlockLibrary& blocks_;
    std::map<std::string, SourceLocation> claimed_;  // full names of nodes, instances, groups and inputs
    std::map<std::string, int> next_suffix_;  // full base name -> the suffix auto_name tries next
    std::int64_t steps_ = 0;
};

// An explicit `name:` or, without one, the op's or block's name made unique in this block
// instance or group (`relu`, `relu_1`, ...).
std::string Expander::local_name(const Mapping& item, const Context& context, const std::string& fallback) {
    const YAML::Node* name = item.get("name");
    if (!name) {
        if (!is_node_name(fallback))
            fail_at(item.where(), fmt::format("'{}' cannot serve as a node name; give the item a name:", fallback));
        return auto_name(context, fallback);
    }
    std::string local = evaluate_text(*context.file, *name, *context.vars, "name:");
    if (!is_node_name(local))
        fail_at(*context.file, *name, fmt::format("name '{}' may hold only letters, digits, '_' and '-' "
                                                  "(scopes add the dots)", local));
    return local;
}

// Names are never released, so the suffixes tried before for this base stay taken: the search
// resumes where the last one ended, and a repeat of 100,000 unnamed relus costs n log n, not n².
std::string Expander::auto_name(const Context& context, const std::string& base) {
    std::string candidate = base;
    int& next = next_suffix_[context.prefix + base];
    if (next > 0) candidate = fmt::format("{}_{}", base, next);
    while (claimed_.count(context.prefix + candidate)) candidate = fmt::format("{}_{}", base, ++next);
    return candidate;
}

std::string Expander::claim_name(const Context& context, const std::string& local, const SourceLocation& where) {
    const std::string full = context.prefix + local;
    auto [it, inserted] = claimed_.emplace(full, where);
    if (!inserted) fail_at(where, fmt::format("duplicate node name '{}' (first defined at {})", full, it->second.str()));
    return full;
}

void Expander::expand_op(const Mapping& item, Context& context) {
    const SourceFile& file = *context.file;
    const std::string op = evaluate_text(file, *item.get("op"), *context.vars, "op:");
    const std::string local = local_name(item, context, op);
    Node node;
    node.loc = item.where();
    node.name = claim_name(context, local, node.loc);
    node.op = op;
    node.inputs = resolve_inputs(item, context, node.name);
    node.scope = context.node_scope;
    static constexpr std::string_view meta_keys[] = {"op", "name", "inputs", "if"};
    for (const Entry& entry : item.entries())
        if (std::find(std::begin(meta_keys), std::end(meta_keys), entry.key) == std::end(meta_keys))
            node.attrs.set(entry.key, evaluate_attribute(file, entry.value, *context.vars,
                                                         fmt::format("attribute '{}'", entry.key)));
    if (graph_.nodes.size() >= kMaxNodes)
        fail_at(node.loc, fmt::format("the graph exceeds {} nodes (is a repeat count too large?)", kMaxNodes));
    const int index = graph_.add_node(std::move(node));
    const int output = graph_.nodes[index].outputs.at(0);
    context.name_table->names[local] = NameTable::Target{output, nullptr};
    context.cursor = output;
}

// Arguments are evaluated where the block is called; defaults where it is defined, seeing the
// arguments before them and the family's params.
VariableBindings Expander::bind_block_args(const Mapping& item, const BlockDef& block, const Context& context) const {
    VariableBindings args(context.globals);
    for (const Entry& entry : item.entries()) {
        if (std::find(kCallKeys.begin(), kCallKeys.end(), entry.key) != kCallKeys.end()) continue;
        auto declared = std::find_if(block.args.begin(), block.args.end(),
                                     [&](const BlockArg& a) { return a.name == entry.key; });
        if (declared == block.args.end()) {
            std::vector<std::string> names;
            for (const BlockArg& arg : block.args) names.push_back(arg.name);
            fail_at(*context.file, entry.key_node, fmt::format("block '{}' has no argument '{}' (its arguments: {})",
                                                               block.name, entry.key, fmt::join(names, ", ")));
        }
    }
    for (const BlockArg& arg : block.args) {
        const std::string what = fmt::format("argument '{}' of block '{}'", arg.name, block.name);
        if (const YAML::Node* given = item.get(arg.name)) {
            args.define(arg.name, evaluate_scalar(*context.file, *given, *context.vars, what));
        } else if (!arg.default_value.IsNull()) {
            args.define(arg.name, evaluate_scalar(*block.file, arg.default_value, args, what));
        } else {
            fail_at(item.where(), fmt::format("missing required argument '{}' of block '{}' (defined at {})", arg.name,
                                              block.name, location_of(*block.file, block.node).str()));
        }
    }
    return args;
}

int Expander::block_output(const BlockDef& block, const Context& inner) const {
    if (block.output) {
        const std::string name = evaluate_text(*block.file, *block.output, *inner.vars, "output:");
        return resolve_name(name, inner, location_of(*block.file, *block.output));
    }
    return inner.cursor;
}

void Expander::expand_block_call(const Mapping& item, Context& context) {
    const YAML::Node& block_node = *item.get("block");
    const std::string block_name = evaluate_text(*context.file, block_node, *context.vars, "block:");
    const BlockDef* block = blocks_.find(block_name);
    if (!block)
        fail_at(*context.file, block_node,
                fmt::format("unknown block '{}' (known blocks: {})", block_name, blocks_.names()));
    if (context.block_depth >= kMaxBlockDepth)
        fail_at(item.where(), fmt::format("blocks nested deeper than {} (does block '{}' call itself without an "
                                          "if: that stops it?)", kMaxBlockDepth, block_name));
    const std::string local = local_name(item, context, block_name);
    const std::string full = claim_name(context, local, item.where());
    const VariableBindings args = bind_block_args(item, *block, context);
    auto members = std::make_shared<NameTable>();
    members->parent = context.name_table;
    Context inner = context;
    inner.file = block->file.get();
    inner.vars = &args;
    inner.name_table = members.get();
    inner.node_scope.push_back(ScopeEntry{local, block_name});
    inner.prefix = full + ".";
    inner.block_inputs = resolve_inputs(item, context, full);
    inner.cursor = inner.block_inputs.empty() ? -1 : inner.block_inputs.front();
    inner.block_depth = context.block_depth + 1;
    expand_sequence(block->body, inner);
    const int output = block_output(*block, inner);
    context.name_table->names[local] = NameTable::Target{output, members};
    context.cursor = output;
}

void Expander::expand_repeat(const Mapping& item, Context& context) {
    const SourceFile& file = *context.file;
    item.allow_only({"repeat", "var", "name", "body", "if"}, "a repeat");
    const YAML::Node& count_node = *item.get("repeat");
    const std::int64_t count = evaluate_integer(file, count_node, *context.vars, "repeat:");
    if (count < 0) fail_at(file, count_node, fmt::format("repeat count must not be negative, got {}", count));
    if (count > kMaxRepeatCount)
        fail_at(file, count_node, fmt::format("repeat count {} exceeds the limit of {}", count, kMaxRepeatCount));
    std::string var = "i";
    if (const YAML::Node* var_node = item.get("var")) {
        var = var_node->IsScalar() ? var_node->Scalar() : std::string();
        require_identifier(file, *var_node, var, "loop variable");
    }
    require_sequence(file, item.require("body", "a repeat"), "a repeat's body");
    for (std::int64_t k = 0; k < count; ++k) {
        count_step(item.where());
        VariableBindings vars(context.vars);
        vars.define(var, k);
        expand_iteration(item, context, vars);
    }
}

// Without `name:` an iteration's items land in the enclosing name table; with one, each iteration
// is a group (like a block instance without a block: names of its own, an entry in Node::scope)
// named by it.
void Expander::expand_iteration(const Mapping& item, Context& context, const VariableBindings& vars) {
    Context inner = context;
    inner.vars = &vars;
    const YAML::Node* name = item.get("name");
    if (!name) {
        expand_sequence(*item.get("body"), inner);
        context.cursor = inner.cursor;
        return;
    }
    const std::string local = local_name(item, inner, "");
    const std::string full = claim_name(context, local, location_of(*context.file, *name));
    auto members = std::make_shared<NameTable>();
    members->parent = context.name_table;
    inner.name_table = members.get();
    inner.node_scope.push_back(ScopeEntry{local, ""});
    inner.prefix = full + ".";
    expand_sequence(*item.get("body"), inner);
    context.name_table->names[local] = NameTable::Target{inner.cursor, members};
    context.cursor = inner.cursor;
}

std::vector<int> Expander::resolve_inputs(const Mapping& item, const Context& context, const std::string& node_name) const {
    const YAML::Node* inputs = item.get("inputs");
    if (!inputs) {
        if (context.cursor < 0)
            fail_at(item.where(), fmt::format("'{}' has no input: nothing comes before it (give inputs:)", node_name));
        return {context.cursor};
    }
    std::vector<int> values;
    for (const YAML::Node& name : scalar_or_list(*inputs)) {
        const std::string text = evaluate_text(*context.file, name, *context.vars, "inputs:");
        values.push_back(resolve_name(text, context, location_of(*context.file, name)));
    }
    return values;
}

int Expander::resolve_block_input(const std::string& name, const Context& context, const SourceLocation& where) const {
    const std::string index_text = name.substr(kBlockInput.size());
    std::size_t index = 0;
    if (!index_text.empty()) {
        auto [end, error] = std::from_chars(index_text.data(), index_text.data() + index_text.size(), index);
        if (error != std::errc() || end != index_text.data() + index_text.size())
            fail_at(where, fmt::format("unknown input '{}' ({} names the block's input; {}1, {}2 further ones)", name,
                                       kBlockInput, kBlockInput, kBlockInput));
    }
    if (index >= context.block_inputs.size())
        fail_at(where, fmt::format("'{}' does not exist: this scope has {} input(s)", name, context.block_inputs.size()));
    return context.block_inputs[index];
}

// Names for an error message: this table's and, when `outward`, the enclosing ones', at most a
// screenful.
std::string list_names(const NameTable* table, bool outward) {
    constexpr std::size_t kShown = 24;
    std::vector<std::string> names;
    for (; table && names.size() < kShown; table = outward ? table->parent : nullptr)
        for (const auto& [name, target] : table->names)
            if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    if (names.size() > kShown) names.resize(kShown);
    return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

// `conv`, `block0.primary`: the first part is looked up in this block instance's or group's
// names, then outward; further parts descend into block instances and groups.
int Expander::resolve_name(const std::string& name, const Context& context, const SourceLocation& where) const {
    if (name.starts_with(kBlockInput)) return resolve_block_input(name, context, where);
    std::vector<std::string> parts;
    for (std::size_t start = 0;;) {
        const std::size_t dot = name.find('.', start);
        parts.push_back(name.substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    const NameTable::Target* target = nullptr;
    for (const NameTable* table = context.name_table; table && !target; table = table->parent)
        if (auto it = table->names.find(parts[0]); it != table->names.end()) target = &it->second;
    if (!target)
        fail_at(where, fmt::format("unknown input '{}' (names visible here: {})", name,
                                   list_names(context.name_table, true)));
    std::string path = parts[0];
    for (std::size_t i = 1; i < parts.size(); ++i) {
        if (!target->members)
            fail_at(where, fmt::format("unknown input '{}': '{}' is a node, not a block instance or group", name, path));
        auto it = target->members->names.find(parts[i]);
        if (it == target->members->names.end())
            fail_at(where, fmt::format("unknown input '{}': '{}' has no '{}' (it has: {})", name, path, parts[i],
                                       list_names(target->members.get(), false)));
        target = &it->second;
        path += "." + parts[i];
    }
    if (target->value < 0) fail_at(where, fmt::format("'{}' produces no value", name));
    return target->value;
}

// =============================================================================================
// The graph's inputs, outputs and meta

void add_graph_inputs(const FamilyFile& family, const VariableBindings& params, Graph& graph, Expander& expander,
                      Context& context) {
    const SourceFile& file = *family.file;
    const YAML::Node& inputs = family.top->require("inputs", "a family file");
    for (const YAML::Node& item : require_sequence(file, inputs, "inputs")) {
        const Mapping input(file, item, "a graph input");
        input.allow_only({"name", "shape", "dtype"}, "a graph input");
        const YAML::Node& name_node = input.require("name", "a graph input");
        const std::string name = evaluate_text(file, name_node, params, "an input's name");
        if (!is_node_name(name))
            fail_at(file, name_node, fmt::format("input name '{}' may hold only letters, digits, '_' and '-'", name));
        TensorDesc desc{DType::f32, Shape{1}};  // batch 1; the runner sets the real batch
        for (const YAML::Node& dim : require_sequence(file, input.require("shape", "a graph input"), "an input's shape")) {
            const std::int64_t extent = evaluate_integer(file, dim, params, "an input extent");
            if (extent < 1) fail_at(file, dim, fmt::format("input extents must be positive, got {}", extent));
            desc.shape.push_back(extent);
        }
        if (const YAML::Node* dtype = input.get("dtype")) {
            const std::string dtype_text = evaluate_text(file, *dtype, params, "dtype:");
            const auto parsed = parse_dtype(dtype_text);
            if (!parsed) fail_at(file, *dtype, fmt::format("unknown dtype '{}' (e.g. f32)", dtype_text));
            desc.dtype = *parsed;
        }
        const int value = graph.add_input(name, desc);
        expander.bind_graph_input(context, name, value, input.where());
        context.block_inputs.push_back(value);
    }
    if (context.block_inputs.empty()) fail_at(file, inputs, "a family file needs at least one input");
    context.cursor = context.block_inputs.front();
}

void set_graph_outputs(const FamilyFile& family, Graph& graph, const Expander& expander, const Context& context) {
    const SourceFile& file = *family.file;
    if (graph.nodes.empty()) fail_at(file, family.top->require("graph", "a family file"), "the graph expands to no nodes");
    const YAML::Node* outputs = family.top->get("outputs");
    if (!outputs) {
        graph.outputs = {context.cursor};
        return;
    }
    for (const YAML::Node& name : scalar_or_list(*outputs)) {
        const std::string text = evaluate_text(file, name, *context.vars, "outputs:");
        graph.outputs.push_back(expander.resolve_name(text, context, location_of(file, name)));
    }
}

// meta: values are text; a list (e.g. class names) is joined with commas.
std::string meta_value(const SourceFile& file, const YAML::Node& node, const VariableBindings& params,
                       const std::string& key) {
    const std::string what = fmt::format("meta '{}'", key);
    if (!node.IsSequence()) return evaluate_text(file, node, params, what);
    std::vector<std::string> items;
    for (const YAML::Node& item : node) items.push_back(evaluate_text(file, item, params, what));
    return fmt::format("{}", fmt::join(items, ","));
}

void set_meta(const FamilyFile& family, const VariantDecl* variant, const VariableBindings& params, Graph& graph) {
    graph.meta["family"] = family.family;
    graph.meta["variant"] = variant ? variant->id : "";
    graph.meta["file"] = family.file->display;
    graph.meta["params"] = describe_params(family, params);
    if (variant && !variant->paper.empty()) graph.meta["paper"] = variant->paper;
    const YAML::Node* meta = family.top->get("meta");
    if (!meta) return;
    const Mapping entries(*family.file, *meta, "meta");
    for (const Entry& entry : entries.entries()) {
        if (graph.meta.count(entry.key) || entry.key == "paper")
            fail_at(*family.file, entry.key_node, fmt::format("meta key '{}' is reserved (the loader sets it)", entry.key));
        graph.meta[entry.key] = meta_value(*family.file, entry.value, params, entry.key);
    }
}

}  // namespace

Graph expand_graph(const FamilyFile& family, const VariantDecl* variant, const VariableBindings& params,
                   const BlockLibrary& blocks) {
    Graph graph;
    graph.name = variant ? variant->id : family.family;
    set_meta(family, variant, params, graph);
    Expander expander(graph, blocks);
    NameTable root_names;
    Context context;
    context.file = family.file.get();
    context.vars = &params;
    context.globals = &params;
    context.name_table = &root_names;
    add_graph_inputs(family, params, graph, expander, context);
    expander.expand_sequence(family.top->require("graph", "a family file"), context);
    set_graph_outputs(family, graph, expander, context);
    return graph;
}

}  // namespace weft::graph_file
