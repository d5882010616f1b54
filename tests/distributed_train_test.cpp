// `mpirun -np N weft train`: data-parallel training over MPI, ranks on this machine. Two ranks at
// a global batch must train the same model as one process at that batch (up to the order of
// floating-point sums; with batch norm under --sync-bn too, while without it each rank normalises
// with its own shard's statistics, the documented difference); files are written once, by rank 0; a run
// resumes with another number of ranks; and a rank killed mid-epoch ends the job, with a message,
// in bounded time, after which --resume continues from the last checkpoint.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_harness.h"
#include "tiny_cifar.h"
#include "weft/weights.h"

namespace fs = std::filesystem;
using weft::testing::read_text;
using weft::testing::shell_quote;

namespace {

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_distributed_train_test");
    return dir.path();
}

bool have_mpirun() { return std::system("mpirun --version >/dev/null 2>&1") == 0; }

#define SKIP_WITHOUT_MPIRUN() \
    if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed (apt-get install openmpi-bin)"

// What Open MPI needs here: root is allowed (CI runs as root), more ranks than cores are allowed,
// and shared memory only, so that no network interface is probed. Under AddressSanitizer
// (scripts/asan.sh) the ranks unwind allocation stacks the slow way: Open MPI unloads its
// components in MPI_Finalize, and the frame-pointer unwinder stops in them, so LeakSanitizer could
// not trace its allocations to libmpi, which scripts/lsan.supp names (without the sanitizer the
// variable is unused).
constexpr const char* kMpiEnvironment =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader "
    "OMPI_MCA_rmaps_base_oversubscribe=1 ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0\"";

struct Result {
    int status = -1;
    std::string output;  // stdout and stderr
};

// `weft ARGS` as `ranks` MPI ranks (ranks 0: one plain process), under a time limit.
Result run(int ranks, const std::string& args, int timeout_seconds = 120) {
    const fs::path log = work_dir() / "output.txt";
    const std::string environment = ranks > 0 ? kMpiEnvironment : "";
    const std::string launcher = ranks > 0 ? fmt::format("mpirun -np {} ", ranks) : "";
    const std::string cmd =
        fmt::format("{} timeout {} {}{} {} >{} 2>&1 </dev/null", environment, timeout_seconds, launcher,
                    weft::testing::weft_binary(), args, shell_quote(log.string()));
    const int raw = std::system(cmd.c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_text(log)};
}

// CIFAR-10's binary layout, 64 images per file (320 training images: 5 steps of 64), with
// class-dependent brightness to learn from.
fs::path tiny_cifar() {
    static const fs::path dir = weft::testing::write_tiny_cifar10(work_dir() / "cifar", {64, 7, 20, 50});
    return dir;
}

// A small network without batch norm: a strided convolution, ReLU, global pooling, a classifier.
fs::path plain_graph() {
    static const fs::path path = [] {
        const fs::path p = work_dir() / "plain.yaml";
        std::ofstream(p) << "family: plain\n"
                            "inputs:\n  - {name: data, shape: [3, 32, 32]}\n"
                            "graph:\n"
                            "  - {op: group_conv, name: conv1, out_channels: 8, kernel: 3, padding: 1,"
                            " stride: 2}\n"
                            "  - {op: relu, name: relu1}\n"
                            "  - {op: group_conv, name: conv2, out_channels: 16, kernel: 3, padding: 1,"
                            " stride: 2}\n"
                            "  - {op: relu, name: relu2}\n"
                            "  - {op: pool, name: pool, mode: global_avg}\n"
                            "  - {op: fc, name: fc, out_features: 10}\n";
        return p;
    }();
    return path;
}

// One thread per rank; augmentation on (it depends on the sample's position in the epoch only, so
// the ranks' shards see exactly what one process sees).
std::string train_args(const std::string& graph, const fs::path& out, int epochs) {
    return fmt::format("train {} --data cifar10:{} --epochs {} --batch 64 --lr 0.05 --schedule step:2 "
                       "--seed 5 --threads 1 --quiet --out {}",
                       graph, tiny_cifar().string(), epochs, out.string());
}

std::string plain_args(const fs::path& out, int epochs) {
    return train_args(plain_graph().string(), out, epochs);
}

// The largest difference between the two files' tensors, relative to the largest magnitude.
double largest_difference(const fs::path& a, const fs::path& b) {
    const weft::WeightMap wa = weft::load_safetensors(a), wb = weft::load_safetensors(b);
    EXPECT_EQ(wa.size(), wb.size());
    double worst = 0;
    for (const auto& [name, t] : wa) {
        const weft::Tensor& u = wb.at(name);
        double scale = 1e-3, diff = 0;
        for (std::int64_t i = 0; i < t.numel(); ++i) {
            scale = std::max(scale, double(std::abs(t.as<float>()[i])));
            diff = std::max(diff, double(std::abs(t.as<float>()[i] - u.as<float>()[i])));
        }
        worst = std::max(worst, diff / scale);
    }
    return worst;
}

std::size_t lines_of(const fs::path& path) {
    const std::string text = read_text(path);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The float tolerance of "the same weights": two ranks sum each gradient in two halves and then
// across ranks, one process in one pass; after 10 SGD steps the weights here differ by about 1e-7
// of their largest value.
constexpr double kSameWeights = 1e-5;

TEST(DistributedTrain, TwoRanksTrainTheSameWeightsAsOneProcessAtTheSameGlobalBatch) {
    SKIP_WITHOUT_MPIRUN();
    const fs::path one = work_dir() / "plain-one", two = work_dir() / "plain-two";
    const Result a = run(0, plain_args(one, 2));
    ASSERT_EQ(a.status, 0) << a.output;
    const Result b = run(2, plain_args(two, 2));
    ASSERT_EQ(b.status, 0) << b.output;
    EXPECT_LE(largest_difference(one / "last.safetensors", two / "last.safetensors"), kSameWeights);
    // The momentum too: the checkpoint holds it beside the weights.
    EXPECT_LE(largest_difference(one / "checkpoint.safetensors", two / "checkpoint.safetensors"),
              kSameWeights);
    // Written once: a header and two epochs, a record per global step (5 per epoch).
    EXPECT_EQ(lines_of(two / "metrics.csv"), 3u);
    EXPECT_EQ(lines_of(two / "steps.jsonl"), 10u);
    EXPECT_EQ(nlohmann::json::parse(read_text(two / "run.json")).at("world_size"), 2);
    EXPECT_EQ(nlohmann::json::parse(read_text(one / "run.json")).at("world_size"), 1);
    // The same test accuracy: evaluation is shared out between the ranks and its counts summed.
    const auto last_row = [](const fs::path& csv) {
        const std::string text = read_text(csv);
        return text.substr(text.rfind('\n', text.size() - 2) + 1);
    };
    const std::string row_one = last_row(one / "metrics.csv"), row_two = last_row(two / "metrics.csv");
    EXPECT_EQ(row_one.substr(0, row_one.find(',', row_one.find(',') + 1)),
              row_two.substr(0, row_two.find(',', row_two.find(',') + 1)));
}

// Batch norm over two ranks (igc-l24m2-d8 reduced: 7 batch-norm layers; 3 steps of 64 images).
// Without --sync-bn each rank normalises with the statistics of its own 32 images: another model
// than one process's at batch 64, as docs/distributed.md says. With it, the ranks sum every
// layer's statistics in forward and backward and train one process's model, within the same
// float tolerance as a network without batch norm (measured: about 1e-6). Three steps, not
// more: once a value near a ReLU's threshold lands on the other side, the float differences
// of any two summation orders grow — after 5 steps at this seed one process with oneDNN's
// batch norm and one with the direct kernel differ by 2 %.
TEST(DistributedTrain, SyncBnTrainsOneProcesssModelAndPerRankStatisticsAnother) {
    SKIP_WITHOUT_MPIRUN();
    const std::string graph = "igc-l24m2-d8 --set L=2 --set M=2 --limit-train 192";
    const fs::path one = work_dir() / "bn-one", two = work_dir() / "bn-two", sync = work_dir() / "bn-sync";
    const Result a = run(0, train_args(graph, one, 1));
    ASSERT_EQ(a.status, 0) << a.output;
    const Result b = run(2, train_args(graph, two, 1));
    ASSERT_EQ(b.status, 0) << b.output;
    EXPECT_GT(largest_difference(one / "last.safetensors", two / "last.safetensors"), 100 * kSameWeights);
    const Result c = run(2, train_args(graph, sync, 1) + " --sync-bn");
    ASSERT_EQ(c.status, 0) << c.output;
    // Weights and running statistics, then the momentum.
    EXPECT_LE(largest_difference(one / "last.safetensors", sync / "last.safetensors"), kSameWeights);
    EXPECT_LE(largest_difference(one / "checkpoint.safetensors", sync / "checkpoint.safetensors"),
              kSameWeights);
    const nlohmann::json recorded = nlohmann::json::parse(read_text(sync / "run.json"));
    EXPECT_EQ(recorded.at("sync_bn"), true);
    EXPECT_EQ(recorded.at("world_size"), 2);
    EXPECT_EQ(nlohmann::json::parse(read_text(two / "run.json")).at("sync_bn"), false);
    EXPECT_EQ(lines_of(sync / "steps.jsonl"), 3u);
}

// Every rank refuses a global batch it cannot cut into equal shards, before anything is written,
// and the job ends with the usual status for bad input.
TEST(DistributedTrain, AGlobalBatchThatDoesNotDivideAmongTheRanksIsRefused) {
    SKIP_WITHOUT_MPIRUN();
    const fs::path d = work_dir() / "uneven";
    const Result r = run(3, plain_args(d, 1));  // 64 images in 3 shards
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("--batch 64 cannot be cut into 3 equal shards"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(d)) << r.output;
}

// The checkpoint is the model, not the job: 2 ranks, then 1 process, then 2 ranks again, end where
// one uninterrupted process ends.
TEST(DistributedTrain, ResumesWithAnotherNumberOfRanks) {
    SKIP_WITHOUT_MPIRUN();
    const fs::path reference = work_dir() / "resume-reference", d = work_dir() / "resume";
    ASSERT_EQ(run(0, plain_args(reference, 3)).status, 0);
    const Result first = run(2, plain_args(d, 1));
    ASSERT_EQ(first.status, 0) << first.output;
    const Result second = run(0, fmt::format("train --resume {} --epochs 2 --threads 1 --quiet", d.string()));
    ASSERT_EQ(second.status, 0) << second.output;
    EXPECT_EQ(nlohmann::json::parse(read_text(d / "run.json")).at("world_size"), 1);
    const Result third = run(2, fmt::format("train --resume {} --epochs 3 --threads 1 --quiet", d.string()));
    ASSERT_EQ(third.status, 0) << third.output;
    EXPECT_EQ(nlohmann::json::parse(read_text(d / "run.json")).at("world_size"), 2);
    EXPECT_EQ(lines_of(d / "metrics.csv"), 4u);
    EXPECT_EQ(lines_of(d / "steps.jsonl"), 15u);
    EXPECT_LE(largest_difference(reference / "last.safetensors", d / "last.safetensors"), kSameWeights);
}

// The processes whose parent is `parent`.
std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> children;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        // pid (comm) state ppid ...: the command may hold spaces and parentheses; the last ')' ends it.
        std::istringstream rest(line.substr(line.rfind(')') + 1));
        std::string state;
        pid_t ppid = 0;
        if (rest >> state >> ppid && ppid == parent) children.push_back(std::stoi(name));
    }
    return children;
}

// `mpirun -np 2 weft ARGS` in the background, its output in `log`: the pid of mpirun, whose
// children are the ranks.
pid_t start_two_ranks(const std::string& args, const fs::path& log) {
    const std::string cmd = fmt::format("exec env {} mpirun -np 2 {} {} >{} 2>&1 </dev/null", kMpiEnvironment,
                                        weft::testing::weft_binary(), args, shell_quote(log.string()));
    const pid_t shell = ::fork();
    if (shell == 0) {
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    return shell;  // exec env ... mpirun: mpirun replaces the shell
}

// Waits at most `seconds` for `pid` to end: its wait status, or nothing (then it is killed).
std::optional<int> wait_at_most(pid_t pid, int seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return status;
}

// Asked to stop, one rank stops them all after the same step, with a checkpoint (inside an epoch
// when need be), and the run resumed in one process ends with the uninterrupted run's weights.
TEST(DistributedTrain, ASignalToOneRankStopsAllWithACheckpointThatResumes) {
    SKIP_WITHOUT_MPIRUN();
    const fs::path d = work_dir() / "stopped", log = work_dir() / "stopped.txt";
    const std::string schedule = " --schedule-epochs 1000";  // the run below could go on for long
    const pid_t mpirun = start_two_ranks(plain_args(d, 1000) + schedule, log);
    ASSERT_GT(mpirun, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (lines_of(d / "steps.jsonl") < 7 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::vector<pid_t> ranks = children_of(mpirun);
    ASSERT_EQ(ranks.size(), 2u) << read_text(log);
    ::kill(*std::max_element(ranks.begin(), ranks.end()), SIGTERM);
    const std::optional<int> status = wait_at_most(mpirun, 40);
    const std::string output = read_text(log);
    ASSERT_TRUE(status) << "the job did not stop within 40 s:\n" << output;
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGTERM) << output;
    EXPECT_NE(output.find("interrupted by SIGTERM"), std::string::npos) << output;
    const std::size_t epochs = lines_of(d / "metrics.csv") + 1;  // the header: one more than done
    const Result resumed =
        run(0, fmt::format("train --resume {} --epochs {} --threads 1 --quiet", d.string(), epochs));
    ASSERT_EQ(resumed.status, 0) << resumed.output;
    const fs::path reference = work_dir() / "stopped-reference";
    ASSERT_EQ(run(0, plain_args(reference, static_cast<int>(epochs)) + schedule).status, 0);
    EXPECT_LE(largest_difference(reference / "last.safetensors", d / "last.safetensors"), kSameWeights);
    EXPECT_EQ(lines_of(d / "steps.jsonl"), lines_of(reference / "steps.jsonl"));
}

TEST(DistributedTrain, AKilledRankEndsTheJobInBoundedTimeAndResumeContinues) {
    SKIP_WITHOUT_MPIRUN();
    const fs::path d = work_dir() / "killed", log = work_dir() / "killed.txt";
    const pid_t shell = start_two_ranks(plain_args(d, 1000), log);
    ASSERT_GT(shell, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(d / "checkpoint.safetensors") && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(fs::exists(d / "checkpoint.safetensors")) << read_text(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // into the next epoch
    std::vector<pid_t> ranks = children_of(shell);
    ASSERT_EQ(ranks.size(), 2u) << read_text(log);
    ::kill(*std::max_element(ranks.begin(), ranks.end()), SIGKILL);
    const std::optional<int> status = wait_at_most(shell, 40);
    const std::string output = read_text(log);
    ASSERT_TRUE(status) << "the job did not end within 40 s of a rank's death:\n" << output;
    EXPECT_FALSE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << output;
    EXPECT_NE(output.find("exited on signal 9"), std::string::npos) << output;  // mpirun names the dead rank
    // The survivor was told to stop by mpirun and said it would wait for the others.
    EXPECT_NE(output.find("weft: rank 0: stopping once every rank"), std::string::npos) << output;
    // Ended, or ending: mpirun may exit before the SIGKILL it sent a rank has finished it. Gone, or a
    // zombie that its new parent has not reaped yet, within a few seconds.
    for (pid_t rank : ranks) {
        const auto ended = [rank] {
            const std::string stat = read_text(fs::path("/proc") / std::to_string(rank) / "stat");
            return stat.empty() || stat.substr(stat.rfind(')') + 2, 1) == "Z";
        };
        const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!ended() && std::chrono::steady_clock::now() < limit)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        EXPECT_TRUE(ended()) << "rank " << rank << " still runs 10 s after the job ended";
    }
    // The last checkpoint holds whole epochs (or a stop's step); resuming one epoch further works.
    const auto epochs_done = lines_of(d / "metrics.csv") - 1;
    const Result resumed =
        run(0, fmt::format("train --resume {} --epochs {} --threads 1 --quiet", d.string(), epochs_done + 1));
    ASSERT_EQ(resumed.status, 0) << resumed.output;
    EXPECT_GE(lines_of(d / "metrics.csv"), epochs_done + 1);
}

}  // namespace
