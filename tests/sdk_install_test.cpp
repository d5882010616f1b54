// The plugin SDK as a stranger meets it: weft installed into a fresh prefix, the example plugin
// (examples/separable_primary_conv) configured and built out of tree with find_package(weft),
// and the installed `weft` running it — checked against the operator's definition computed here.
//
// One ctest entry runs every test below in one process: the install and the example build
// happen once (SetUpTestSuite), in a temporary directory removed at the end.
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

#include "weft/npy.h"
#include "weft/plugin.h"
#include "weft/weights.h"
#include "cli_harness.h"

namespace fs = std::filesystem;

namespace {

struct Result {
    int status = -1;
    std::string out;  // stdout and stderr together
};

using weft::testing::read_text;

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

class SdkInstall : public ::testing::Test {
protected:
    static inline fs::path root, prefix, example_build, example_source;
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
        const std::string cmake = quoted(WEFT_TEST_CMAKE);
        ready = step("install", sh(cmake + " --install " + quoted(WEFT_TEST_BINARY_DIR) + " --prefix " + quoted(prefix))) &&
                step("configure the example",
                     sh(cmake + " -S " + quoted(example_source) + " -B " + quoted(example_build) + " -G " +
                        quoted(WEFT_TEST_GENERATOR) + " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + quoted(prefix))) &&
                step("build the example", sh(cmake + " --build " + quoted(example_build) + " -j 2"));
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
    for (const char* f : {"weftConfig.cmake", "weftConfigVersion.cmake", "weft-targets.cmake", "WeftPlugin.cmake"})
        EXPECT_TRUE(fs::is_regular_file(prefix / "lib/cmake/weft" / f)) << f;
    // Exactly the plugin headers (docs/plugins.md, "The header set"): none of the host's own.
    const std::set<std::string> expected{
        "weft/attributes.h", "weft/channel_permutation.h", "weft/checked_arithmetic.h", "weft/convolution.h",
        "weft/device.h",     "weft/error.h",               "weft/graph.h",              "weft/graph_pass.h",
        "weft/kernel.h",     "weft/op_schema.h",           "weft/optimizer_kernel.h",   "weft/plugin.h",
        "weft/schema_helpers.h", "weft/tensor.h",          "weft/weights.h",            "weft/cpu/cpu_device.h",
        "weft/cpu/onednn_kernel.h"};
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
