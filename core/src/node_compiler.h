// The one compile path of both executors: per node, build its KernelConfig, let the registry
// choose the kernel for that node, create it; and place every parameter on the device. The
// inference executor and the training executor differ only in the plan they place tensors by.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "device_buffer.h"
#include "exception_text.h"
#include "weft/executor.h"
#include "weft/fatal_signal.h"
#include "weft/kernel.h"
#include "weft/registry.h"
#include "weft/weights.h"

namespace weft::detail {

// Everything one node needs at run time, prepared when the graph is compiled.
struct CompiledNode {
    int node = -1;
    std::unique_ptr<Kernel> kernel;
    std::string kernel_name;  // "library:kernel", the kernel that really runs this node
    // What a fatal signal inside the kernel reports (weft/fatal_signal.h): node, op, kernel and
    // library, prepared here because the signal handler can only write bytes that exist.
    std::string crash_note;
    std::vector<TensorView> inputs, outputs, params;
    void* saved = nullptr;  // the kernel's saved_bytes() (training), placed by the executor
};

// Chooses and creates the kernel of node `n`: the registry asks the kernels best first whether
// they take this very node (its shapes, attributes, training flag). Errors name the node, its
// place in the graph file, the backend and the op.
void create_kernel(CompiledNode& compiled, const Graph& graph, const Registry& registry,
                   const CompileOptions& options, Device& device, bool training, bool in_place);

// The kernel name of every node of a graph of `node_count` nodes, by node index ("" for a node
// that was not compiled): built once, so asking for each node's is not a search per node.
std::vector<std::string> kernel_names_by_node(const std::vector<CompiledNode>& compiled, std::size_t node_count);

// Runs `call` (a kernel's forward or backward, `pass` names which, a string literal) and rethrows
// any error naming the node, its place in the graph file and the kernel that failed; a fatal
// signal during the call names them too.
template <class Call>
void run_node(const Graph& graph, const CompiledNode& compiled, const char* pass, Call&& call) {
    try {
        const RunningKernelMark mark(compiled.crash_note.c_str(), pass);
        call();
    } catch (...) {
        const Node& node = graph.nodes[compiled.node];
        throw Error(fmt::format("{}: node '{}' (kernel {}) failed in {}: {}", node.loc.str(), node.name,
                                compiled.kernel_name, pass, current_exception_text()));
    }
}

// Runs `call` for one node; with `seconds` given (profiling), waits for the device afterwards and
// adds the node's wall time to (*seconds)[node].
template <class Call>
void timed(Device& device, std::vector<double>* seconds, int node, Call&& call) {
    using Clock = std::chrono::steady_clock;
    const auto start = seconds ? Clock::now() : Clock::time_point{};
    call();
    if (seconds) {
        device.synchronize();
        (*seconds)[node] += std::chrono::duration<double>(Clock::now() - start).count();
    }
}

class NumericsCheck;

// Every node's forward, in compiled order, timed into `seconds` when profiling, and each node's
// outputs checked for NaN and infinity by `numerics` when given (--check-numerics).
void run_forward(const Graph& graph, std::vector<CompiledNode>& nodes, Device& device, void* workspace,
                 std::vector<double>* seconds, NumericsCheck* numerics = nullptr);

// Every parameter of a graph on the device, in one allocation: node order, 64-byte aligned
// slots. `views[n][p]` is where parameter p of node n lives.
struct ParameterStorage {
    DeviceBuffer buffer;
    std::vector<std::vector<TensorView>> views;
};
// Allocates it (uninitialised) with the graph's parameter descriptions.
ParameterStorage allocate_parameters(const Graph& graph, Device& device);
// Copies `weights` ("node.param") into it; they must match the graph (check_weights).
void upload_parameters(const ParameterStorage& storage, const Graph& graph, const WeightMap& weights, Device& device);

}  // namespace weft::detail
