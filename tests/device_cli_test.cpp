// --device through the `weft` command: how a device is named, what every command that runs a
// graph does with it, which libraries a run opens for it (a CPU run never maps anything of
// CUDA's), and how the cuda backend shows where it cannot run: unavailable with the reason in
// `weft plugins`, one line and status 2 from a command asked to run on it.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_harness.h"
#include "op_harness.h"

namespace fs = std::filesystem;

namespace {

using Result = weft::testing::CommandResult;

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_device_cli_test");
    return dir.path();
}

fs::path fixture_dir(const std::string& name) { return fs::path(WEFT_TEST_BINARY_DIR) / "tests/plugin_fixtures" / name; }

Result run_weft(const std::string& args, const std::string& env = "") {
    return weft::testing::run_weft(args, work_dir(), {.env = env, .streams = weft::testing::Streams::merged});
}

// What the dynamic loader reports opening while `weft ARGS` runs (LD_DEBUG=files): one line per
// library, "file=<name> ...".
std::string libraries_opened(const std::string& args) {
    const fs::path log = work_dir() / "loader";
    for (const auto& entry : fs::directory_iterator(work_dir()))
        if (entry.path().filename().string().rfind("loader", 0) == 0) fs::remove(entry.path());
    run_weft(args, "LD_DEBUG=files LD_DEBUG_OUTPUT=" + log.string());
    std::string opened;
    for (const auto& entry : fs::directory_iterator(work_dir())) {
        if (entry.path().filename().string().rfind("loader", 0) != 0) continue;
        std::ifstream in(entry.path());
        for (std::string line; std::getline(in, line);)
            if (const auto at = line.find("file="); at != std::string::npos) opened += line.substr(at) + "\n";
    }
    return opened;
}

// Lines of `opened` naming a cuda library: a *_cuda.so plugin or CUDA's own runtime libraries.
std::vector<std::string> cuda_libraries_in(const std::string& opened) {
    std::vector<std::string> found;
    std::istringstream lines(opened);
    for (std::string line; std::getline(lines, line);) {
        const std::string name = line.substr(5, line.find_first_of(" ;") - 5);
        const std::string file = fs::path(name).filename().string();
        if (file.find("_cuda.so") != std::string::npos || file.rfind("libcudart", 0) == 0 ||
            file.rfind("libcudnn", 0) == 0 || file.rfind("libcublas", 0) == 0)
            found.push_back(file);
    }
    return found;
}

bool cuda_built() { return WEFT_TEST_HAVE_CUDA; }

}  // namespace

TEST(DeviceCli, AMalformedDeviceIsAOneLineErrorSayingWhatIsExpected) {
    for (const std::string spec : {"cuda:x", "cuda:", ":0", "Cuda", "cuda:1:2", "cuda:-1"}) {
        const Result r = run_weft("run --device '" + spec + "'");
        EXPECT_EQ(r.status, 2) << spec;
        EXPECT_EQ(r.out, "weft: error: --device '" + spec + "': expected cpu, cuda or cuda:N\n") << spec;
    }
    const Result cpu = run_weft("run --device cpu:1");
    EXPECT_EQ(cpu.status, 2);
    EXPECT_EQ(cpu.out, "weft: error: --device 'cpu:1': the cpu backend has one device (cpu or cpu:0)\n");
}

TEST(DeviceCli, EveryCommandThatRunsAGraphChecksTheDeviceBeforeAnythingElse) {
    const std::vector<std::string> commands = {
        "run", "bench", "stats --train", "plugins", "train --data cifar10:/nonexistent --out " + (work_dir() / "r").string(),
        "eval --weights /nonexistent.safetensors"};
    for (const std::string& command : commands) {
        const Result r = run_weft(command + " --device cuda:x");
        EXPECT_EQ(r.status, 2) << command;
        EXPECT_EQ(r.out, "weft: error: --device 'cuda:x': expected cpu, cuda or cuda:N\n") << command;
    }
}

TEST(DeviceCli, DeviceHelpListsTheBackendsWhoseLibrariesArePresent) {
    const std::string present = cuda_built() ? "cpu, cuda" : "cpu";
    for (const std::string command : {"run", "bench", "train", "eval", "stats", "plugins"}) {
        const Result r = run_weft(command + " --help");
        EXPECT_NE(r.out.find("cpu, cuda or cuda:N (libraries present: " + present + ")"), std::string::npos)
            << command << ":\n" << r.out;
    }
    const Result with_fake = run_weft("run --help", "WEFT_PLUGIN_PATH=" + fixture_dir("backends").string());
    EXPECT_NE(with_fake.out.find("(libraries present: " + present + ", fake)"), std::string::npos) << with_fake.out;
}

TEST(DeviceCli, ACpuRunOpensNoCudaLibraryAndACudaRunOpensTheBackend) {
    const std::string cpu_run = libraries_opened("run --batch 1 --device cpu");
    ASSERT_NE(cpu_run.find("libweft_backend_cpu.so"), std::string::npos) << "no loader log:\n" << cpu_run;
    EXPECT_EQ(cuda_libraries_in(cpu_run), std::vector<std::string>{}) << "a cpu run opened CUDA's libraries";
    EXPECT_EQ(cuda_libraries_in(libraries_opened("stats igc-l24m2-d8")), std::vector<std::string>{});
    if (!cuda_built()) GTEST_SKIP() << "the cuda backend is not built here: nothing of CUDA's exists to be opened";
    const std::string cuda_run = libraries_opened("run --batch 1 --device cuda");
    EXPECT_NE(cuda_run.find("libweft_backend_cuda.so"), std::string::npos) << cuda_run;
    EXPECT_NE(cuda_run.find("libcudart"), std::string::npos) << cuda_run;
}

TEST(DeviceCli, PluginsListsTheCudaBackendAndEveryCudaKernelWithWhetherItCanRunHere) {
    if (!cuda_built()) GTEST_SKIP() << "the cuda backend is not built here";
    const std::string why = weft::testing::cuda_unavailable_reason();
    const Result r = run_weft("plugins --json");
    ASSERT_EQ(r.status, 0) << r.out;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["backends"]["cuda"], why.empty() ? "available" : "unavailable: " + why);
    int cuda_kernels = 0;
    for (const auto& [op, entry] : j["ops"].items())
        for (const auto& k : entry["kernels"])
            if (k["backend"] == "cuda") {
                ++cuda_kernels;
                EXPECT_EQ(k["available"], why.empty()) << op << ": " << k.dump();
                EXPECT_EQ(k["reason"], why) << op << ": " << k.dump();
            }
    bool sgd_on_cuda = false;
    for (const auto& k : j["optimizers"]["sgd"]["kernels"])
        if (k["backend"] == "cuda") {
            sgd_on_cuda = true;
            ++cuda_kernels;
            EXPECT_EQ(k["available"], why.empty()) << k.dump();
            EXPECT_EQ(k["reason"], why) << k.dump();
        }
    EXPECT_TRUE(sgd_on_cuda) << "no cuda kernel of the sgd optimiser:\n" << r.out;
    const Result text = run_weft("plugins");
    if (why.empty()) {
        EXPECT_NE(text.out.find("  cuda     available\n"), std::string::npos) << text.out;
    } else {
        EXPECT_NE(text.out.find("  cuda     unavailable: " + why + "\n"), std::string::npos) << text.out;
        std::size_t marked = 0;
        for (auto at = text.out.find("— unavailable: " + why); at != std::string::npos;
             at = text.out.find("— unavailable: " + why, at + 1))
            ++marked;
        EXPECT_EQ(marked, static_cast<std::size_t>(cuda_kernels)) << text.out;
    }
}

TEST(DeviceCli, RunningOnCudaWhereItCannotRunIsOneLineNamingTheReasonAndStatus2) {
    const std::string why = cuda_built() ? weft::testing::cuda_unavailable_reason()
                                         : "no plugin provides that backend (loaded: cpu)";
    if (why.empty()) GTEST_SKIP() << "the cuda backend runs here";
    const std::string expected = "weft: error: device 'cuda' is not available: " + why + "\n";
    const Result run = run_weft("run --device cuda");
    EXPECT_EQ(run.status, 2);
    EXPECT_EQ(run.out, expected);
    // Before any data is read: the dataset named here does not exist.
    const Result train = run_weft("train igc-l24m2-d8 --data cifar10:/nonexistent --device cuda --out " +
                                  (work_dir() / "never").string());
    EXPECT_EQ(train.status, 2);
    EXPECT_EQ(train.out, expected);
}

TEST(DeviceCli, ACudaLibraryWhoseDependenciesAreMissingIsRefusedNotACrash) {
    const std::string plugin_path = " --plugin-path " + fixture_dir("missing_dependency").string();
    const Result listed = run_weft("plugins" + plugin_path);
    ASSERT_EQ(listed.status, 0) << listed.out;
    EXPECT_NE(listed.out.find("libweft_orphan_cuda.so: cannot be loaded as a shared library"), std::string::npos)
        << listed.out;
    EXPECT_NE(listed.out.find("libweft_fixture_absent.so"), std::string::npos) << listed.out;
    const Result run = run_weft("run --batch 1 --device cpu" + plugin_path);
    EXPECT_EQ(run.status, 0) << run.out;
}
