// ONNX -> weft graph. Each mapped ONNX op is one entry of the table below; Flatten (before Gemm)
// and the Reshape/Transpose/Reshape of a channel shuffle are followed as patterns and become fc
// and channel_permute. Anything else is refused naming the ONNX node and its op.
//
// The file is untrusted: nodes must come in topological order (as ONNX requires), so an input
// that names nothing defined before it — a dangling name or a cycle — is refused at that node.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/io/coded_stream.h>

#include "onnx_tensors.h"
#include "weft/error.h"
#include "weft/onnx/onnx_model.h"

namespace weft::onnx_format {
namespace {

// A Flatten(axis 1) or Reshape to [N, -1] waiting for the Gemm that makes it an fc.
struct PendingFlatten {
    int source = -1;  // weft value flattened
    std::string node, op;
};
// The first two steps of a channel shuffle: Reshape [N, g, C/g, ...], then Transpose of 1 and 2.
struct PendingShuffle {
    int source = -1;  // weft value shuffled
    std::int64_t groups = 0, per_group = 0;
    std::size_t rank = 0;  // of the 5-D (split) view
    bool swapped = false;
    std::string node, op;
};

class GraphReader {
public:
    GraphReader(const onnx::GraphProto& proto, std::string where) : proto_(proto), where_(std::move(where)) {}

    OnnxModel read();

    // What a node mapper sees of the current node.
    const onnx::NodeProto& node() const { return *node_; }
    [[noreturn]] void refuse(const std::string& why) const {
        throw Error(fmt::format("{}: node '{}' ({}): {}", where_, node_->name(), node_->op_type(), why));
    }
    const onnx::AttributeProto* attribute(const std::string& name) const {
        for (const onnx::AttributeProto& a : node_->attribute())
            if (a.name() == name) return &a;
        return nullptr;
    }
    std::int64_t int_attr(const std::string& name, std::int64_t otherwise) const {
        const onnx::AttributeProto* a = attribute(name);
        if (!a) return otherwise;
        if (a->type() != onnx::AttributeProto::INT)
            refuse(fmt::format("attribute '{}' is not an integer", name));
        return a->i();
    }
    // ONNX stores float32: read back as the shortest decimal that is that float, so eps 2e-5
    // written by weft reads back as 2e-5 and not as 2.0000000000000002e-05.
    double float_attr(const std::string& name, double otherwise) const {
        const onnx::AttributeProto* a = attribute(name);
        if (!a) return otherwise;
        if (a->type() != onnx::AttributeProto::FLOAT)
            refuse(fmt::format("attribute '{}' is not a float", name));
        return std::strtod(fmt::format("{}", a->f()).c_str(), nullptr);
    }
    std::vector<std::int64_t> ints_attr(const std::string& name) const {
        const onnx::AttributeProto* a = attribute(name);
        if (!a) return {};
        if (a->type() != onnx::AttributeProto::INTS)
            refuse(fmt::format("attribute '{}' is not a list of integers", name));
        if (a->ints_size() > 16) refuse(fmt::format("attribute '{}' has {} values", name, a->ints_size()));
        return {a->ints().begin(), a->ints().end()};
    }
    std::string string_attr(const std::string& name, const std::string& otherwise) const {
        const onnx::AttributeProto* a = attribute(name);
        if (!a) return otherwise;
        if (a->type() != onnx::AttributeProto::STRING)
            refuse(fmt::format("attribute '{}' is not a string", name));
        return a->s();
    }
    // Refuses attributes the mapping does not read: each changes the op's meaning.
    void only_attributes(const std::set<std::string>& known) const {
        for (const onnx::AttributeProto& a : node_->attribute())
            if (!known.count(a.name()))
                refuse(fmt::format("attribute '{}' has no weft equivalent", a.name()));
    }
    void expect_arity(int min_inputs, int max_inputs) const {
        if (node_->input_size() < min_inputs || node_->input_size() > max_inputs || node_->output_size() != 1)
            refuse(fmt::format("expected {} to {} inputs and one output, got {} and {}", min_inputs,
                               max_inputs, node_->input_size(), node_->output_size()));
    }

    // An input that is an activation (a graph input or an earlier node's output).
    int activation(int i) {
        const std::string& name = node_->input(i);
        if (const auto p = flattened_.find(name); p != flattened_.end())
            throw Error(fmt::format(
                "{}: node '{}' ({}): its output is read by node '{}' ({}); weft maps a {} only "
                "when a Gemm reads it",
                where_, p->second.node, p->second.op, node_->name(), node_->op_type(), p->second.op));
        if (const auto p = shuffles_.find(name); p != shuffles_.end())
            throw Error(
                fmt::format("{}: node '{}' ({}): not part of a channel shuffle (Reshape [N, g, C/g, ...], "
                            "Transpose of dimensions 1 and 2, Reshape back), the only {} weft maps",
                            where_, p->second.node, p->second.op, p->second.op));
        const auto it = values_.find(name);
        if (it == values_.end()) {
            if (constants_.count(name))
                refuse(fmt::format("input '{}' is a constant where weft expects an activation", name));
            refuse(
                fmt::format("input '{}' is not defined before this node (a dangling name or a cycle)", name));
        }
        return it->second;
    }
    const onnx::TensorProto& constant(int i) const {
        const std::string& name = node_->input(i);
        const auto it = constants_.find(name);
        if (it == constants_.end())
            refuse(fmt::format(
                "input '{}' must be an initializer or a Constant (weft imports fixed weights and shapes)",
                name));
        return *it->second;
    }
    // Input i as a float weight of the node being built, stored under "<node>.<param>".
    Tensor weight(int i) {
        const onnx::TensorProto& t = constant(i);
        return float_tensor(t, fmt::format("{}: node '{}' ({}): initializer '{}'", where_, node_->name(),
                                           node_->op_type(), t.name()));
    }
    std::vector<std::int64_t> shape_constant(int i) {
        const onnx::TensorProto& t = constant(i);
        return int64_values(
            t, fmt::format("{}: node '{}' ({}): '{}'", where_, node_->name(), node_->op_type(), t.name()));
    }
    bool has_input(int i) const { return node_->input_size() > i && !node_->input(i).empty(); }

    // Adds the weft node for the current ONNX node, reading `inputs`, producing its one output.
    Node& emit(const std::string& op, std::vector<int> inputs, Attributes attrs) {
        expect_output();
        Node n;
        n.name = unique_node_name(node_->name().empty() ? node_->op_type() : node_->name());
        n.op = op;
        n.attrs = std::move(attrs);
        n.inputs = std::move(inputs);
        n.loc = SourceLocation{where_, 0, 0};
        const int id = model_.graph.add_node(std::move(n));
        values_[node_->output(0)] = model_.graph.nodes[static_cast<std::size_t>(id)].outputs[0];
        return model_.graph.nodes[static_cast<std::size_t>(id)];
    }
    void set_weight(const Node& n, const std::string& param, Tensor t) {
        model_.weights[n.name + "." + param] = std::move(t);
    }
    void alias(int input) {
        expect_output();
        values_[node_->output(0)] = input;
    }
    // Every mapped node produces its first output: a file may declare none.
    void expect_output() const {
        if (node_->output_size() < 1 || node_->output(0).empty()) refuse("the node has no output");
    }
    std::map<std::string, PendingFlatten>& flattened() { return flattened_; }
    std::map<std::string, PendingShuffle>& shuffles() { return shuffles_; }
    // After shape inference: the shuffle's input must hold g·(C/g) channels.
    void expect_channels(int value, std::int64_t channels, const std::string& shuffle_node);
    struct ChannelExpectation {
        int value;
        std::int64_t channels;
        std::string node;
    };
    const std::vector<ChannelExpectation>& channel_expectations() const { return expected_channels_; }
    int opset() const { return opset_; }
    void set_opset(int opset) { opset_ = opset; }
    OnnxModel& model() { return model_; }

private:
    void read_inputs();
    void read_node();
    void define(const std::string& name);
    std::string unique_node_name(const std::string& raw);

    const onnx::GraphProto& proto_;
    std::string where_;
    OnnxModel model_;
    const onnx::NodeProto* node_ = nullptr;
    std::map<std::string, int> values_;  // ONNX name -> weft value
    std::map<std::string, const onnx::TensorProto*> constants_;
    std::map<std::string, PendingFlatten> flattened_;
    std::map<std::string, PendingShuffle> shuffles_;
    std::set<std::string> node_names_;
    std::set<std::string> defined_;  // every name defined so far: each may be defined once
    std::vector<ChannelExpectation> expected_channels_;
    int opset_ = 0;
};

using NodeImporter = std::function<void(GraphReader&)>;

// [k, k] as k, the way graph files write a square kernel, stride or padding.
std::vector<std::int64_t> compact(std::vector<std::int64_t> values) {
    if (values.size() > 1 &&
        std::all_of(values.begin(), values.end(), [&](std::int64_t v) { return v == values[0]; }))
        return {values[0]};
    return values;
}

Tensor transposed(const Tensor& m) {
    const std::int64_t rows = m.shape()[0], cols = m.shape()[1];
    Tensor t(TensorDesc{DType::f32, {cols, rows}});
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) t.as<float>()[j * rows + i] = m.as<float>()[i * cols + j];
    return t;
}

// Conv's 2-D attributes, refusing what weft's convolutions do not do (asymmetric padding,
// auto_pad, other ranks). A 1x1 convolution without padding or dilation is pointwise_conv unless
// the exporter wrote that it is a group_conv.
void import_conv(GraphReader& r) {
    r.expect_arity(2, 3);
    r.only_attributes({"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"});
    const std::string auto_pad = r.string_attr("auto_pad", "NOTSET");
    if (auto_pad != "NOTSET" && auto_pad != "VALID")
        r.refuse(fmt::format("auto_pad {} is not supported", auto_pad));
    const int x = r.activation(0);
    Tensor w = r.weight(1);
    if (w.shape().size() != 4)
        r.refuse(fmt::format("weight {} is not 4-D: weft imports 2-D convolutions", w.desc().str()));
    const std::int64_t kh = w.shape()[2], kw = w.shape()[3];
    auto two = [&](const char* name, std::int64_t otherwise) {
        std::vector<std::int64_t> v = r.ints_attr(name);
        if (v.empty()) return std::vector<std::int64_t>{otherwise, otherwise};
        if (v.size() != 2) r.refuse(fmt::format("'{}' has {} values, expected 2", name, v.size()));
        return v;
    };
    const auto kernel = two("kernel_shape", 0);
    if (kernel[0] != 0 && (kernel[0] != kh || kernel[1] != kw))
        r.refuse(fmt::format("kernel_shape [{}, {}] disagrees with the weight {}", kernel[0], kernel[1],
                             w.desc().str()));
    const auto strides = two("strides", 1), dilations = two("dilations", 1);
    std::vector<std::int64_t> pads = r.ints_attr("pads");
    if (pads.empty()) pads = {0, 0, 0, 0};
    if (pads.size() != 4 || pads[0] != pads[2] || pads[1] != pads[3])
        r.refuse("pads must be the same at the start and end of each dimension");
    const std::int64_t group = r.int_attr("group", 1);
    Attributes a;
    a.set("out_channels", w.shape()[0]);
    a.set("groups", group);
    a.set("stride", compact(strides));
    a.set("bias", r.has_input(2));
    const bool pointwise = kh == 1 && kw == 1 && pads[0] == 0 && pads[1] == 0 && dilations[0] == 1 &&
                           dilations[1] == 1 && r.node().doc_string() != "weft op: group_conv";
    if (!pointwise) {
        a.set("kernel", compact({kh, kw}));
        a.set("padding", compact({pads[0], pads[1]}));
        a.set("dilation", compact(dilations));
    }
    Tensor bias;
    if (r.has_input(2)) bias = r.weight(2);
    Node& n = r.emit(pointwise ? "pointwise_conv" : "group_conv", {x}, std::move(a));
    r.set_weight(n, "weight", std::move(w));
    if (r.has_input(2)) r.set_weight(n, "bias", std::move(bias));
}

void import_batch_norm(GraphReader& r) {
    if (r.node().input_size() != 5) r.refuse("expected 5 inputs (X, scale, B, mean, var)");
    for (int i = 1; i < r.node().output_size(); ++i)
        if (!r.node().output(i).empty()) r.refuse("training outputs (running statistics) are not imported");
    r.only_attributes({"epsilon", "momentum", "training_mode", "spatial"});
    if (r.int_attr("training_mode", 0) != 0) r.refuse("training_mode = 1: weft imports inference models");
    if (r.int_attr("spatial", 1) != 1) r.refuse("spatial = 0 is not supported");
    const int x = r.activation(0);
    const char* params[] = {"weight", "bias", "running_mean", "running_var"};
    std::vector<Tensor> tensors;
    for (int i = 1; i <= 4; ++i) tensors.push_back(r.weight(i));
    Attributes a;
    a.set("eps", r.float_attr("epsilon", 1e-5));  // ONNX's default, not weft's
    a.set("momentum", r.float_attr("momentum", 0.9));
    Node& n = r.emit("batch_norm", {x}, std::move(a));
    for (int i = 0; i < 4; ++i) r.set_weight(n, params[i], std::move(tensors[static_cast<std::size_t>(i)]));
}

void import_pool(GraphReader& r, const std::string& mode) {
    r.expect_arity(1, 1);
    if (mode == "avg")
        r.only_attributes({"kernel_shape", "strides", "pads", "count_include_pad", "ceil_mode", "auto_pad"});
    else
        r.only_attributes(
            {"kernel_shape", "strides", "pads", "ceil_mode", "auto_pad", "dilations", "storage_order"});
    if (r.int_attr("ceil_mode", 0) != 0) r.refuse("ceil_mode = 1 is not supported");
    if (r.string_attr("auto_pad", "NOTSET") != "NOTSET") r.refuse("auto_pad is not supported");
    if (r.int_attr("count_include_pad", 0) != 0)
        r.refuse("count_include_pad = 1: weft averages over real elements only");
    if (r.int_attr("storage_order", 0) != 0) r.refuse("storage_order = 1 is not supported");
    for (std::int64_t d : r.ints_attr("dilations"))
        if (d != 1) r.refuse("dilated pooling is not supported");
    const std::vector<std::int64_t> kernel = r.ints_attr("kernel_shape");
    if (kernel.empty()) r.refuse("kernel_shape is required");
    std::vector<std::int64_t> pads = r.ints_attr("pads");
    if (pads.empty()) pads.assign(kernel.size() * 2, 0);
    if (pads.size() != kernel.size() * 2) r.refuse("pads must have two values per dimension");
    for (std::size_t d = 0; d < kernel.size(); ++d)
        if (pads[d] != pads[d + kernel.size()])
            r.refuse("pads must be the same at the start and end of each dimension");
    std::vector<std::int64_t> strides = r.ints_attr("strides");
    if (strides.empty()) strides.assign(kernel.size(), 1);  // ONNX's default; weft's is the kernel
    Attributes a;
    a.set("mode", mode);
    a.set("kernel", compact(kernel));
    a.set("stride", compact(strides));
    a.set("padding", compact({pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(kernel.size())}));
    r.emit("pool", {r.activation(0)}, std::move(a));
}

void import_add(GraphReader& r) {
    if (r.node().input_size() < 1 || r.node().input_size() > 64 || r.node().output_size() != 1)
        r.refuse("expected 1 to 64 inputs and one output");
    r.only_attributes({});
    std::vector<int> inputs;
    for (int i = 0; i < r.node().input_size(); ++i) inputs.push_back(r.activation(i));
    if (inputs.size() == 1)
        r.alias(inputs[0]);  // a Sum of one
    else
        r.emit("add", std::move(inputs), {});
}

// Gemm reading a flattened value (or a matrix) with a constant B: fc, x W^T + b.
void import_gemm(GraphReader& r) {
    r.expect_arity(2, 3);
    r.only_attributes({"alpha", "beta", "transA", "transB"});
    if (r.float_attr("alpha", 1) != 1 || r.float_attr("beta", 1) != 1) r.refuse("alpha and beta must be 1");
    if (r.int_attr("transA", 0) != 0) r.refuse("transA = 1 is not supported");
    int x = -1;
    if (const auto f = r.flattened().find(r.node().input(0)); f != r.flattened().end()) {
        x = f->second.source;  // fc flattens its input itself
    } else {
        x = r.activation(0);
    }
    Tensor w = r.weight(1);
    if (w.shape().size() != 2) r.refuse(fmt::format("B {} is not a matrix", w.desc().str()));
    if (r.int_attr("transB", 0) == 0) w = transposed(w);  // B is [in, out]; weft keeps [out, in]
    Tensor bias;
    if (r.has_input(2)) {
        const Tensor c = r.weight(2);
        if (c.numel() != w.shape()[0])
            r.refuse(fmt::format("C {} is not one value per output", c.desc().str()));
        bias = Tensor(TensorDesc{DType::f32, {w.shape()[0]}});
        std::copy(c.as<float>(), c.as<float>() + c.numel(), bias.as<float>());
    }
    Attributes a;
    a.set("out_features", w.shape()[0]);
    a.set("bias", r.has_input(2));
    Node& n = r.emit("fc", {x}, std::move(a));
    r.set_weight(n, "weight", std::move(w));
    if (r.has_input(2)) r.set_weight(n, "bias", std::move(bias));
}

void import_flatten(GraphReader& r) {
    r.expect_arity(1, 1);
    r.only_attributes({"axis"});
    if (r.int_attr("axis", 1) != 1) r.refuse("only axis = 1 (keep the batch) is supported");
    r.flattened()[r.node().output(0)] = {r.activation(0), r.node().name(), r.node().op_type()};
}

// Reshape: to [N, -1] it is a Flatten; to [N, g, C/g, ...] it starts a channel shuffle; from a
// swapped shuffle back to [N, C, ...] it ends one, as channel_permute {groups: g}.
void import_reshape(GraphReader& r) {
    r.expect_arity(2, 2);
    r.only_attributes({"allowzero"});
    if (r.int_attr("allowzero", 0) != 0) r.refuse("allowzero = 1 is not supported");
    const std::vector<std::int64_t> shape = r.shape_constant(1);
    const std::string& in = r.node().input(0);
    if (const auto s = r.shuffles().find(in); s != r.shuffles().end() && s->second.swapped) {
        const PendingShuffle p = s->second;
        if (shape.size() + 1 != p.rank || (shape[1] != -1 && shape[1] != p.groups * p.per_group))
            r.refuse(fmt::format("does not merge the {} x {} channels of channel shuffle '{}' back", p.groups,
                                 p.per_group, p.node));
        Attributes a;
        a.set("groups", p.groups);
        r.emit("channel_permute", {p.source}, std::move(a));
        r.expect_channels(p.source, p.groups * p.per_group, p.node);
        return;
    }
    const int x = r.activation(0);
    if (shape.size() == 2 && (shape[0] == 0 || shape[0] == -1 || shape[0] >= 1) && shape[1] == -1) {
        r.flattened()[r.node().output(0)] = {x, r.node().name(), r.node().op_type()};
        return;
    }
    // g and C/g bounded like any dimension, so that g · C/g cannot overflow.
    const auto dimension = [](std::int64_t d) { return d >= 1 && d <= kMaxDimension; };
    if (shape.size() >= 3 && dimension(shape[1]) && dimension(shape[2])) {
        r.shuffles()[r.node().output(0)] = {x,     shape[1],        shape[2],          shape.size(),
                                            false, r.node().name(), r.node().op_type()};
        return;
    }
    r.refuse(fmt::format("a reshape to [{}] is neither a flatten nor part of a channel shuffle",
                         fmt::join(shape, ", ")));
}

void import_transpose(GraphReader& r) {
    r.expect_arity(1, 1);
    r.only_attributes({"perm"});
    const auto s = r.shuffles().find(r.node().input(0));
    if (s == r.shuffles().end() || s->second.swapped)
        r.refuse("weft maps a Transpose only inside a channel shuffle (Reshape [N, g, C/g, ...] before it)");
    std::vector<std::int64_t> swap{0, 2, 1};
    for (std::size_t d = 3; d < s->second.rank; ++d) swap.push_back(static_cast<std::int64_t>(d));
    if (r.ints_attr("perm") != swap)
        r.refuse("a channel shuffle swaps dimensions 1 and 2 and keeps the others");
    PendingShuffle p = s->second;
    p.swapped = true;
    r.shuffles()[r.node().output(0)] = p;
}

void import_softmax(GraphReader& r) {
    r.expect_arity(1, 1);
    r.only_attributes({"axis"});
    const std::int64_t axis = r.int_attr("axis", r.opset() >= 13 ? -1 : 1);
    if (axis < 0) r.refuse("a negative axis is not supported; export with dim=1");
    Attributes a;
    a.set("axis", axis);
    r.emit("softmax", {r.activation(0)}, std::move(a));
}

void import_simple(GraphReader& r, const std::string& op) {
    r.expect_arity(1, 1);
    r.only_attributes({});
    r.emit(op, {r.activation(0)}, {});
}

const std::map<std::string, NodeImporter>& importers() {
    static const std::map<std::string, NodeImporter> table{
        {"Conv", import_conv},
        {"BatchNormalization", import_batch_norm},
        {"Relu", [](GraphReader& r) { import_simple(r, "relu"); }},
        {"Add", import_add},
        {"Sum", import_add},
        {"MaxPool", [](GraphReader& r) { import_pool(r, "max"); }},
        {"AveragePool", [](GraphReader& r) { import_pool(r, "avg"); }},
        {"GlobalAveragePool",
         [](GraphReader& r) {
             r.expect_arity(1, 1);
             r.only_attributes({});
             Attributes a;
             a.set("mode", std::string("global_avg"));
             r.emit("pool", {r.activation(0)}, std::move(a));
         }},
        {"Gemm", import_gemm},
        {"Flatten", import_flatten},
        {"Reshape", import_reshape},
        {"Transpose", import_transpose},
        {"Softmax", import_softmax},
        // Inference no-ops.
        {"Identity",
         [](GraphReader& r) {
             r.expect_arity(1, 1);
             r.alias(r.activation(0));
         }},
        {"Dropout",
         [](GraphReader& r) {
             if (r.node().input_size() < 1) r.refuse("expected an input");
             r.alias(r.activation(0));
         }},
    };
    return table;
}

}  // namespace

std::string GraphReader::unique_node_name(const std::string& raw) {
    // Weight names are "<node>.<param>": keep names readable and free of anything odd.
    std::string name;
    for (char c : raw)
        name += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-') ? c : '_';
    while (!name.empty() && (name.front() == '_' || name.front() == '.')) name.erase(name.begin());
    if (name.empty()) name = "node";
    std::string unique = name;
    for (int i = 1; node_names_.count(unique) || model_.graph.find_value(unique) >= 0; ++i)
        unique = fmt::format("{}_{}", name, i);
    node_names_.insert(unique);
    return unique;
}

void GraphReader::define(const std::string& name) {
    if (name.empty()) return;
    if (defined_.insert(name).second) return;
    if (node_) refuse(fmt::format("output '{}' is defined twice (ONNX graphs assign each name once)", name));
    throw Error(fmt::format("{}: '{}' is defined twice (ONNX graphs assign each name once)", where_, name));
}

void GraphReader::expect_channels(int value, std::int64_t channels, const std::string& shuffle_node) {
    expected_channels_.push_back({value, channels, shuffle_node});
}

void GraphReader::read_inputs() {
    for (const onnx::TensorProto& t : proto_.initializer()) {
        define(t.name());
        constants_[t.name()] = &t;
    }
    if (proto_.sparse_initializer_size() > 0)
        throw Error(fmt::format("{}: sparse initializers are not supported", where_));
    for (const onnx::ValueInfoProto& in : proto_.input()) {
        if (constants_.count(in.name())) continue;  // an initializer listed as an input (IR < 4)
        define(in.name());
        const std::string what = fmt::format("{}: graph input '{}'", where_, in.name());
        if (!in.type().has_tensor_type() || in.type().tensor_type().elem_type() != onnx::TensorProto::FLOAT)
            throw Error(fmt::format("{}: weft takes float32 tensor inputs", what));
        const onnx::TensorShapeProto& shape = in.type().tensor_type().shape();
        if (shape.dim_size() < 2 || shape.dim_size() > 8)
            throw Error(
                fmt::format("{}: rank {}, expected [N, C, ...] of rank 2 to 8", what, shape.dim_size()));
        Shape dims{1};  // the batch: set by the command (symbolic in files weft writes)
        for (int d = 1; d < shape.dim_size(); ++d) {
            const auto& dim = shape.dim(d);
            if (!dim.has_dim_value()) throw Error(fmt::format("{}: dimension {} has no fixed size", what, d));
            google::protobuf::RepeatedField<std::int64_t> one;
            one.Add(dim.dim_value());
            dims.push_back(checked_dims(one, what)[0]);
        }
        if (model_.graph.find_value(in.name()) >= 0) throw Error(fmt::format("{}: defined twice", what));
        values_[in.name()] = model_.graph.add_input(in.name(), TensorDesc{DType::f32, dims});
    }
    if (model_.graph.inputs.empty()) throw Error(fmt::format("{}: the graph has no input", where_));
}

void GraphReader::read_node() {
    const onnx::NodeProto& n = *node_;
    if (!n.domain().empty() && n.domain() != "ai.onnx")
        refuse(fmt::format("domain '{}': weft maps only the standard ONNX operators", n.domain()));
    if (n.op_type() == "Constant") {
        if (n.output_size() != 1 || n.attribute_size() != 1 || n.attribute(0).name() != "value" ||
            n.attribute(0).type() != onnx::AttributeProto::TENSOR)
            refuse("weft reads a Constant holding one tensor ('value')");
        define(n.output(0));
        constants_[n.output(0)] = &n.attribute(0).t();
        return;
    }
    const auto it = importers().find(n.op_type());
    if (it == importers().end()) refuse("no weft operator maps this ONNX op");
    it->second(*this);
    for (const std::string& out : n.output()) define(out);
}

OnnxModel GraphReader::read() {
    model_.graph.name = proto_.name().empty() ? "onnx" : proto_.name();
    read_inputs();
    for (const onnx::NodeProto& n : proto_.node()) {
        node_ = &n;
        read_node();
    }
    for (const onnx::ValueInfoProto& out : proto_.output()) {
        if (const auto f = flattened_.find(out.name()); f != flattened_.end())
            throw Error(fmt::format("{}: node '{}' ({}): a graph output; weft maps it only before a Gemm",
                                    where_, f->second.node, f->second.op));
        if (const auto s = shuffles_.find(out.name()); s != shuffles_.end())
            throw Error(fmt::format("{}: node '{}' ({}): a graph output in the middle of a channel shuffle",
                                    where_, s->second.node, s->second.op));
        const auto it = values_.find(out.name());
        if (it == values_.end())
            throw Error(fmt::format("{}: graph output '{}' is not produced by any node", where_, out.name()));
        model_.graph.outputs.push_back(it->second);
    }
    if (model_.graph.outputs.empty()) throw Error(fmt::format("{}: the graph has no output", where_));
    return std::move(model_);
}

OnnxModel parse_onnx(std::string_view bytes, const std::string& where, const Registry& registry) {
    if (bytes.size() > kMaxOnnxFileBytes)
        throw Error(fmt::format("{}: {} bytes, more than the {} weft reads from an ONNX model", where,
                                bytes.size(), kMaxOnnxFileBytes));
    onnx::ModelProto model;
    google::protobuf::io::CodedInputStream stream(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                                  static_cast<int>(bytes.size()));
    stream.SetRecursionLimit(64);
    if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
        throw Error(fmt::format(
            "{}: not a valid ONNX model (the protobuf does not parse: truncated or corrupt)", where));
    if (!model.has_graph()) throw Error(fmt::format("{}: an ONNX model without a graph", where));
    int opset = 0;
    for (const onnx::OperatorSetIdProto& o : model.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") opset = static_cast<int>(o.version());
    if (opset < 7 || opset > 21)
        throw Error(fmt::format("{}: default-domain opset {} (weft reads opsets 7 to 21)", where, opset));
    if (model.graph().node_size() > 1000000) throw Error(fmt::format("{}: too many nodes", where));
    GraphReader reader(model.graph(), where);
    reader.set_opset(opset);
    OnnxModel result = reader.read();
    infer_shapes(result.graph, registry);
    for (const GraphReader::ChannelExpectation& e : reader.channel_expectations()) {
        const TensorDesc& x = result.graph.values[static_cast<std::size_t>(e.value)].desc;
        if (x.rank() < 2 || x.shape[1] != e.channels)
            throw Error(
                fmt::format("{}: node '{}' (Reshape): splits {} channels into groups, but its input is {}",
                            where, e.node, e.channels, x.str()));
    }
    try {
        check_weights(result.graph, result.weights);
    } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", where, e.what()));
    }
    const std::string prefix = "weft.graph_meta.";
    for (const onnx::StringStringEntryProto& e : model.metadata_props()) {
        if (e.key().rfind(prefix, 0) == 0)
            result.graph.meta[e.key().substr(prefix.size())] = e.value();
        else
            result.metadata[e.key()] = e.value();
    }
    result.graph.meta["file"] = where;
    result.graph.meta["format"] = "onnx";
    return result;
}

}  // namespace weft::onnx_format
