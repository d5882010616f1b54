// Kernel overrides and refusals as the `weft` command shows them: the highest priority wins,
// --kernel forces a choice (in `weft run` and in what `weft plugins` stars), and a library built
// for another plugin ABI is refused with a reason naming both versions. Fixture libraries come
// from tests/plugins; each lives in a directory of its own.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "cli_harness.h"
#include <nlohmann/json.hpp>

#include "weft/npy.h"
#include "weft/plugin.h"

namespace fs = std::filesystem;

namespace {

using Result = weft::testing::CommandResult;  // out holds stdout and stderr together

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_plugin_cli_test");
    return dir.path();
}

std::string fixtures(std::initializer_list<const char*> names) {
    std::string dirs;
    for (const char* name : names)
        dirs += (dirs.empty() ? "" : ":") + (fs::path(WEFT_TEST_BINARY_DIR) / "tests/plugin_fixtures" / name).string();
    return dirs;
}

Result run_weft(const std::string& args, const std::string& env = "") {
    return weft::testing::run_weft(args, work_dir(), {.env = env, .streams = weft::testing::Streams::merged});
}

// y = 3·x through test_scale on x = [1, 2, 3, 4]; returns y[0] as the chosen kernel wrote it.
float scaled_first_value(const std::string& options) {
    const fs::path graph = work_dir() / "scale.yaml", input = work_dir() / "x.npy", output = work_dir() / "y.npy";
    std::ofstream(graph) << "family: scale\ninputs:\n  - {name: data, shape: [4]}\n"
                            "graph:\n  - {op: test_scale, name: scale, factor: 3.0}\n";
    weft::Tensor x({weft::DType::f32, {1, 4}, weft::Layout::row_major});
    for (int i = 0; i < 4; ++i) x.as<float>()[i] = float(i + 1);
    weft::save_npy(input, x);
    fs::remove(output);
    const Result r = run_weft("run " + graph.string() + " --input " + input.string() + " --output " + output.string() +
                          " " + options);
    EXPECT_EQ(r.status, 0) << r.out;
    return r.status == 0 ? weft::load_npy(output).as<float>()[0] : -1.0f;
}

}  // namespace

TEST(PluginCli, TheHighestPriorityKernelIsStarredAndRuns) {
    const Result r = run_weft("plugins --plugin-path " + fixtures({"good", "marked"}));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("* cpu   marked     priority 5"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  cpu   reference  priority 0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("libweft_marked.so [added]"), std::string::npos) << r.out;
    EXPECT_FLOAT_EQ(scaled_first_value("--plugin-path " + fixtures({"good", "marked"})), 4.0f);  // 3·1 + 1
}

TEST(PluginCli, KernelOptionForcesTheChoiceInRunAndInThePluginsListing) {
    const std::string path = "--plugin-path " + fixtures({"good", "marked"});
    EXPECT_FLOAT_EQ(scaled_first_value(path + " --kernel test_scale=good"), 3.0f);       // by library
    EXPECT_FLOAT_EQ(scaled_first_value(path + " --kernel test_scale=reference"), 3.0f);  // by kernel name
    const Result r = run_weft("plugins " + path + " --kernel test_scale=weft_good --json");
    ASSERT_EQ(r.status, 0) << r.out;
    const auto kernels = nlohmann::json::parse(r.out)["ops"]["test_scale"]["kernels"];
    ASSERT_EQ(kernels.size(), 2u);
    for (const auto& k : kernels) EXPECT_EQ(k["chosen"], k["name"] == "reference") << k.dump();
}

TEST(PluginCli, AnUnknownForcedKernelIsAOneLineErrorListingTheCandidates) {
    const Result r = run_weft("run igc-l24m2-d8 --kernel group_conv=nowhere");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("no such cpu kernel (available: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(weft_group_conv_cpu)"), std::string::npos) << r.out;
}

TEST(PluginCli, ALibraryForAnotherAbiIsRefusedWithBothVersions) {
    const Result r = run_weft("plugins --plugin-path " + fixtures({"wrong_abi", "no_entry"}));
    ASSERT_EQ(r.status, 0) << r.out;
    const std::string abi = std::to_string(weft::kPluginAbiVersion);
    const std::string wrong = std::to_string(weft::kPluginAbiVersion + 98);
    EXPECT_NE(r.out.find("refused (2):"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("libweft_wrong_abi.so: built for plugin ABI " + wrong + ", but this weft loads plugin ABI " + abi +
                         " only"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("libweft_no_entry.so: has no weft_plugin_entry symbol"), std::string::npos) << r.out;
    // Refused libraries take nothing down with them: the built-in plugins still load and run.
    EXPECT_EQ(run_weft("run igc-l24m2-d8 --plugin-path " + fixtures({"wrong_abi"})).status, 0);
}

TEST(PluginCli, AGraphFileIncludesBlockLibrariesFromTheGraphSearchPath) {
    // A plugin's block library installed in a graph directory, and a family file elsewhere.
    const fs::path library_dir = work_dir() / "plugin_graphs", family_dir = work_dir() / "elsewhere";
    fs::create_directories(library_dir / "blocks");
    fs::create_directories(family_dir);
    std::ofstream(library_dir / "blocks/scaled.yaml")
        << "blocks:\n  scaled:\n    args: {factor: 2.0}\n    body:\n"
           "      - {op: test_scale, name: scale, factor: \"${factor}\"}\n";
    const fs::path family = family_dir / "uses_scaled.yaml";
    std::ofstream(family) << "family: uses_scaled\ninclude: [blocks/scaled.yaml, blocks/common.yaml]\n"
                             "inputs:\n  - {name: data, shape: [4]}\ngraph:\n  - {block: scaled, name: s, factor: 5.0}\n";
    const std::string plugins = " --plugin-path " + fixtures({"good"});

    const Result found = run_weft("check " + family.string() + plugins, "WEFT_GRAPH_PATH=" + library_dir.string());
    EXPECT_EQ(found.status, 0) << found.out;
    EXPECT_NE(found.out.find("ok: uses_scaled — 1 nodes"), std::string::npos) << found.out;

    // Without the directory, the error names every place it looked.
    const Result missing = run_weft("check " + family.string() + plugins);
    EXPECT_EQ(missing.status, 2) << missing.out;
    EXPECT_NE(missing.out.find("include 'blocks/scaled.yaml' not found (looked for " +
                               (family_dir / "blocks/scaled.yaml").string() + ", "),
              std::string::npos)
        << missing.out;
    EXPECT_NE(missing.out.find("share/weft/graphs/blocks/scaled.yaml"), std::string::npos) << missing.out;
}
