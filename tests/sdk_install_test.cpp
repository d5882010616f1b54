// The plugin SDK as a stranger meets it: weft installed into a fresh prefix; the example plugin
// (examples/separable_primary_conv) configured and built out of tree with find_package(weft),
// its tests run on the installed testing library, and the installed `weft` running it — checked
// against the operator's definition computed here; and docs/plugins.md followed to the letter:
// every file it shows written out, built with oneDNN's CMake package hidden, tested and run.
//
// One ctest entry runs every test below in one process: the install and the builds happen once
// (SetUpTestSuite), in a temporary directory removed at the end.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_harness.h"
#include "doc_snippets.h"
#include "weft/npy.h"
#include "weft/plugin.h"
#include "weft/weights.h"

namespace fs = std::filesystem;

namespace {

struct Result {
    int status = -1;
    std::string out;  // stdout and stderr together
};

using weft::testing::read_text;

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// CMake's command line for configuring `source` into `build` against the installed prefix.
std::string configure(const fs::path& source, const fs::path& build, const fs::path& prefix,
                      const std::string& options = "") {
    return quoted(WEFT_TEST_CMAKE) + " -S " + quoted(source) + " -B " + quoted(build) + " -G " +
           quoted(WEFT_TEST_GENERATOR) + " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + quoted(prefix) + " " +
           options;
}

std::string build(const fs::path& dir) { return quoted(WEFT_TEST_CMAKE) + " --build " + quoted(dir) + " -j 2"; }

std::string ctest(const fs::path& dir) { return quoted(WEFT_TEST_CTEST) + " --test-dir " + quoted(dir) + " --output-on-failure"; }

// oneDNN's CMake package out of reach, as on a machine that has none.
constexpr const char* kWithoutOneDnn = "-DCMAKE_DISABLE_FIND_PACKAGE_dnnl=ON";

// Writes every file docs/plugins.md shows into `dir`; returns their names.
std::set<std::string> write_tutorial(const weft::testing::DocSnippets& snippets, const fs::path& dir) {
    fs::create_directories(dir);
    std::set<std::string> names;
    for (const auto& [name, text] : snippets.files) {
        std::ofstream(dir / name, std::ios::binary) << text;
        names.insert(name);
    }
    return names;
}

class SdkInstall : public ::testing::Test {
protected:
    static inline fs::path root, prefix, example_build, example_source, tutorial, tutorial_build;
    static inline weft::testing::DocSnippets plugins_md;
    static inline std::string setup_log;
    static inline bool ready = false;

    // Runs a shell command (with `env` assignments in front), a time limit so a hang fails.
    static Result sh(const std::string& command, const std::string& env = "") {
        const fs::path log = root / "command.log";
        const std::string line = env + " timeout 300 " + command + " >" + quoted(log) + " 2>&1 </dev/null";
        const int raw = std::system(line.c_str());
        return Result{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_text(log)};
    }

    static Result run_weft(const fs::path& at_prefix, const std::string& args, const std::string& env = "") {
        return sh(quoted(at_prefix / "bin/weft") + " " + args, env);
    }

    static std::string plugin_env() { return "WEFT_PLUGIN_PATH=" + quoted(example_build); }
    static std::string tutorial_env() { return "WEFT_PLUGIN_PATH=" + quoted(tutorial_build); }

    static bool step(const std::string& what, const Result& r) {
        setup_log += "$ " + what + " (exit " + std::to_string(r.status) + ")\n" + r.out + "\n";
        return r.status == 0;
    }

    static void SetUpTestSuite() {
        root = fs::temp_directory_path() / ("weft_sdk_test_" + std::to_string(::getpid()));
        fs::remove_all(root);
        fs::create_directories(root);
        prefix = root / "prefix";
        example_build = root / "example-build";
        example_source = fs::path(WEFT_TEST_SOURCE_DIR) / "examples/separable_primary_conv";
        tutorial = root / "tutorial";
        tutorial_build = tutorial / "build";
        ready = write_the_tutorial() &&
                step("install", sh(quoted(WEFT_TEST_CMAKE) + " --install " + quoted(WEFT_TEST_BINARY_DIR) + " --prefix " +
                                   quoted(prefix))) &&
                step("configure the example", sh(configure(example_source, example_build, prefix))) &&
                step("build the example", sh(build(example_build))) &&
                step("configure the tutorial without oneDNN",
                     sh(configure(tutorial, tutorial_build, prefix, kWithoutOneDnn))) &&
                step("build the tutorial", sh(build(tutorial_build)));
    }

    // docs/plugins.md's files, as a reader would type them in, into `tutorial`.
    static bool write_the_tutorial() {
        try {
            plugins_md = weft::testing::read_doc_snippets(read_text(fs::path(WEFT_TEST_SOURCE_DIR) / "docs/plugins.md"));
            write_tutorial(plugins_md, tutorial);
            return true;
        } catch (const std::exception& e) {
            setup_log += std::string("docs/plugins.md: ") + e.what() + "\n";
            return false;
        }
    }

    static void TearDownTestSuite() {
        std::error_code ignored;
        fs::remove_all(root, ignored);
    }

    void SetUp() override { ASSERT_TRUE(ready) << setup_log; }
};

std::set<std::string> files_under(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) names.insert(fs::relative(e.path(), dir).string());
    return names;
}

// The operator's definition (examples/separable_primary_conv/README.md), written independently
// of the plugin: for each output channel o in partition g = o / (out/G),
//   t[n,o,i,x] = sum_{c in g, k} Wv[o, c - g·C/G, k, 0] · X[n, c, i·sh + k - ph, x]
//   Y[n,o,i,j] = sum_{m in g, k} Wh[o, m - g·out/G, 0, k] · t[n, m, i, j·sw + k - pw]
// with X and t zero outside the image.
struct Case {
    int n, c, h, w, out, groups, sh, sw, ph, pw;
};

std::vector<double> separable_reference(const Case& p, const float* x, const float* wv, const float* wh) {
    const int ho = (p.h + 2 * p.ph - 3) / p.sh + 1, wo = (p.w + 2 * p.pw - 3) / p.sw + 1;
    const int cg = p.c / p.groups, og = p.out / p.groups;
    auto X = [&](int n, int c, int r, int col) {
        return r < 0 || r >= p.h || col < 0 || col >= p.w ? 0.0 : double(x[((n * p.c + c) * p.h + r) * p.w + col]);
    };
    std::vector<double> t(std::size_t(p.n) * p.out * ho * p.w), y(std::size_t(p.n) * p.out * ho * wo);
    for (int n = 0; n < p.n; ++n)
        for (int o = 0; o < p.out; ++o)
            for (int i = 0; i < ho; ++i)
                for (int col = 0; col < p.w; ++col) {
                    double s = 0;
                    for (int c = 0; c < cg; ++c)
                        for (int k = 0; k < 3; ++k)
                            s += wv[(o * cg + c) * 3 + k] * X(n, (o / og) * cg + c, i * p.sh + k - p.ph, col);
                    t[((std::size_t(n) * p.out + o) * ho + i) * p.w + col] = s;
                }
    for (int n = 0; n < p.n; ++n)
        for (int o = 0; o < p.out; ++o)
            for (int i = 0; i < ho; ++i)
                for (int j = 0; j < wo; ++j) {
                    double s = 0;
                    for (int m = 0; m < og; ++m)
                        for (int k = 0; k < 3; ++k) {
                            const int col = j * p.sw + k - p.pw;
                            if (col < 0 || col >= p.w) continue;
                            s += wh[(o * og + m) * 3 + k] * t[((std::size_t(n) * p.out + (o / og) * og + m) * ho + i) * p.w + col];
                        }
                    y[((std::size_t(n) * p.out + o) * ho + i) * wo + j] = s;
                }
    return y;
}

// A one-node graph of the example operator, its parameters set by --set.
fs::path write_single_node_graph(const fs::path& dir) {
    const fs::path path = dir / "separable_one.yaml";
    std::ofstream(path) << R"(family: separable_one
params: {c: 4, h: 7, w: 9, out: 6, groups: 2, sh: 1, sw: 1, ph: 1, pw: 1}
inputs:
  - {name: data, shape: ["${c}", "${h}", "${w}"]}
graph:
  - {op: separable_group_conv, name: sep, out_channels: "${out}", groups: "${groups}",
     stride: ["${sh}", "${sw}"], padding: ["${ph}", "${pw}"]}
)";
    return path;
}

}  // namespace

TEST_F(SdkInstall, ThePrefixHoldsTheRunnerPluginsGraphsPublicHeadersAndPackage) {
    EXPECT_TRUE(fs::is_regular_file(prefix / "bin/weft"));
    EXPECT_TRUE(fs::exists(prefix / "lib/libweft_core.so"));
    EXPECT_TRUE(fs::is_regular_file(prefix / "lib/weft/plugins/libweft_group_conv_cpu.so"));
    EXPECT_TRUE(fs::is_regular_file(prefix / "lib/weft/plugins/libweft_backend_cpu.so"));
    EXPECT_TRUE(fs::is_regular_file(prefix / "share/weft/graphs/blocks/common.yaml"));
    EXPECT_TRUE(fs::exists(prefix / "lib/libweft_testing.so"));
    for (const char* f : {"weftConfig.cmake", "weftConfigVersion.cmake", "weft-targets.cmake", "weft-cpu-targets.cmake",
                          "WeftPlugin.cmake"})
        EXPECT_TRUE(fs::is_regular_file(prefix / "lib/cmake/weft" / f)) << f;
#ifdef WEFT_TEST_CUDA_INCLUDE
    EXPECT_TRUE(fs::is_regular_file(prefix / "lib/cmake/weft/weft-cuda-targets.cmake"));
#endif
    // Exactly the plugin headers (docs/plugins.md, "The header set"): none of the host's own.
    const std::set<std::string> expected{
        "weft/attributes.h", "weft/channel_permutation.h", "weft/checked_arithmetic.h", "weft/collective.h",
        "weft/convolution.h",
        "weft/device.h",     "weft/error.h",               "weft/graph.h",              "weft/graph_pass.h",
        "weft/kernel.h",     "weft/op_schema.h",           "weft/optimizer_kernel.h",   "weft/plugin.h",
        "weft/schema_helpers.h", "weft/tensor.h",          "weft/value_readers.h",      "weft/weights.h",            "weft/cpu/cpu_device.h",
        "weft/cpu/affine_items.h",
        "weft/cpu/onednn_kernel.h", "weft/testing/op_check.h", "weft/testing/gtest.h", "weft/testing/device_arena.h"};
    std::set<std::string> installed = files_under(prefix / "include");
#ifdef WEFT_TEST_CUDA_INCLUDE
    for (const char* header : {"weft/cuda/caching_allocator.h", "weft/cuda/cuda_check.h", "weft/cuda/cuda_device.h",
                               "weft/cuda/convolution_algorithm_cache.h", "weft/cuda/cudnn_convolution.h"})
        EXPECT_EQ(installed.erase(header), 1u) << header;
#endif
    EXPECT_EQ(installed, expected);
}

TEST_F(SdkInstall, EveryPublicHeaderCompilesOnItsOwn) {
    for (const std::string& header : files_under(prefix / "include")) {
        const fs::path source = root / "one_header.cpp";
        std::ofstream(source) << "#include \"" << header << "\"\n";
        std::string includes = " -I" + quoted(prefix / "include");
#ifdef WEFT_TEST_CUDA_INCLUDE
        // The CUDA backend's headers include CUDA's own (cuda_runtime.h, cudnn.h, cublas_v2.h).
        std::stringstream dirs(WEFT_TEST_CUDA_INCLUDE);
        for (std::string dir; std::getline(dirs, dir, '|');) includes += " -I" + quoted(fs::path(dir));
#endif
        const Result r = sh(quoted(WEFT_TEST_CXX) + " -std=c++20 -fsyntax-only" + includes + " " + quoted(source));
        EXPECT_EQ(r.status, 0) << header << ":\n" << r.out;
    }
}

TEST_F(SdkInstall, APluginWrittenForAnotherAbiFailsToCompileNamingBothVersions) {
    const fs::path source = root / "old_plugin.cpp";
    std::ofstream(source) << "#include \"weft/plugin.h\"\nWEFT_PLUGIN(\"old\", \"1\") {}\n";
    const Result r = sh(quoted(WEFT_TEST_CXX) + " -std=c++20 -fsyntax-only -DWEFT_PLUGIN_ABI_REQUIRED=99 -I" +
                        quoted(prefix / "include") + " " + quoted(source));
    EXPECT_NE(r.status, 0);
    const std::string check = "PluginAbiCheck<99, " + std::to_string(weft::kPluginAbiVersion) + ">";
    EXPECT_NE(r.out.find(check), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("requires another weft plugin ABI"), std::string::npos) << r.out;
}

TEST_F(SdkInstall, ThePluginsCommandListsTheExampleAsAddedWithItsKernels) {
    const Result r = run_weft(prefix, "plugins", plugin_env());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("separable_group_conv"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find((example_build / "libweft_separable_group_conv.so").string() + " [added]"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("* cpu   onednn     priority 0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  cpu   reference  priority -1"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("refused"), std::string::npos) << r.out;

    const Result forced = run_weft(prefix, "plugins --kernel separable_group_conv=reference", plugin_env());
    EXPECT_NE(forced.out.find("* cpu   reference  priority -1"), std::string::npos) << forced.out;
    EXPECT_NE(forced.out.find("(forced by --kernel)"), std::string::npos) << forced.out;
}

TEST_F(SdkInstall, TheExampleOperatorComputesItsDefinition) {
    const fs::path graph = write_single_node_graph(root);
    const std::vector<Case> cases{
        {2, 4, 7, 9, 6, 2, 1, 1, 1, 1},   // partitions, same size
        {1, 6, 8, 7, 9, 3, 2, 2, 1, 1},   // stride 2, odd width
        {1, 4, 6, 6, 8, 1, 1, 2, 0, 1},   // one partition, no row padding, strided columns
    };
    for (const Case& p : cases) {
        const std::string sets = " --set c=" + std::to_string(p.c) + " --set h=" + std::to_string(p.h) +
                                 " --set w=" + std::to_string(p.w) + " --set out=" + std::to_string(p.out) +
                                 " --set groups=" + std::to_string(p.groups) + " --set sh=" + std::to_string(p.sh) +
                                 " --set sw=" + std::to_string(p.sw) + " --set ph=" + std::to_string(p.ph) +
                                 " --set pw=" + std::to_string(p.pw);
        SCOPED_TRACE(sets);
        const fs::path weights = root / "sep.safetensors", input = root / "x.npy";
        ASSERT_EQ(run_weft(prefix, "init " + quoted(graph) + sets + " --seed 7 -o " + quoted(weights), plugin_env()).status, 0);
        weft::save_npy(input, weft::random_normal({weft::DType::f32, {p.n, p.c, p.h, p.w}, weft::Layout::row_major}, 11));

        const weft::Tensor x = weft::load_npy(input);
        const weft::WeightMap w = weft::load_safetensors(weights);
        ASSERT_EQ(w.at("sep.weight_v").shape(), (weft::Shape{p.out, p.c / p.groups, 3, 1}));
        ASSERT_EQ(w.at("sep.weight_h").shape(), (weft::Shape{p.out, p.out / p.groups, 1, 3}));
        const std::vector<double> want =
            separable_reference(p, x.as<float>(), w.at("sep.weight_v").as<float>(), w.at("sep.weight_h").as<float>());

        for (const std::string kernel : {"onednn", "reference"}) {
            const fs::path output = root / ("y_" + kernel + ".npy");
            const Result r = run_weft(prefix,
                                  "run " + quoted(graph) + sets + " --weights " + quoted(weights) + " --input " +
                                      quoted(input) + " --output " + quoted(output) +
                                      " --kernel separable_group_conv=" + kernel,
                                  plugin_env());
            ASSERT_EQ(r.status, 0) << r.out;
            const weft::Tensor y = weft::load_npy(output);
            ASSERT_EQ(y.numel(), static_cast<std::int64_t>(want.size())) << kernel;
            double worst = 0;
            for (std::size_t i = 0; i < want.size(); ++i)
                worst = std::max(worst, std::abs(y.as<float>()[i] - want[i]) / (1.0 + std::abs(want[i])));
            EXPECT_LT(worst, 1e-4) << kernel;
        }
    }
}

TEST_F(SdkInstall, TheSchemaCountsParamsAndMultiplyAddsOfBothKernels) {
    const fs::path graph = write_single_node_graph(root);
    const Result r = run_weft(prefix, "stats " + quoted(graph) + " --json --set sh=2", plugin_env());
    ASSERT_EQ(r.status, 0) << r.out;
    const auto node = nlohmann::json::parse(r.out)["nodes"][0];
    // C=4, out=6, G=2, 7×9 input, stride [2, 1]: Ho = 4, Wo = 9, intermediate 4×9.
    EXPECT_EQ(node["params"], 6 * 2 * 3 + 6 * 3 * 3);
    EXPECT_EQ(node["macs"], 6 * 4 * 9 * (2 * 3) + 6 * 4 * 9 * (3 * 3));
}

TEST_F(SdkInstall, TheExampleNetworkRunsByIdFromItsOwnGraphDirectory) {
    const Result r = run_weft(prefix, "run igc-sep-l24m2-d8 --batch 2 --threads 2",
                          plugin_env() + " WEFT_GRAPH_PATH=" + quoted(example_source / "graphs"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("graph igc-sep-l24m2-d8"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("output head.prob: f32[2, 10]"), std::string::npos) << r.out;
}

TEST_F(SdkInstall, AMovedPrefixRunsWithItsOwnPluginsAndTheExample) {
    // The original prefix disappears, so nothing can come from it (or from the build tree).
    const fs::path moved = root / "moved";
    fs::rename(prefix, moved);
    const Result plugins = run_weft(moved, "plugins --json", plugin_env());
    const Result run = run_weft(moved, "run igc-sep-l24m2-d8 --batch 1",
                            plugin_env() + " WEFT_GRAPH_PATH=" + quoted(example_source / "graphs"));
    const Result zoo = run_weft(moved, "run igc-l24m2-d8 --batch 1");
    fs::rename(moved, prefix);

    ASSERT_EQ(plugins.status, 0) << plugins.out;
    const auto json = nlohmann::json::parse(plugins.out);
    EXPECT_TRUE(json["refused"].empty()) << json["refused"].dump();
    EXPECT_EQ(json["default_directory"], (moved / "lib/weft/plugins").string());
    for (const auto& library : json["libraries"]) {
        const std::string path = library["path"];
        EXPECT_TRUE(path.starts_with(moved.string()) || path.starts_with(example_build.string())) << path;
    }
    EXPECT_EQ(run.status, 0) << run.out;
    EXPECT_EQ(zoo.status, 0) << zoo.out;
}

TEST_F(SdkInstall, InstalledIntoTheWeftPrefixTheExampleNeedsNoEnvironment) {
    const fs::path copy = root / "with-example";
    fs::copy(prefix, copy, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    ASSERT_EQ(sh(quoted(WEFT_TEST_CMAKE) + " --install " + quoted(example_build) + " --prefix " + quoted(copy)).status, 0);
    EXPECT_TRUE(fs::is_regular_file(copy / "lib/weft/plugins/libweft_separable_group_conv_cpu.so"));
    const Result r = run_weft(copy, "run igc-sep-l24m2-d8 --batch 1");
    EXPECT_EQ(r.status, 0) << r.out;
    const Result plugins = run_weft(copy, "plugins");
    EXPECT_NE(plugins.out.find("added (--plugin-path, WEFT_PLUGIN_PATH): none"), std::string::npos) << plugins.out;
    EXPECT_NE(plugins.out.find("libweft_separable_group_conv_cpu.so ("), std::string::npos) << plugins.out;
}

TEST_F(SdkInstall, TheExampleTestsPassOnTheInstalledTestingLibrary) {
    const Result r = sh(ctest(example_build));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("separable_group_conv_test"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("100% tests passed, 0 tests failed out of 1"), std::string::npos) << r.out;
}

// ---------------------------------------------------------------------------------------------
// docs/plugins.md, followed to the letter

TEST_F(SdkInstall, PluginsMdShowsEveryFileOfItsTutorial) {
    std::set<std::string> names;
    for (const auto& [name, text] : plugins_md.files) names.insert(name);
    EXPECT_EQ(names, (std::set<std::string>{"CMakeLists.txt", "leaky_relu.cpp", "leaky_relu_test.cpp",
                                            "reverse_channels.cpp", "tiny_leaky.yaml", "tiny_reverse.yaml"}));
    EXPECT_EQ(plugins_md.outputs.size(), 1u);
}

TEST_F(SdkInstall, ThePluginsOfPluginsMdLoadAndTheirTestPassesOnTheInstalledTestingLibrary) {
    const Result plugins = run_weft(prefix, "plugins", tutorial_env());
    ASSERT_EQ(plugins.status, 0) << plugins.out;
    EXPECT_NE(plugins.out.find("ops leaky_relu; kernels leaky_relu/cpu/loops"), std::string::npos) << plugins.out;
    EXPECT_NE(plugins.out.find("ops reverse_channels; kernels reverse_channels/cpu/copies"), std::string::npos)
        << plugins.out;
    EXPECT_EQ(plugins.out.find("refused"), std::string::npos) << plugins.out;
    const Result tests = sh(ctest(tutorial_build));
    EXPECT_EQ(tests.status, 0) << tests.out;
    EXPECT_NE(tests.out.find("100% tests passed, 0 tests failed out of 1"), std::string::npos) << tests.out;
}

TEST_F(SdkInstall, TheCommandsOfPluginsMdPrintWhatItSays) {
    for (const auto& [args, text] : plugins_md.outputs) {
        const Result r = run_weft(prefix, args, tutorial_env());
        EXPECT_EQ(r.status, 0) << args;
        EXPECT_EQ(r.out, text) << "weft " << args;
    }
    const std::string graph = quoted(tutorial / "tiny_leaky.yaml");
    const Result check = run_weft(prefix, "check " + graph, tutorial_env());
    EXPECT_NE(check.out.find("ok: tiny_leaky — 6 nodes, 602 params"), std::string::npos) << check.out;
    const Result stats = run_weft(prefix, "stats " + graph + " --json", tutorial_env());
    ASSERT_EQ(stats.status, 0) << stats.out;
    for (const auto& node : nlohmann::json::parse(stats.out)["nodes"])
        if (node["name"] == "act") EXPECT_EQ(node["macs"], 16384);
    const Result run = run_weft(prefix, "run " + graph + " --batch 4", tutorial_env());
    EXPECT_NE(run.out.find("output head.prob: f32[4, 10]"), std::string::npos) << run.out;
    const Result wrong = run_weft(prefix, "run " + graph + " --set slope=-1", tutorial_env());
    EXPECT_EQ(wrong.status, 2);
    EXPECT_NE(wrong.out.find("tiny_leaky.yaml:11:5: node 'act': attribute 'slope' = -1 is out of range: expected at "
                             "least 0"),
              std::string::npos)
        << wrong.out;
}

TEST_F(SdkInstall, BatchNormFoldsThroughThePermutationOfPluginsMdDeclaredByItsTrait) {
    const Result r = run_weft(prefix, "run " + quoted(tutorial / "tiny_reverse.yaml"), tutorial_env());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("fold_batch_norm ×1, fuse_relu ×1"), std::string::npos) << r.out;
}

TEST_F(SdkInstall, TheGradientCheckOfPluginsMdCatchesABackwardThatForgetsTheSlope) {
    const fs::path wrong = root / "tutorial-wrong";
    write_tutorial(plugins_md, wrong);
    std::string source = read_text(wrong / "leaky_relu.cpp");
    const std::string right_line = "dx[i] = y[i] > 0 ? dy[i] : slope_ * dy[i];";
    const std::size_t at = source.find(right_line);
    ASSERT_NE(at, std::string::npos) << "docs/plugins.md's backward changed: " << source;
    std::ofstream(wrong / "leaky_relu.cpp", std::ios::binary) << source.replace(at, right_line.size(), "dx[i] = dy[i];");
    ASSERT_EQ(sh(configure(wrong, wrong / "build", prefix, kWithoutOneDnn)).status, 0);
    ASSERT_EQ(sh(build(wrong / "build")).status, 0);
    const Result r = sh(ctest(wrong / "build"));
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("forward: ok"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("backward: the backward of loops (libweft_leaky_relu.so) differs from central differences "
                         "(step 0.01): dL/d(input 0) element"),
              std::string::npos)
        << r.out;
}

// ---------------------------------------------------------------------------------------------
// The CMake package's components

// A project that finds weft with `find` and reports the targets and components it got.
fs::path probe_project(const fs::path& dir, const std::string& find) {
    fs::create_directories(dir);
    std::ofstream(dir / "CMakeLists.txt") << "cmake_minimum_required(VERSION 3.25)\nproject(probe LANGUAGES CXX)\n" << find
                                          << "\nforeach(t weft::sdk weft::testing weft::cpu weft::cuda)\n"
                                             "  if(TARGET ${t})\n    message(STATUS \"target ${t}\")\n  endif()\n"
                                             "endforeach()\n"
                                             "message(STATUS \"cpu: ${weft_cpu_FOUND}; cuda: ${weft_cuda_FOUND}\")\n";
    return dir;
}

TEST_F(SdkInstall, ThePackageAsksForOneDnnOnlyWhenTheCpuComponentIsAskedFor) {
    const fs::path plain = probe_project(root / "probe-plain", "find_package(weft 0.1 REQUIRED)");
    const Result without = sh(configure(plain, plain / "build", prefix, kWithoutOneDnn));
    ASSERT_EQ(without.status, 0) << without.out;
    EXPECT_NE(without.out.find("target weft::sdk"), std::string::npos) << without.out;
    EXPECT_NE(without.out.find("target weft::testing"), std::string::npos) << without.out;
    EXPECT_EQ(without.out.find("target weft::cpu"), std::string::npos) << without.out;

    const fs::path cpu = probe_project(root / "probe-cpu", "find_package(weft 0.1 REQUIRED COMPONENTS cpu)");
    const Result with = sh(configure(cpu, cpu / "build", prefix));
    ASSERT_EQ(with.status, 0) << with.out;
    EXPECT_NE(with.out.find("target weft::cpu"), std::string::npos) << with.out;
    // With oneDNN's package hidden the same project stops, naming it: so hiding it is real.
    const Result hidden = sh(configure(cpu, root / "probe-cpu-hidden", prefix, kWithoutOneDnn));
    EXPECT_NE(hidden.status, 0);
    EXPECT_NE(hidden.out.find("the cpu component needs the dnnl package, which was not found"), std::string::npos)
        << hidden.out;
}

TEST_F(SdkInstall, OptionalComponentsThatCannotBeProvidedAreReportedNotFound) {
    const fs::path dir =
        probe_project(root / "probe-optional", "find_package(weft 0.1 REQUIRED OPTIONAL_COMPONENTS cpu cuda)");
    const Result r = sh(configure(dir, dir / "build", prefix, kWithoutOneDnn));
    ASSERT_EQ(r.status, 0) << r.out;
#ifdef WEFT_TEST_CUDA_INCLUDE
    EXPECT_NE(r.out.find("cpu: FALSE; cuda: TRUE"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("target weft::cuda"), std::string::npos) << r.out;
#else
    EXPECT_NE(r.out.find("cpu: FALSE; cuda: FALSE"), std::string::npos) << r.out;
#endif
    const fs::path unknown = probe_project(root / "probe-unknown", "find_package(weft 0.1 REQUIRED COMPONENTS gpu)");
    const Result refused = sh(configure(unknown, unknown / "build", prefix));
    EXPECT_NE(refused.status, 0);
    EXPECT_NE(refused.out.find("weft: unknown component 'gpu' (components: cpu, cuda)"), std::string::npos) << refused.out;
}
