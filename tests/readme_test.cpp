// The README's `weft` commands, run as written, in order, from a directory laid out as the
// README assumes (the repository's graphs/ beside it). A README whose commands have drifted from
// what weft does — a renamed option, a changed default, a refused file name — fails here, not in
// a new user's first hour. The set-up commands (scripts/main-job.sh, scripts/test.sh) are what CI
// and its clean-machine stage run.
//
// Two things are added, and only these: the inputs the README expects the user to bring
// (`images.npy`, a second run `runs/fashion2` to compare with), and, on the one training command
// that takes an hour as written, `--limit-train`/`--limit-test` so that it takes seconds. Each is
// printed with the command it changed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_harness.h"
#include "weft/npy.h"
#include "weft/weights.h"

namespace weft {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::read_text;
using testing::ScratchDirectory;
using testing::shell_quote;

constexpr const char* kRunner = "build/bin/weft";
const char* const kLongRunLimits = " --limit-train 128 --limit-test 128";

// The `build/bin/weft …` commands of README.md's shell blocks, continuation lines joined and
// trailing comments dropped, in the order the README gives them.
std::vector<std::string> readme_commands(const std::string& readme) {
    std::vector<std::string> commands;
    bool in_block = false;
    std::string pending;
    std::size_t pos = 0;
    while (pos < readme.size()) {
        std::size_t end = readme.find('\n', pos);
        if (end == std::string::npos) end = readme.size();
        std::string line = readme.substr(pos, end - pos);
        pos = end + 1;
        if (line.rfind("```", 0) == 0) {
            in_block = !in_block;
            continue;
        }
        if (!in_block) continue;
        if (!pending.empty()) {
            line = pending + " " + line.substr(line.find_first_not_of(' '));
            pending.clear();
        }
        if (line.rfind(kRunner, 0) != 0) continue;
        if (const std::size_t comment = line.find(" #"); comment != std::string::npos) line.resize(comment);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        if (!line.empty() && line.back() == '\\') {
            line.pop_back();
            while (!line.empty() && line.back() == ' ') line.pop_back();
            pending = line;
            continue;
        }
        commands.push_back(line.substr(std::string(kRunner).size() + 1));
    }
    return commands;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(Readme, ShowsTheTourItsProseDescribes) {
    const std::vector<std::string> commands = readme_commands(read_text(fs::path(WEFT_TEST_SOURCE_DIR) / "README.md"));
    // The README's tour: more than a handful, and the ones its prose relies on.
    ASSERT_GE(commands.size(), 15u);
    int trains = 0;
    for (const std::string& c : commands) trains += c.rfind("train ", 0) == 0;
    EXPECT_GE(trains, 3) << "the README should show a smoke run, a full run and a resume";
}

TEST(Readme, EveryWeftCommandRunsAsWritten) {
    if (!fs::exists("/usr/share/datasets/fashion-mnist"))
        GTEST_SKIP() << "Fashion-MNIST is not installed (Debian's dataset-fashion-mnist; scripts/install-deps.sh "
                        "installs it): the README's training commands need it";
    const ScratchDirectory scratch("readme");
    const fs::path home = scratch.path();
    fs::create_directory_symlink(fs::path(WEFT_TEST_SOURCE_DIR) / "graphs", home / "graphs");
    // What the user brings: images for `run --input`, in the network's own shape.
    save_npy(home / "images.npy", random_normal(TensorDesc{DType::f32, {2, 3, 32, 32}}, 7));

    const std::vector<std::string> commands = readme_commands(read_text(fs::path(WEFT_TEST_SOURCE_DIR) / "README.md"));
    ASSERT_FALSE(commands.empty());
    for (std::string args : commands) {
        const bool long_training = args.rfind("train ", 0) == 0 && !contains(args, "--resume") &&
                                   !contains(args, "--limit-train");
        if (long_training) args += kLongRunLimits;
        // The comparison needs a second run: the smoke run, under the name the README uses.
        if (contains(args, "runs/fashion2") && !fs::exists(home / "runs/fashion2"))
            fs::copy(home / "runs/fashion-smoke", home / "runs/fashion2", fs::copy_options::recursive);
        SCOPED_TRACE("weft " + args + (long_training ? "   (limits added: the README's run takes an hour)" : ""));
        const auto start = std::chrono::steady_clock::now();
        const CommandResult r = testing::run_weft(args, home, {.timeout_seconds = 600, .directory = home});
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        std::printf("%7.1f s  weft %s\n", took.count(), args.c_str());  // where the test's time goes
        EXPECT_EQ(r.status, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
        if (r.status != 0) continue;
        // What the command says it made is there.
        for (const char* written : {"-o igc.html", "-o block.svg", "-o compare.svg", "-o w.safetensors", "-o igc.onnx",
                                    "--output logits.npy", "--confusion confusion.png"}) {
            if (!contains(args, written)) continue;
            const std::string file = std::string(written).substr(std::string(written).find(' ') + 1);
            EXPECT_TRUE(fs::is_regular_file(home / file)) << file << " was not written";
            EXPECT_GT(fs::file_size(home / file), 0u) << file;
        }
    }
    // The runs the README trains leave what it then evaluates and resumes.
    EXPECT_TRUE(fs::exists(home / "runs/fashion/best.safetensors"));
    EXPECT_TRUE(fs::exists(home / "runs/fashion-smoke/metrics.csv"));
    // A real PNG, as the name promises.
    const std::string png = read_text(home / "confusion.png");
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

}  // namespace
}  // namespace weft
