// weft graph -> ONNX. Each weft operator's ONNX form is one entry of the table below; a node
// whose op has no entry (a plugin weft does not know) is refused, naming the node and the op.
#include <algorithm>
#include <functional>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "onnx_tensors.h"
#include "weft/convolution.h"
#include "weft/error.h"
#include "weft/onnx/onnx_model.h"
#include "weft/output_file.h"
#include "weft/registry.h"

namespace weft::onnx_format {
namespace {

// The ONNX symbol of the batch dimension: exported models take any batch size.
constexpr const char* kBatchSymbol = "batch";

class ModelWriter {
public:
    ModelWriter(const Graph& graph, const WeightMap& weights, onnx::GraphProto& proto)
        : graph_(graph), weights_(weights), proto_(proto) {}

    const Node& node() const { return *node_; }
    void set_node(const Node& node) { node_ = &node; }
    std::string input(int i) const { return graph_.values[node_->inputs[static_cast<std::size_t>(i)]].name; }
    std::string output() const { return graph_.values[node_->outputs[0]].name; }
    const TensorDesc& input_desc(int i) const {
        return graph_.values[node_->inputs[static_cast<std::size_t>(i)]].desc;
    }

    // A node of the ONNX graph; its name is the weft node's plus `suffix` when one weft node
    // becomes several. The weft op is in doc_string, so an import restores it exactly.
    onnx::NodeProto& add(const std::string& op_type, const std::vector<std::string>& inputs,
                         const std::string& output, const std::string& suffix = "") {
        onnx::NodeProto& n = *proto_.add_node();
        n.set_op_type(op_type);
        n.set_name(node_->name + suffix);
        n.set_doc_string("weft op: " + node_->op);
        for (const std::string& i : inputs) n.add_input(i);
        n.add_output(output);
        return n;
    }
    // The parameter `param` of the current node as an initialiser; returns its name.
    std::string weight(const std::string& param) {
        const std::string name = node_->name + "." + param;
        const auto it = weights_.find(name);
        if (it == weights_.end())
            throw Error(fmt::format("node '{}': no weight '{}' to export", node_->name, name));
        fill_float_proto(*proto_.add_initializer(), name, it->second);
        return name;
    }
    std::string int64_constant(const std::string& suffix, const std::vector<std::int64_t>& values) {
        const std::string name = node_->name + suffix;
        fill_int64_proto(*proto_.add_initializer(), name, values);
        return name;
    }
    // The output, with a Relu after it when the node applies one itself (fused by a pass).
    std::string output_before_relu(bool fused_relu) { return fused_relu ? output() + ".pre_relu" : output(); }
    void relu_after(bool fused_relu) {
        if (fused_relu) add("Relu", {output() + ".pre_relu"}, output(), ".relu");
    }

private:
    const Graph& graph_;
    const WeightMap& weights_;
    onnx::GraphProto& proto_;
    const Node* node_ = nullptr;
};

void set_ints(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& values) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INTS);
    for (std::int64_t v : values) a.add_ints(v);
}
void set_int(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(value);
}
void set_float(onnx::NodeProto& n, const std::string& name, double value) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::FLOAT);
    a.set_f(static_cast<float>(value));
}

// group_conv and pointwise_conv: Conv with `group`, padding the same on both sides.
void export_convolution(ModelWriter& w) {
    const ConvolutionGeometry g = convolution_geometry(w.node().attrs, w.input_desc(0));
    // Channel maps come from the fold_permutations pass, which export leaves out; Conv has none.
    for (const char* map : {"input_map", "output_map"}) {
        if (w.node().attrs.has(map) && !w.node().attrs.get_ints(map).empty())
            throw Error(fmt::format("node '{}': {} has no ONNX form (export without the fold_permutations "
                                    "pass)",
                                    w.node().name, map));
    }
    std::vector<std::string> inputs{w.input(0), w.weight("weight")};
    if (g.bias) inputs.push_back(w.weight("bias"));
    onnx::NodeProto& conv = w.add("Conv", inputs, w.output_before_relu(g.fused_relu));
    set_ints(conv, "kernel_shape", {g.kernel_h, g.kernel_w});
    set_ints(conv, "strides", {g.stride_h, g.stride_w});
    set_ints(conv, "pads", {g.padding_h, g.padding_w, g.padding_h, g.padding_w});
    set_ints(conv, "dilations", {g.dilation_h, g.dilation_w});
    set_int(conv, "group", g.groups);
    w.relu_after(g.fused_relu);
}

void export_batch_norm(ModelWriter& w) {
    const Attributes& a = w.node().attrs;
    const bool fused_relu = a.get_bool("fused_relu");
    onnx::NodeProto& bn = w.add(
        "BatchNormalization",
        {w.input(0), w.weight("weight"), w.weight("bias"), w.weight("running_mean"), w.weight("running_var")},
        w.output_before_relu(fused_relu));
    set_float(bn, "epsilon", a.get_real("eps"));
    set_float(bn, "momentum", a.get_real("momentum"));
    w.relu_after(fused_relu);
}

// The spatial attribute of pool, one value per dimension (a single value applies to all).
std::vector<std::int64_t> per_dimension(std::vector<std::int64_t> values, std::size_t dims,
                                        std::vector<std::int64_t> otherwise) {
    if (values.empty()) return otherwise;
    if (values.size() == 1) values.assign(dims, values[0]);
    return values;
}

void export_pool(ModelWriter& w) {
    const Attributes& a = w.node().attrs;
    const std::string& mode = a.get_string("mode");
    if (mode == "global_avg") {
        w.add("GlobalAveragePool", {w.input(0)}, w.output());
        return;
    }
    const std::size_t dims = static_cast<std::size_t>(w.input_desc(0).rank() - 2);
    const auto kernel = per_dimension(a.get_ints("kernel"), dims, {});
    const auto stride = per_dimension(a.get_ints("stride"), dims, kernel);
    auto pads = per_dimension(a.get_ints("padding"), dims, std::vector<std::int64_t>(dims, 0));
    pads.insert(pads.end(), pads.begin(), pads.end());  // begin and end of every dimension alike
    onnx::NodeProto& pool = w.add(mode == "max" ? "MaxPool" : "AveragePool", {w.input(0)}, w.output());
    set_ints(pool, "kernel_shape", kernel);
    set_ints(pool, "strides", stride);
    set_ints(pool, "pads", pads);
    // weft's average divides by the real (unpadded) elements of each window.
    if (mode == "avg") set_int(pool, "count_include_pad", 0);
}

// fc flattens [N, ...] to [N, F] and computes x W^T + b: Flatten then Gemm with transB.
void export_fc(ModelWriter& w) {
    const std::string flat = w.output() + ".flat";
    set_int(w.add("Flatten", {w.input(0)}, flat, ".flatten"), "axis", 1);
    std::vector<std::string> inputs{flat, w.weight("weight")};
    if (w.node().attrs.get_bool("bias")) inputs.push_back(w.weight("bias"));
    set_int(w.add("Gemm", inputs, w.output()), "transB", 1);
}

// Eq. 2 and 4's permutation as the standard channel shuffle: view C as (g, C/g), swap the two,
// view back. Dimension 0 is copied from the input (Reshape's 0), so any batch size runs.
void export_channel_permute(ModelWriter& w) {
    const TensorDesc& x = w.input_desc(0);
    const std::int64_t g = w.node().attrs.get_int("groups"), c = x.shape[1];
    std::vector<std::int64_t> split{0, g, c / g}, merged{0, c};
    std::vector<std::int64_t> perm{0, 2, 1};
    for (int d = 2; d < x.rank(); ++d) {
        split.push_back(x.shape[static_cast<std::size_t>(d)]);
        merged.push_back(x.shape[static_cast<std::size_t>(d)]);
        perm.push_back(d + 1);
    }
    const std::string o = w.output();
    w.add("Reshape", {w.input(0), w.int64_constant(".split_shape", split)}, o + ".split", ".split");
    set_ints(w.add("Transpose", {o + ".split"}, o + ".swapped", ".swap"), "perm", perm);
    w.add("Reshape", {o + ".swapped", w.int64_constant(".merged_shape", merged)}, o);
}

void export_add(ModelWriter& w) {
    std::vector<std::string> inputs;
    for (std::size_t i = 0; i < w.node().inputs.size(); ++i) inputs.push_back(w.input(static_cast<int>(i)));
    // Add is binary; Sum takes any number of inputs of one shape.
    w.add(inputs.size() == 2 ? "Add" : "Sum", inputs, w.output());
}

using NodeExporter = std::function<void(ModelWriter&)>;

const std::map<std::string, NodeExporter>& exporters() {
    static const std::map<std::string, NodeExporter> table{
        {"group_conv", export_convolution},
        {"pointwise_conv", export_convolution},
        {"batch_norm", export_batch_norm},
        {"relu", [](ModelWriter& w) { w.add("Relu", {w.input(0)}, w.output()); }},
        {"add", export_add},
        {"pool", export_pool},
        {"fc", export_fc},
        {"softmax",
         [](ModelWriter& w) {
             set_int(w.add("Softmax", {w.input(0)}, w.output()), "axis", w.node().attrs.get_int("axis"));
         }},
        {"channel_permute", export_channel_permute},
    };
    return table;
}

void set_value_info(onnx::ValueInfoProto& info, const Value& value) {
    info.set_name(value.name);
    onnx::TypeProto::Tensor& t = *info.mutable_type()->mutable_tensor_type();
    if (value.desc.dtype != DType::f32)
        throw Error(fmt::format("value '{}': {} is not float32, the only type weft exports", value.name,
                                value.desc.str()));
    t.set_elem_type(onnx::TensorProto::FLOAT);
    for (std::size_t d = 0; d < value.desc.shape.size(); ++d) {
        onnx::TensorShapeProto::Dimension& dim = *t.mutable_shape()->add_dim();
        if (d == 0)
            dim.set_dim_param(kBatchSymbol);
        else
            dim.set_dim_value(value.desc.shape[d]);
    }
}

}  // namespace

std::string export_onnx(const Graph& graph, const WeightMap& weights, const ExportOptions& options) {
    if (options.opset < kMinOpset || options.opset > kMaxOpset)
        throw Error(
            fmt::format("--opset {}: weft writes opsets {} to {}", options.opset, kMinOpset, kMaxOpset));
    onnx::ModelProto model;
    model.set_ir_version(8);  // ONNX 1.12's: what its checker and ONNX Runtime read
    model.set_producer_name("weft");
    model.set_producer_version(WEFT_ONNX_PRODUCER_VERSION);
    onnx::OperatorSetIdProto& opset = *model.add_opset_import();
    opset.set_domain("");
    opset.set_version(options.opset);
    for (const auto& [key, value] : options.metadata) {
        onnx::StringStringEntryProto& e = *model.add_metadata_props();
        e.set_key(key);
        e.set_value(value);
    }
    for (const auto& [key, value] : graph.meta) {
        if (key == "file" || key == "format") continue;  // where this graph was read from, not what it is
        onnx::StringStringEntryProto& e = *model.add_metadata_props();
        e.set_key("weft.graph_meta." + key);
        e.set_value(value);
    }
    // Every node's op must have an ONNX form before anything else is looked at.
    for (const Node& node : graph.nodes)
        if (!exporters().count(node.op))
            throw Error(
                fmt::format("node '{}': op '{}' has no ONNX form that weft knows; it cannot be exported",
                            node.name, node.op));
    onnx::GraphProto& proto = *model.mutable_graph();
    proto.set_name(graph.name.empty() ? "weft" : graph.name);
    for (int v : graph.inputs) set_value_info(*proto.add_input(), graph.values[v]);
    for (int v : graph.outputs) set_value_info(*proto.add_output(), graph.values[v]);
    ModelWriter writer(graph, weights, proto);
    for (int n : graph.topological_order()) {
        const Node& node = graph.nodes[n];
        writer.set_node(node);
        exporters().at(node.op)(writer);
    }
    std::string bytes;
    if (!model.SerializeToString(&bytes)) throw Error("the ONNX model could not be serialised (over 2 GiB?)");
    return bytes;
}

void write_onnx(const std::filesystem::path& path, const Graph& graph, const WeightMap& weights,
                const ExportOptions& options) {
    const std::string bytes = export_onnx(graph, weights, options);
    OutputFile file(path);
    file.write(bytes);
    file.commit();
}

std::string export_pass_selection(const std::string& selection, const Registry& registry) {
    // Passes whose rewrites exist only for weft's kernels: their ops have no ONNX form.
    static const char* const kKernelFusions[] = {"fuse_igc_block", "fold_permutations"};
    if (selection == "none") return selection;
    const bool everything = selection.empty() || selection == "default" || selection == "all";
    std::string kept = everything ? std::string() : selection;
    for (const char* fusion : kKernelFusions) {
        const auto passes = registry.passes();
        if (std::none_of(passes.begin(), passes.end(), [&](const GraphPass* p) { return p->name == fusion; }))
            continue;  // its plugin is not loaded
        kept += fmt::format("{}-{}", kept.empty() ? "" : ",", fusion);
    }
    return kept.empty() ? selection : kept;
}

}  // namespace weft::onnx_format
