// scripts/torch_train_reference.py, the PyTorch twin of `weft train` used to check what a
// training recipe itself can reach (docs/results.md): it must rebuild the graph weft describes,
// start from weft's initial weights, learn, write weft's metrics.csv columns, and refuse bad
// input with a message naming the file or tensor. Skipped where no Python with torch is found.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_harness.h"

namespace {

namespace fs = std::filesystem;
using weft::testing::CommandResult;
using weft::testing::read_text;
using weft::testing::shell_quote;
using weft::testing::torch_python;

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_torch_train_reference_test");
    return dir.path();
}

// The official CIFAR-10 layout, 48 images per file, brightness telling the class apart.
fs::path write_cifar(const std::string& name) {
    const fs::path dir = work_dir() / name;
    fs::create_directories(dir);
    std::mt19937 rng(7);
    auto write = [&](const std::string& file) {
        std::ofstream out(dir / file, std::ios::binary);
        for (int i = 0; i < 48; ++i) {
            const int label = i % 10;
            out.put(static_cast<char>(label));
            for (int k = 0; k < 3072; ++k) out.put(static_cast<char>(label * 24 + rng() % 24));
        }
    };
    for (int b = 1; b <= 5; ++b) write("data_batch_" + std::to_string(b) + ".bin");
    write("test_batch.bin");
    return dir;
}

// The small IGC network both sides train: weft's graph description and its initial weights.
struct Network {
    fs::path graph_json, init;
};

const Network& network() {
    static const Network net = [] {
        Network n{work_dir() / "net.json", work_dir() / "init.safetensors"};
        const std::string graph = "igc-l24m2-d8 --set L=2 --set M=2";
        const CommandResult viz = weft::testing::run_weft("viz " + graph + " -o " + n.graph_json.string(), work_dir());
        EXPECT_EQ(viz.status, 0) << viz.err;
        const CommandResult init =
            weft::testing::run_weft("init " + graph + " --seed 3 -o " + n.init.string(), work_dir());
        EXPECT_EQ(init.status, 0) << init.err;
        return n;
    }();
    return net;
}

CommandResult run_script(const std::string& args) {
    const fs::path script = fs::path(WEFT_TEST_SOURCE_DIR) / "scripts" / "torch_train_reference.py";
    const fs::path out = work_dir() / "script_stdout.txt", err = work_dir() / "script_stderr.txt";
    const std::string command = "timeout 300 " + shell_quote(*torch_python()) + " " + shell_quote(script.string()) +
                                " " + args + " --device cpu --threads 1 >" + out.string() + " 2>" + err.string() +
                                " </dev/null";
    CommandResult r;
    const int status = std::system(command.c_str());
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
}

std::vector<std::vector<std::string>> read_csv(const fs::path& path) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream text(read_text(path));
    for (std::string line; std::getline(text, line);) {
        std::vector<std::string> cells;
        std::istringstream fields(line);
        for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
        rows.push_back(cells);
    }
    return rows;
}

#define SKIP_WITHOUT_TORCH() \
    if (!torch_python()) GTEST_SKIP() << "no Python interpreter with numpy and torch (set WEFT_TORCH_PYTHON)"

TEST(TorchTrainReference, LearnsFromWeftsStartAndWritesWeftsMetricColumns) {
    SKIP_WITHOUT_TORCH();
    const fs::path data = write_cifar("learnable");
    const Network& net = network();
    const fs::path metrics = work_dir() / "torch_metrics.csv";
    const CommandResult r =
        run_script(shell_quote(net.graph_json.string()) + " --data " + data.string() + " --init " + net.init.string() +
                   " --epochs 12 --batch 16 --lr 0.1 --weight-decay 5e-4 --seed 2 --out " + metrics.string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("test accuracy"), std::string::npos) << r.out;

    // weft train on the same files: its metrics.csv must have the same columns in the same order,
    // so the two runs' files can be read and plotted alike.
    const fs::path run = work_dir() / "weft_run";
    const CommandResult w = weft::testing::run_weft(
        "train igc-l24m2-d8 --set L=2 --set M=2 --data cifar10:" + data.string() +
            " --epochs 1 --batch 16 --threads 1 --quiet --out " + run.string(),
        work_dir(), {.timeout_seconds = 300});
    ASSERT_EQ(w.status, 0) << w.err;
    const auto weft_rows = read_csv(run / "metrics.csv");
    const auto rows = read_csv(metrics);
    ASSERT_FALSE(weft_rows.empty());
    ASSERT_EQ(rows.size(), 13u) << "a header and one row per epoch";
    EXPECT_EQ(rows[0], weft_rows[0]);

    // Brightness tells the classes apart: twelve epochs must get well past chance (10 %).
    const auto column = [&](const std::string& name) {
        for (std::size_t i = 0; i < rows[0].size(); ++i)
            if (rows[0][i] == name) return i;
        ADD_FAILURE() << "no column " << name;
        return std::size_t{0};
    };
    const double first_loss = std::stod(rows[1][column("train_loss")]);
    const double last_loss = std::stod(rows[12][column("train_loss")]);
    const double accuracy = std::stod(rows[12][column("test_accuracy")]);
    EXPECT_LT(last_loss, first_loss);
    EXPECT_GE(accuracy, 0.5) << read_text(metrics);
    EXPECT_LE(accuracy, 1.0);
}

TEST(TorchTrainReference, TruncatedDataFileIsRefusedByName) {
    SKIP_WITHOUT_TORCH();
    const fs::path data = write_cifar("truncated");
    fs::resize_file(data / "test_batch.bin", 3073 * 2 + 5);
    const Network& net = network();
    const CommandResult r = run_script(shell_quote(net.graph_json.string()) + " --data " + data.string() +
                                       " --epochs 1 --out " + (work_dir() / "never.csv").string());
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("test_batch.bin"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("whole number of 3073-byte records"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(work_dir() / "never.csv"));
}

TEST(TorchTrainReference, InitialWeightsOfAnotherGraphAreRefusedByTensor) {
    SKIP_WITHOUT_TORCH();
    const fs::path data = write_cifar("other_init");
    const fs::path other = work_dir() / "regconv_init.safetensors";
    ASSERT_EQ(weft::testing::run_weft("init regconv-w16-d8 -o " + other.string(), work_dir()).status, 0);
    const CommandResult r = run_script(shell_quote(network().graph_json.string()) + " --data " + data.string() +
                                       " --init " + other.string() + " --epochs 1 --out " +
                                       (work_dir() / "never.csv").string());
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("initial weight"), std::string::npos) << r.err;
}

}  // namespace
