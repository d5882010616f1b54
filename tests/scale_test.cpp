// A graph of 100,000 nodes (the most a graph file may expand to) is checked and run in seconds:
// every step on the way — expanding unnamed nodes, shape inference, the topological order, each
// graph pass asking who reads a value, memory planning, compiling — is linear or n log n. One
// quadratic step (fuse_relu scanned the whole graph for the readers of each relu's input) turns
// this into hours, so the bound below, generous as it is, fails it.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <gtest/gtest.h>

#include "cli_harness.h"

namespace fs = std::filesystem;
using weft::testing::CommandResult;

namespace {

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_scale_test");
    return dir.path();
}

// 50,000 × (batch_norm, relu), every node unnamed: 100,000 nodes. fold_batch_norm looks for the
// producer of each batch norm, fuse_batch_norm_relu fuses every pair, fuse_relu looks at every
// relu — each asking how often a value is used.
fs::path long_graph() {
    const fs::path p = work_dir() / "long.yaml";
    std::ofstream(p) << "family: long\ninputs:\n  - {name: data, shape: [2, 1, 1]}\ngraph:\n"
                        "  - repeat: 50000\n    body:\n      - {op: batch_norm}\n      - {op: relu}\n";
    return p;
}

// Generous for a loaded 2-core machine; the quadratic passes took far longer than this.
constexpr double kBoundSeconds = 120;

struct Timed {
    CommandResult result;
    double seconds;
};

Timed timed_weft(const std::string& args) {
    const auto start = std::chrono::steady_clock::now();
    CommandResult r = weft::testing::run_weft(args, work_dir(), {.timeout_seconds = 2 * static_cast<int>(kBoundSeconds)});
    return {std::move(r), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

}  // namespace

TEST(Scale, AHundredThousandNodeGraphIsCheckedAndRunWithinABound) {
    const fs::path graph = long_graph();
    const Timed check = timed_weft("check " + graph.string());
    ASSERT_EQ(check.result.status, 0) << check.result.err;
    EXPECT_NE(check.result.out.find("100000 nodes"), std::string::npos) << check.result.out;
    EXPECT_LT(check.seconds, kBoundSeconds);

    const Timed run = timed_weft("run " + graph.string() + " --batch 1 --json");
    ASSERT_EQ(run.result.status, 0) << run.result.err;
    // Every pair fused: 50,000 batch norms with their relu folded in.
    EXPECT_NE(run.result.out.find("fuse_batch_norm_relu"), std::string::npos) << run.result.out.substr(0, 2000);
    EXPECT_LT(run.seconds, kBoundSeconds);
    std::cout << "check: " << check.seconds << " s, run: " << run.seconds << " s\n";
}
