// Core: the plugin host, validation, the buffer plan, the executor and weight files.
#include <dlfcn.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/error.h"
#include "weft/executor.h"
#include "weft/graph_file.h"
#include "weft/registry.h"
#include "weft/weights.h"

namespace fs = std::filesystem;
using namespace weft;

namespace {

fs::path fixture_dir(const std::string& name) { return fs::path(WEFT_TEST_BINARY_DIR) / "tests/plugin_fixtures" / name; }

fs::path temp_dir(const std::string& name) {
    fs::path d = fs::temp_directory_path() / ("weft_core_test_" + name + "_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "<no error>";
}

// x -> test_scale -> test_scale -> ... (n nodes) on a [2, 3] input.
Graph scale_chain(const Registry& registry, int n, double factor = 2.0) {
    Graph g;
    int v = g.add_input("x", TensorDesc{DType::f32, {2, 3}, Layout::row_major});
    for (int i = 0; i < n; ++i) {
        Node node;
        node.name = "scale" + std::to_string(i);
        node.op = "test_scale";
        node.attrs.set("factor", factor);
        node.inputs = {v};
        v = g.nodes[g.add_node(std::move(node))].outputs[0];
    }
    g.outputs = {v};
    infer_shapes(g, registry);
    return g;
}

}  // namespace

TEST(PluginHost, LoadsALibraryAndItsOperator) {
    Registry r;
    r.load_directory(fixture_dir("good"));
    ASSERT_EQ(r.loaded().size(), 1u) << (r.refused().empty() ? "" : r.refused()[0].reason);
    EXPECT_TRUE(r.refused().empty());
    EXPECT_NE(r.find_op("test_scale"), nullptr);
    EXPECT_EQ(r.loaded()[0].name, "fixture_good");
    EXPECT_EQ(r.kernels("test_scale", "cpu").size(), 1u);
}

TEST(PluginHost, RefusesALibraryWithoutTheEntryPointNamingTheFile) {
    Registry r;
    r.load_directory(fixture_dir("no_entry"));
    ASSERT_EQ(r.refused().size(), 1u);
    EXPECT_TRUE(r.loaded().empty());
    EXPECT_NE(r.refused()[0].path.string().find("libweft_no_entry.so"), std::string::npos);
    EXPECT_NE(r.refused()[0].reason.find("weft_plugin_entry"), std::string::npos) << r.refused()[0].reason;
}

TEST(PluginHost, RefusesALibraryBuiltForAnotherAbiVersion) {
    Registry r;
    r.load_directory(fixture_dir("wrong_abi"));
    ASSERT_EQ(r.refused().size(), 1u);
    const std::string& why = r.refused()[0].reason;
    EXPECT_NE(why.find("built for plugin ABI " + std::to_string(kPluginAbiVersion + 98)), std::string::npos) << why;
    EXPECT_NE(why.find("loads plugin ABI " + std::to_string(kPluginAbiVersion) + " only"), std::string::npos) << why;
    EXPECT_NE(why.find("rebuild it"), std::string::npos) << why;
}

TEST(PluginHost, RefusesALibraryRegisteringAnOperatorTwiceAndKeepsTheFirst) {
    Registry r;
    r.load_directory(fixture_dir("good"));
    r.load_directory(fixture_dir("duplicate"));
    ASSERT_EQ(r.loaded().size(), 1u);
    ASSERT_EQ(r.refused().size(), 1u);
    const std::string& why = r.refused()[0].reason;
    EXPECT_NE(why.find("'test_scale' already registered by"), std::string::npos) << why;
    EXPECT_NE(why.find("libweft_good.so"), std::string::npos) << why;
    EXPECT_NE(r.op_library("test_scale").string().find("libweft_good.so"), std::string::npos);
}

TEST(PluginHost, RefusesAFileThatIsNotASharedLibrary) {
    const fs::path dir = temp_dir("bogus");
    std::ofstream(dir / "libweft_bogus.so") << "this is not an ELF file\n";
    Registry r;
    r.load_directory(dir);
    ASSERT_EQ(r.refused().size(), 1u);
    EXPECT_NE(r.refused()[0].reason.find("cannot be loaded as a shared library"), std::string::npos);
    fs::remove_all(dir);
}

TEST(PluginHost, ABackendIsNamedByItsLibraryAlone) {
    EXPECT_EQ(backend_library_name("/x/libweft_backend_cuda.so"), "cuda");
    EXPECT_EQ(backend_library_name("libweft_backend_cpu.so"), "cpu");
    EXPECT_EQ(backend_library_name("libweft_backend_.so"), "");
    EXPECT_EQ(backend_library_name("libweft_group_conv_cuda.so"), "");
    EXPECT_EQ(backend_library_name("libweft_backend_cuda.txt"), "");
}

// plugin_fixtures/backends holds libweft_backend_fake.so, its kernels libweft_scale_fake.so and
// libweft_scale_special.so, whose _special names no backend.
TEST(PluginHost, TheLibrariesOfABackendNotAskedForAreSkippedUnopened) {
    Registry r;
    r.load_directories({fixture_dir("good"), fixture_dir("backends")}, {"cpu"});
    std::vector<std::string> loaded, skipped;
    for (const auto& l : r.loaded()) loaded.push_back(l.path.filename().string());
    for (const auto& s : r.skipped()) {
        skipped.push_back(s.path.filename().string());
        EXPECT_EQ(s.backend, "fake") << s.path;
        EXPECT_EQ(dlopen(s.path.c_str(), RTLD_NOW | RTLD_NOLOAD), nullptr) << s.path << " was opened";
    }
    EXPECT_EQ(loaded, (std::vector<std::string>{"libweft_good.so", "libweft_scale_special.so"}));
    EXPECT_EQ(skipped, (std::vector<std::string>{"libweft_backend_fake.so", "libweft_scale_fake.so"}));
    EXPECT_TRUE(r.refused().empty());
    EXPECT_EQ(r.find_backend("fake"), nullptr);
    EXPECT_TRUE(r.kernels("test_scale", "fake").empty());
}

TEST(PluginHost, ABackendAskedForLoadsWithItsKernelsAndAnEmptyListLoadsEverything) {
    for (const std::vector<std::string>& backends : {std::vector<std::string>{"cpu", "fake"}, std::vector<std::string>{}}) {
        Registry r;
        r.load_directories({fixture_dir("good"), fixture_dir("backends")}, backends);
        EXPECT_EQ(r.loaded().size(), 4u) << backends.size() << " backends asked for";
        EXPECT_TRUE(r.skipped().empty());
        EXPECT_NE(r.find_backend("fake"), nullptr);
        ASSERT_EQ(r.kernels("test_scale", "fake").size(), 1u);
    }
}

// The build's own plugins: a host that asks for cpu alone loads none of the cuda backend's.
TEST(PluginHost, ACpuOnlyLoadOfTheBuildsPluginsLeavesEveryCudaLibraryOut) {
    Registry r;
    r.load_directory(WEFT_TEST_PLUGIN_DIR, {"cpu"});
    for (const auto& l : r.loaded()) EXPECT_FALSE(l.path.stem().string().ends_with("_cuda")) << l.path;
    EXPECT_EQ(r.find_backend("cuda"), nullptr);
    EXPECT_NE(r.find_backend("cpu"), nullptr);
    std::size_t cuda_libraries = 0;
    for (const auto& s : r.skipped()) {
        EXPECT_EQ(s.backend, "cuda") << s.path;
        ++cuda_libraries;
    }
    if (WEFT_TEST_HAVE_CUDA) {
        EXPECT_GE(cuda_libraries, 2u) << "the cuda backend and sgd's cuda kernel at least";
    } else {
        EXPECT_EQ(cuda_libraries, 0u);
    }
}

TEST(PluginHost, MissingPluginDirectoryIsAnErrorNamingIt) {
    Registry r;
    const std::string msg = error_of([&] { load_plugins(r, {"/nonexistent/weft-plugins"}); });
    EXPECT_NE(msg.find("'/nonexistent/weft-plugins'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(PluginHost, HighestPriorityKernelWinsAndKernelOverrideForcesAChoice) {
    Registry r;
    r.load_directory(fixture_dir("good"));
    r.load_directory(fixture_dir("override"));
    r.load_directory(weft::default_plugin_directory());  // the cpu backend
    EXPECT_EQ(r.select_kernel("test_scale", "cpu").factory.name, "override");
    EXPECT_EQ(r.select_kernel("test_scale", "cpu", {{"test_scale", "good"}}).factory.name, "reference");
    EXPECT_EQ(r.select_kernel("test_scale", "cpu", {{"test_scale", "reference"}}).factory.name, "reference");
    const std::string msg = error_of([&] { r.select_kernel("test_scale", "cpu", {{"test_scale", "nope"}}); });
    EXPECT_NE(msg.find("no such cpu kernel"), std::string::npos) << msg;

    Graph g = scale_chain(r, 1);
    CompileOptions opts;
    opts.kernel_overrides = {{"test_scale", "good"}};
    Executor exec(g, r, {}, opts);
    EXPECT_NE(exec.kernel_name(0).find("reference"), std::string::npos) << exec.kernel_name(0);
}

// Kernel choice is per node: a kernel that declines a node hands it to the next kernel in the
// registry's order (never to a kernel of its own choosing), and the executor names the kernel
// that really runs each node.
TEST(PluginHost, AKernelThatDeclinesANodeLeavesItToTheNextKernel) {
    Registry r;
    r.load_directory(fixture_dir("good"));
    r.load_directory(fixture_dir("picky"));
    r.load_directory(weft::default_plugin_directory());  // the cpu backend
    const auto device = r.create_device("cpu", {});
    Graph two = scale_chain(r, 1, 2.0), three = scale_chain(r, 1, 3.0);
    const auto config_of = [&](const Graph& g) {
        return KernelConfig{g.nodes[0].name, g.nodes[0].attrs, {g.values[g.inputs[0]].desc},
                            {g.values[g.outputs[0]].desc}, {}, *device, false, false};
    };
    std::vector<std::string> passed_over;
    const KernelConfig takes = config_of(two), declined = config_of(three);
    EXPECT_EQ(r.select_kernel("test_scale", "cpu", {}, &takes, &passed_over).factory.name, "picky");
    EXPECT_TRUE(passed_over.empty());
    EXPECT_EQ(r.select_kernel("test_scale", "cpu", {}, &declined, &passed_over).factory.name, "reference");
    ASSERT_EQ(passed_over.size(), 1u);
    EXPECT_NE(passed_over[0].find("weft_picky: only factor 2"), std::string::npos) << passed_over[0];
    // Forced, it is asked first; a node it declines still gets the usual order.
    EXPECT_EQ(r.select_kernel("test_scale", "cpu", {{"test_scale", "picky"}}, &declined).factory.name, "reference");
    // Without a node: the op-level choice `weft plugins` stars.
    EXPECT_EQ(r.select_kernel("test_scale", "cpu").factory.name, "picky");

    // One graph, both kinds of node: each runs on its own kernel, and says so.
    Graph g = scale_chain(r, 1, 3.0);
    {
        Node node;
        node.name = "doubled";
        node.op = "test_scale";
        node.attrs.set("factor", 2.0);
        node.inputs = {g.outputs[0]};
        g.outputs = {g.nodes[g.add_node(std::move(node))].outputs[0]};
        infer_shapes(g, r);
    }
    Executor exec(g, r, {}, {});
    EXPECT_NE(exec.kernel_name(0).find(":reference"), std::string::npos) << exec.kernel_name(0);
    EXPECT_NE(exec.kernel_name(1).find(":picky"), std::string::npos) << exec.kernel_name(1);
    Tensor x(TensorDesc{DType::f32, {2, 3}, Layout::row_major});
    std::fill_n(x.as<float>(), 6, 1.f);
    auto out = exec.make_outputs();
    exec.run(std::span<const Tensor>(&x, 1), out);
    EXPECT_FLOAT_EQ(out[0].as<float>()[0], 3.f * 2.f + 1.f);  // reference ×3, then picky ×2 + 1
}

// The ABI promise (docs/plugins.md): a library built for an older or a newer plugin ABI is
// refused by name with both versions, and nothing else is disturbed.
TEST(PluginHost, LibrariesOfOtherAbisAreRefusedAndTheRestLoads) {
    Registry r;
    r.load_directories({fixture_dir("old_abi"), fixture_dir("wrong_abi"), fixture_dir("good")});
    ASSERT_EQ(r.refused().size(), 2u);
    for (const auto& refused : r.refused()) {
        EXPECT_NE(refused.reason.find("loads plugin ABI " + std::to_string(kPluginAbiVersion) + " only"),
                  std::string::npos)
            << refused.reason;
    }
    EXPECT_NE(r.refused()[0].reason.find("built for plugin ABI " + std::to_string(kPluginAbiVersion - 1)),
              std::string::npos)
        << r.refused()[0].reason;
    ASSERT_EQ(r.loaded().size(), 1u);
    EXPECT_TRUE(r.find_op("test_scale"));
}

TEST(PluginHost, AKernelThatThrowsIsReportedWithNodeAndLibrary) {
    Registry r;
    r.load_directory(fixture_dir("throwing"));
    r.load_directory(weft::default_plugin_directory());
    Graph g;
    Node node;
    node.name = "boom";
    node.op = "test_throw";
    node.inputs = {g.add_input("x", TensorDesc{DType::f32, {1, 4}, Layout::row_major})};
    g.outputs = g.nodes[g.add_node(std::move(node))].outputs;
    infer_shapes(g, r);
    Executor exec(g, r, {}, {});
    std::vector<Tensor> in{Tensor(g.values[0].desc)}, out = exec.make_outputs();
    const std::string msg = error_of([&] { exec.run(in, out); });
    EXPECT_NE(msg.find("node 'boom'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("weft_throwing"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fixture kernel failure"), std::string::npos) << msg;
}

TEST(PluginHost, AShapeRuleAnsweringAnInvalidShapeIsRefusedNamingPluginAndNode) {
    Registry r;
    r.load_directory(fixture_dir("bad_shape"));
    Graph g;
    Node node;
    node.name = "liar";
    node.op = "test_bad_shape";
    node.loc = SourceLocation{"net.yaml", 3, 5};
    node.inputs = {g.add_input("x", TensorDesc{DType::f32, {1, 4}, Layout::row_major})};
    g.outputs = g.nodes[g.add_node(std::move(node))].outputs;
    const std::string msg = error_of([&] { infer_shapes(g, r); });
    EXPECT_NE(msg.find("net.yaml:3:5: node 'liar'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("invalid output shape [1, -3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("weft_bad_shape"), std::string::npos) << msg;
}

TEST(PluginHost, InputsOfTheWrongDtypeAreRefusedAtTheExecutor) {
    Registry r;
    r.load_directory(fixture_dir("good"));
    r.load_directory(weft::default_plugin_directory());
    Graph g;
    Node node;
    node.name = "s";
    node.op = "test_scale";
    node.inputs = {g.add_input("x", TensorDesc{DType::f32, {1, 4}, Layout::row_major})};
    g.outputs = g.nodes[g.add_node(std::move(node))].outputs;
    infer_shapes(g, r);
    Executor exec(g, r, {}, {});
    std::vector<Tensor> in{Tensor(TensorDesc{DType::i32, {1, 4}, Layout::row_major})}, out = exec.make_outputs();
    const std::string msg = error_of([&] { exec.run(in, out); });
    EXPECT_NE(msg.find("input 'x' should be f32[1, 4], got i32[1, 4]"), std::string::npos) << msg;
}

TEST(Validation, AttributesAreCheckedAgainstTheSchema) {
    Registry r;
    r.load_directory(fixture_dir("good"));
    Graph g;
    Node node;
    node.name = "s";
    node.op = "test_scale";
    node.attrs.set("factor", std::string("abc"));
    node.inputs = {g.add_input("x", TensorDesc{DType::f32, {1, 4}, Layout::row_major})};
    node.loc = SourceLocation{"net.yaml", 7, 5};
    g.add_node(node);
    std::string msg = error_of([&] { infer_shapes(g, r); });
    EXPECT_EQ(msg, "net.yaml:7:5: node 's': attribute 'factor' should be a number, got string (abc)");

    g.nodes[0].attrs = {};
    g.nodes[0].attrs.set("scale", 1.0);
    msg = error_of([&] { infer_shapes(g, r); });
    EXPECT_NE(msg.find("op 'test_scale' has no attribute 'scale' (it has: factor)"), std::string::npos) << msg;

    g.nodes[0].op = "no_such_op";
    msg = error_of([&] { infer_shapes(g, r); });
    EXPECT_NE(msg.find("unknown op 'no_such_op'"), std::string::npos) << msg;
}

TEST(Validation, ACycleIsReported) {
    Graph g;
    Node a, b;
    a.name = "a";
    a.op = "test_scale";
    b.name = "b";
    b.op = "test_scale";
    g.add_node(a);
    g.add_node(b);
    g.nodes[0].inputs = {g.nodes[1].outputs[0]};
    g.nodes[1].inputs = {g.nodes[0].outputs[0]};
    EXPECT_NE(error_of([&] { g.topological_order(); }).find("cycle"), std::string::npos);
}

TEST(BufferPlan, InPlaceChainNeedsOneBufferAndComputesCorrectly) {
    Registry r;
    r.load_directory(fixture_dir("good"));
    r.load_directory(weft::default_plugin_directory());
    Graph g = scale_chain(r, 6, 2.0);
    const BufferPlan plan = plan_buffers(g, r);
    EXPECT_EQ(plan.arena_bytes, BufferPlan::kAlignment);  // 24 bytes, one aligned slot
    // The input is the first node's in-place operand only if nothing reads it later: the input
    // slot is reused, so every node runs in place.
    for (bool b : plan.in_place) EXPECT_TRUE(b);
    Executor exec(g, r, {}, {});
    Tensor x = weft::testing::tensor_from({2, 3}, {1, 2, 3, 4, 5, 6});
    std::vector<Tensor> out = exec.make_outputs();
    exec.run(std::span<const Tensor>(&x, 1), out);
    EXPECT_TRUE(weft::testing::all_close(out[0], weft::testing::tensor_from({2, 3}, {64, 128, 192, 256, 320, 384})));
    exec.run(std::span<const Tensor>(&x, 1), out);  // the input is copied in again each run
    EXPECT_TRUE(weft::testing::all_close(out[0], weft::testing::tensor_from({2, 3}, {64, 128, 192, 256, 320, 384})));
}

TEST(BufferPlan, ValuesShareMemoryOnceTheirReadersAreDone) {
    // A chain of out-of-place permutations needs two live buffers at a time, not one per node.
    const Registry& r = weft::testing::build_registry();
    Graph g;
    int v = g.add_input("x", TensorDesc{DType::f32, {4, 8, 16, 16}, Layout::row_major});
    for (int i = 0; i < 10; ++i) {
        Node n;
        n.name = "p" + std::to_string(i);
        n.op = "channel_permute";
        n.attrs.set("groups", std::int64_t{2});
        n.inputs = {v};
        v = g.nodes[g.add_node(n)].outputs[0];
    }
    g.outputs = {v};
    infer_shapes(g, r);
    const BufferPlan plan = plan_buffers(g, r);
    const std::size_t one = 4 * 8 * 16 * 16 * 4;
    EXPECT_EQ(plan.largest_value_bytes, one);
    EXPECT_EQ(plan.arena_bytes, 2 * one);
    // No two values alive at the same time overlap: check each node's input against its output.
    for (const Node& n : g.nodes) {
        const auto& in = plan.values[n.inputs[0]];
        const auto& out = plan.values[n.outputs[0]];
        EXPECT_TRUE(in.offset + in.bytes <= out.offset || out.offset + out.bytes <= in.offset) << n.name;
    }
}

TEST(Safetensors, RoundTripKeepsNamesShapesValuesAndMetadata) {
    const fs::path dir = temp_dir("st");
    WeightMap w;
    w.emplace("conv.weight", weft::testing::random_tensor({4, 2, 3, 3}, 1));
    w.emplace("fc.bias", weft::testing::random_tensor({10}, 2));
    save_safetensors(dir / "w.safetensors", w, {{"graph", "test"}});
    std::map<std::string, std::string> meta;
    WeightMap back = load_safetensors(dir / "w.safetensors", &meta);
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(meta.at("graph"), "test");
    for (const auto& [name, t] : w) EXPECT_TRUE(weft::testing::all_close(back.at(name), t, 0, 0)) << name;
    EXPECT_FALSE(fs::exists(dir / "w.safetensors.tmp"));
    fs::remove_all(dir);
}

TEST(Safetensors, CorruptFilesGiveAnErrorNamingTheFile) {
    const fs::path dir = temp_dir("corrupt");
    WeightMap w;
    w.emplace("a.weight", weft::testing::random_tensor({64}, 1));
    save_safetensors(dir / "good.safetensors", w);
    std::string bytes;
    {
        std::ifstream in(dir / "good.safetensors", std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto write = [&](const std::string& name, const std::string& content) {
        std::ofstream(dir / name, std::ios::binary) << content;
        return dir / name;
    };
    const auto truncated = write("truncated.safetensors", bytes.substr(0, bytes.size() - 10));
    EXPECT_NE(error_of([&] { load_safetensors(truncated); }).find("truncated.safetensors: tensor 'a.weight'"), std::string::npos);
    std::string huge = bytes;
    huge[7] = '\x7f';  // header length far beyond the file
    const auto bad_len = write("badlen.safetensors", huge);
    EXPECT_NE(error_of([&] { load_safetensors(bad_len); }).find("header length"), std::string::npos);
    std::string garbled = bytes;
    garbled[9] = '#';
    const auto bad_json = write("badjson.safetensors", garbled);
    EXPECT_NE(error_of([&] { load_safetensors(bad_json); }).find("corrupt safetensors header"), std::string::npos);
    const auto tiny = write("tiny.safetensors", "abc");
    EXPECT_NE(error_of([&] { load_safetensors(tiny); }).find("too short"), std::string::npos);
    EXPECT_NE(error_of([&] { load_safetensors(dir / "missing.safetensors"); }).find("cannot open"), std::string::npos);
    fs::remove_all(dir);
}

TEST(Weights, InitialisationIsDeterministicPerSeedAndHeScaled) {
    const Registry& r = weft::testing::build_registry();
    Graph g;
    Node n;
    n.name = "conv";
    n.op = "group_conv";
    n.attrs.set("out_channels", std::int64_t{64});
    n.attrs.set("kernel", std::int64_t{3});
    n.inputs = {g.add_input("x", TensorDesc{DType::f32, {1, 32, 8, 8}, Layout::row_major})};
    g.outputs = g.nodes[g.add_node(n)].outputs;
    infer_shapes(g, r);
    const WeightMap a = init_weights(g, 7), b = init_weights(g, 7), c = init_weights(g, 8);
    const Tensor& wa = a.at("conv.weight");
    EXPECT_TRUE(weft::testing::all_close(wa, b.at("conv.weight"), 0, 0));
    EXPECT_FALSE(weft::testing::all_close(wa, c.at("conv.weight"), 0, 0));
    double sum2 = 0;
    for (std::int64_t i = 0; i < wa.numel(); ++i) sum2 += double(wa.as<float>()[i]) * wa.as<float>()[i];
    const double std_dev = std::sqrt(sum2 / double(wa.numel()));
    EXPECT_NEAR(std_dev, std::sqrt(2.0 / (32 * 9)), 0.05 * std::sqrt(2.0 / (32 * 9)));  // MSRA
}

TEST(Weights, MismatchedWeightsAreRefusedByName) {
    const Registry& r = weft::testing::build_registry();
    Graph g = resolve_graph("igc-l24m2-d8");
    infer_shapes(g, r);
    WeightMap w = init_weights(g, 1);
    auto it = w.begin();
    const std::string name = it->first;
    w.erase(it);
    EXPECT_NE(error_of([&] { check_weights(g, w); }).find("'" + name + "' ("), std::string::npos);
    w = init_weights(g, 1);
    w.emplace("nowhere.weight", weft::testing::random_tensor({3}, 1));
    EXPECT_NE(error_of([&] { check_weights(g, w); }).find("'nowhere.weight' does not belong"), std::string::npos);
}

TEST(Weights, SavedAndLoadedWeightsGiveIdenticalOutputs) {
    const Registry& r = weft::testing::build_registry();
    Graph g = resolve_graph("igc-l24m2-d8");
    g.set_batch(2);
    infer_shapes(g, r);
    const fs::path dir = temp_dir("roundtrip");
    const WeightMap w = init_weights(g, 3);
    save_safetensors(dir / "w.safetensors", w);
    const WeightMap back = load_safetensors(dir / "w.safetensors");
    Tensor x = random_normal(g.values[g.inputs[0]].desc, 5);
    Executor e1(g, r, w, {}), e2(g, r, back, {});
    auto o1 = e1.make_outputs(), o2 = e2.make_outputs();
    e1.run(std::span<const Tensor>(&x, 1), o1);
    e2.run(std::span<const Tensor>(&x, 1), o2);
    EXPECT_TRUE(weft::testing::all_close(o1[0], o2[0], 0, 0));
    fs::remove_all(dir);
}

TEST(BufferPlan, IgcL24M2PeakActivationsStayBelowThreeLargestTensors) {
    // The bound for IGC-L24M2-D20 at batch 64: activations share memory so the whole
    // forward pass needs less than 3x its largest single activation.
    const Registry& r = weft::testing::build_registry();
    Graph g = resolve_graph("igc-l24m2-d20");
    g.set_batch(64);
    infer_shapes(g, r);
    const BufferPlan plan = plan_buffers(g, r);
    EXPECT_EQ(plan.largest_value_bytes, std::size_t{64} * 48 * 32 * 32 * 4);
    EXPECT_LT(plan.arena_bytes, 3 * plan.largest_value_bytes);
}
