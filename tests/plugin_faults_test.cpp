// Plugins are strangers' code. Whatever one throws — not only std::exception — wherever it throws
// it (registration, shape rule, kernel creation, forward, backward), the host reports the library
// and the node; a bad entry in a plugin directory is refused alone; a refused library is warned
// about by every command that runs a graph; and a kernel that crashes the process names its node,
// op and library on the way out.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_harness.h"
#include "weft/executor.h"
#include "weft/graph.h"
#include "weft/registry.h"
#include "weft/training.h"

namespace fs = std::filesystem;
using namespace weft;

namespace {

fs::path fixture_dir(const std::string& name) { return fs::path(WEFT_TEST_BINARY_DIR) / "tests/plugin_fixtures" / name; }

fs::path fixture_library(const std::string& name) { return fixture_dir(name) / ("libweft_" + name + ".so"); }

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_plugin_faults_test");
    return dir.path();
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

// The faulty fixture's registry: its op test_fault and the cpu backend.
const Registry& faulty_registry() {
    static const Registry* registry = [] {
        auto* r = new Registry;
        r->load_directory(fixture_dir("faulty"));
        r->load_directory(default_plugin_directory());
        return r;
    }();
    return *registry;
}

// x -> test_fault (failing in `stage`) -> graph output.
Graph faulty_graph(const std::string& stage) {
    Graph g;
    Node node;
    node.name = "fragile";
    node.op = "test_fault";
    node.loc = SourceLocation{"net.yaml", 7, 5};
    node.attrs.set("fail_in", stage);
    node.inputs = {g.add_input("x", TensorDesc{DType::f32, {1}, Layout::row_major})};
    g.outputs = g.nodes[g.add_node(std::move(node))].outputs;
    return g;
}

WeightMap unit_weight() {
    Tensor w(TensorDesc{DType::f32, {1}, Layout::row_major});
    *w.as<float>() = 1.f;
    return {{"fragile.weight", w}};
}

::testing::AssertionResult names_int_node_and_library(const std::string& message) {
    for (const std::string part : {"node 'fragile'", "weft_faulty", "an exception of type 'int'"})
        if (message.find(part) == std::string::npos)
            return ::testing::AssertionFailure() << "lacks [" << part << "]: " << message;
    return ::testing::AssertionSuccess();
}

}  // namespace

// ---- exceptions of any type -------------------------------------------------------------------

TEST(PluginFaults, AnythingThrownWhileRegisteringRefusesTheLibraryAndSaysWhatWasThrown) {
    Registry r;
    r.load_directory(fixture_dir("throws_int_in_registration"));
    ASSERT_EQ(r.refused().size(), 1u);
    EXPECT_TRUE(r.loaded().empty());
    EXPECT_FALSE(r.find_op("test_scale")) << "a library is accepted whole or refused whole";
    EXPECT_NE(r.refused()[0].reason.find("its registration failed: an exception of type 'int'"), std::string::npos)
        << r.refused()[0].reason;
}

TEST(PluginFaults, AnythingThrownByAShapeRuleIsReportedWithTheNodeAndLibrary) {
    Graph g = faulty_graph("infer");
    const std::string msg = error_of([&] { infer_shapes(g, faulty_registry()); });
    EXPECT_TRUE(names_int_node_and_library(msg));
    EXPECT_NE(msg.find("net.yaml:7:5"), std::string::npos) << msg;
}

TEST(PluginFaults, AnythingThrownCreatingAKernelIsReportedWithTheNode) {
    Graph g = faulty_graph("create");
    infer_shapes(g, faulty_registry());
    const std::string msg = error_of([&] { Executor(g, faulty_registry(), unit_weight(), {}); });
    EXPECT_NE(msg.find("node 'fragile'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("an exception of type 'int'"), std::string::npos) << msg;
}

TEST(PluginFaults, AnythingThrownInForwardIsReportedWithTheNodeAndLibrary) {
    Graph g = faulty_graph("forward");
    infer_shapes(g, faulty_registry());
    Executor exec(g, faulty_registry(), unit_weight(), {});
    std::vector<Tensor> in{Tensor(g.values[0].desc)}, out = exec.make_outputs();
    const std::string msg = error_of([&] { exec.run(in, out); });
    EXPECT_TRUE(names_int_node_and_library(msg));
    EXPECT_NE(msg.find("failed in forward"), std::string::npos) << msg;
}

// The node's output (one number) is the loss, so its backward runs in every training step.
TEST(PluginFaults, AnythingThrownInBackwardIsReportedWithTheNodeAndLibrary) {
    Graph g = faulty_graph("backward");
    infer_shapes(g, faulty_registry());
    TrainingExecutor exec(g, faulty_registry(), unit_weight(), {}, "fragile");
    std::vector<Tensor> in{Tensor(g.values[0].desc)}, out = exec.make_outputs();
    const std::string msg = error_of([&] { exec.step(in, out); });
    EXPECT_TRUE(names_int_node_and_library(msg));
    EXPECT_NE(msg.find("failed in backward"), std::string::npos) << msg;
}

// ---- plugin directories -----------------------------------------------------------------------

// A symlink loop used to make every command fail with "internal error".
TEST(PluginDirectories, BadEntriesAreRefusedAloneAndTheOtherLibrariesLoad) {
    const fs::path dir = work_dir() / "plugins_with_bad_entries";
    fs::create_directories(dir);
    fs::copy_file(fixture_library("good"), dir / "libweft_good.so", fs::copy_options::overwrite_existing);
    fs::create_symlink(dir / "libweft_loop_b.so", dir / "libweft_loop_a.so");
    fs::create_symlink(dir / "libweft_loop_a.so", dir / "libweft_loop_b.so");
    fs::create_symlink(dir / "nowhere.so", dir / "libweft_dangling.so");
    fs::create_directories(dir / "libweft_directory.so");
    ASSERT_EQ(::mkfifo((dir / "libweft_fifo.so").c_str(), 0600), 0);

    Registry r;
    r.load_directory(dir);
    EXPECT_TRUE(r.find_op("test_scale")) << "the good library still loads";
    std::map<std::string, std::string> reasons;
    for (const RefusedLibrary& refused : r.refused()) reasons[refused.path.filename().string()] = refused.reason;
    ASSERT_EQ(reasons.size(), 5u);
    EXPECT_NE(reasons["libweft_loop_a.so"].find("cannot be examined"), std::string::npos) << reasons["libweft_loop_a.so"];
    EXPECT_NE(reasons["libweft_loop_b.so"].find("cannot be examined"), std::string::npos);
    EXPECT_NE(reasons["libweft_dangling.so"].find("cannot be examined"), std::string::npos);
    EXPECT_EQ(reasons["libweft_directory.so"], "is not a regular file");
    EXPECT_EQ(reasons["libweft_fifo.so"], "is not a regular file");
}

// Every command that runs or checks a graph says, on stderr, which library was refused and why.
TEST(PluginDirectories, CommandsThatRunAGraphWarnAboutRefusedLibrariesNamingThem) {
    const std::string path = "--plugin-path " + fixture_dir("wrong_abi").string();
    for (const std::string command : {"check", "run", "stats"}) {
        const auto r = weft::testing::run_weft(command + " igc-l24m2-d8 " + path, work_dir());
        EXPECT_EQ(r.status, 0) << command << ": " << r.err;
        EXPECT_NE(r.err.find("weft: warning: plugin library " + fixture_library("wrong_abi").string() +
                             " was refused: built for plugin ABI"),
                  std::string::npos)
            << command << ": " << r.err;
    }
    const auto listed = weft::testing::run_weft("plugins " + path, work_dir());
    EXPECT_EQ(listed.err, "") << "`weft plugins` lists refused libraries itself";
}

// ---- fatal signals ----------------------------------------------------------------------------

class FatalSignalInAKernel : public ::testing::TestWithParam<int> {};

// The kernel dies of the signal (SIGSEGV by a real bad pointer); before the process ends the same
// way, stderr names the node, its op, its place and the library.
TEST_P(FatalSignalInAKernel, NamesTheNodeOpAndLibraryThenDiesOfTheSignal) {
    const int signal_number = GetParam();
    const fs::path graph = work_dir() / ("crash_" + std::to_string(signal_number) + ".yaml");
    std::ofstream(graph) << "family: crash\ninputs:\n  - {name: data, shape: [4]}\ngraph:\n"
                         << "  - {op: test_fault, name: doomed, crash_signal: " << signal_number << "}\n";
    // No core dump: the test wants the message, not gigabytes on disk.
    const auto r = weft::testing::run_weft("run " + graph.string() + " --plugin-path " + fixture_dir("faulty").string(),
                                           work_dir(), {.env = "ulimit -c 0;"});
    // Through `timeout` and the shell, a process killed by signal s exits with 128 + s.
    EXPECT_EQ(r.status, 128 + signal_number) << r.err;
    const std::vector<std::string> parts{
        "weft: fatal: ",
        "in the plugin kernel of node 'doomed' (op 'test_fault', kernel faulty, library " +
            fixture_library("faulty").string() + ")",
        graph.string() + ":5:5", "during forward"};
    for (const std::string& part : parts)
        EXPECT_NE(r.err.find(part), std::string::npos) << "lacks [" << part << "]: " << r.err;
}

INSTANTIATE_TEST_SUITE_P(EachFatalSignal, FatalSignalInAKernel,
                         ::testing::Values(SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT),
                         [](const ::testing::TestParamInfo<int>& info) { return std::string(sigabbrev_np(info.param)); });
