// `weft train` and `weft eval` as a user meets them, including the worst case: the process killed
// with SIGKILL at a random moment, then resumed — it must lose at most the epoch in flight and
// end with exactly the weights of a run that was never interrupted.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_harness.h"
#include "op_harness.h"
#include "tiny_cifar.h"
#include "weft/weights.h"

namespace fs = std::filesystem;

namespace {

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_train_cli_test");
    return dir.path();
}

using Result = weft::testing::CommandResult;
using weft::testing::weft_binary;

using weft::testing::read_text;

Result weft_cli(const std::string& args) { return weft::testing::run_weft(args, work_dir(), {.timeout_seconds = 300}); }

// CIFAR-10's binary layout, 24 images per file, class-dependent brightness to learn from.
fs::path tiny_cifar() {
    static const fs::path dir = weft::testing::write_tiny_cifar10(work_dir() / "cifar", {24, 3, 20, 50});
    return dir;
}

// One thread: the same arithmetic order in every run, so weights can be compared bit for bit.
std::string train_args(const fs::path& out, int epochs, const std::string& schedule = "step:2") {
    return "train igc-l24m2-d8 --set L=2 --set M=2 --data cifar10:" + tiny_cifar().string() + " --epochs " +
           std::to_string(epochs) + " --batch 16 --lr 0.05 --schedule " + schedule +
           " --seed 5 --threads 1 --quiet --out " + out.string();
}

std::vector<double> column(const fs::path& csv, const std::string& name) {
    std::istringstream lines(read_text(csv));
    std::string line;
    std::getline(lines, line);
    std::vector<std::string> header;
    for (std::istringstream h(line); std::getline(h, line, ',');) header.push_back(line);
    const auto at = std::find(header.begin(), header.end(), name) - header.begin();
    std::vector<double> values;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string field;
        for (long i = 0; i <= at; ++i) std::getline(fields, field, ',');
        values.push_back(std::stod(field));
    }
    return values;
}

::testing::AssertionResult same_weights(const fs::path& a, const fs::path& b) {
    const weft::WeightMap wa = weft::load_safetensors(a), wb = weft::load_safetensors(b);
    if (wa.size() != wb.size()) return ::testing::AssertionFailure() << wa.size() << " vs " << wb.size() << " tensors";
    for (const auto& [name, t] : wa) {
        const auto it = wb.find(name);
        if (it == wb.end()) return ::testing::AssertionFailure() << name << " missing";
        const auto r = weft::testing::all_close(it->second, t, 0, 0);
        if (!r) return ::testing::AssertionFailure() << name << ": " << r.message();
    }
    return ::testing::AssertionSuccess();
}

// Each line of a JSON Lines file.
std::vector<nlohmann::json> json_lines(const fs::path& path) {
    std::vector<nlohmann::json> records;
    std::istringstream lines(read_text(path));
    for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
    return records;
}

double reference_seconds = 0;  // how long the uninterrupted run took: kills land inside it

const fs::path& reference_run() {
    static const fs::path dir = [] {
        const fs::path d = work_dir() / "reference";
        const auto start = std::chrono::steady_clock::now();
        const Result r = weft_cli(train_args(d, 4));
        reference_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_EQ(r.status, 0) << r.err;
        return d;
    }();
    return dir;
}

TEST(TrainCli, WritesMetricsCurvesAndCheckpoints) {
    const fs::path d = reference_run();
    for (const char* f : {"run.json", "metrics.csv", "steps.jsonl", "curves.svg", "checkpoint.safetensors",
                          "best.safetensors", "last.safetensors"})
        EXPECT_TRUE(fs::exists(d / f)) << f;
    const std::string csv = read_text(d / "metrics.csv");
    EXPECT_EQ(csv.rfind("epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy", 0), 0u) << csv;
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);  // header + 4 epochs
    // A record per step with the step's own numbers; its learning rates are the schedule's.
    const std::vector<nlohmann::json> steps = json_lines(d / "steps.jsonl");
    ASSERT_EQ(steps.size(), 28u);
    for (const auto& step : steps) {
        for (const char* key : {"step", "epoch", "loss", "accuracy", "lr", "images_per_second"})
            EXPECT_TRUE(step.contains(key)) << key << " missing: " << step;
        EXPECT_GE(step.at("accuracy").get<double>(), 0);
        EXPECT_LE(step.at("accuracy").get<double>(), 1);
        EXPECT_GT(step.at("images_per_second").get<double>(), 0);
    }
    EXPECT_EQ(steps[13].at("lr"), 0.05);  // step:2, the last step of epoch 2
    EXPECT_DOUBLE_EQ(steps[14].at("lr").get<double>(), 0.005);  // the first of epoch 3
    EXPECT_EQ(column(d / "metrics.csv", "lr")[1], steps[13].at("lr").get<double>());
}

TEST(TrainCli, KilledAtRandomMomentsAndResumedEndsWithTheSameWeights) {
    const fs::path d = work_dir() / "killed";
    reference_run();
    const int span_ms = std::max(20, static_cast<int>(reference_seconds * 1000));
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    int kills = 0;
    // Kill, resume, kill again... until a run completes; each kill lands at a random moment
    // (loading, mid-epoch, mid-checkpoint).
    for (int attempt = 0; attempt < 12; ++attempt) {
        // Killed before its first checkpoint: nothing to resume, so it starts again in its directory.
        const bool fresh = !fs::exists(d / "checkpoint.safetensors");
        const std::string args = fresh ? train_args(d, 4) : "train --resume " + d.string() + " --threads 1 --quiet";
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            const std::string cmd = weft_binary() + " " + args + " >/dev/null 2>>" + (work_dir() / "killed.log").string();
            ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        // Somewhere inside a run: start-up, an epoch, a checkpoint being written.
        const int delay_ms = std::uniform_int_distribution<int>(span_ms / 10, span_ms * 8 / 10)(rng);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            ++kills;
            continue;
        }
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text(work_dir() / "killed.log");
        if (kills > 0) break;
        fs::remove_all(d);  // finished before any kill (a fast machine): start over, the test needs one
    }
    // However it went, finishing the run must give the uninterrupted result.
    const Result finish = weft_cli(fs::exists(d / "checkpoint.safetensors")
                                       ? "train --resume " + d.string() + " --threads 1 --quiet"
                                       : train_args(d, 4));
    ASSERT_EQ(finish.status, 0) << finish.err;
    EXPECT_GT(kills, 0) << "every run finished before its kill: the test proved nothing";
    EXPECT_TRUE(same_weights(d / "last.safetensors", reference_run() / "last.safetensors"));
    // Exactly one metrics row per epoch survives the kills, and exactly one step record per step
    // (120 images in batches of 16: 7 steps an epoch), in order, as in the uninterrupted run.
    const std::string csv = read_text(d / "metrics.csv");
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5) << csv;
    const std::vector<nlohmann::json> steps = json_lines(d / "steps.jsonl");
    ASSERT_EQ(steps.size(), 28u) << read_text(d / "steps.jsonl");
    for (std::size_t i = 0; i < steps.size(); ++i) {
        EXPECT_EQ(steps[i].at("step"), i + 1);
        EXPECT_EQ(steps[i].at("epoch"), i / 7 + 1);
    }
    const std::vector<nlohmann::json> reference_steps = json_lines(reference_run() / "steps.jsonl");
    ASSERT_EQ(reference_steps.size(), steps.size());
    for (std::size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i].at("loss"), reference_steps[i].at("loss")) << i;
    for (const auto& entry : fs::directory_iterator(d))
        EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos)
            << "a temporary file was left: " << entry.path();
}

// ---- run directories: weft's own, one writer at a time, resumed only from a checkpoint ------

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

::testing::AssertionResult refused(const Result& r, const std::string& must_contain) {
    if (r.status != 2) return ::testing::AssertionFailure() << "exit status " << r.status << ", stderr: " << r.err;
    if (std::count(r.err.begin(), r.err.end(), '\n') != 1) return ::testing::AssertionFailure() << "not one line: " << r.err;
    if (r.err.find(must_contain) == std::string::npos)
        return ::testing::AssertionFailure() << "stderr lacks [" << must_contain << "]: " << r.err;
    return ::testing::AssertionSuccess();
}

TEST(TrainCli, AFolderThatIsNoRunDirectoryIsRefusedUnlessForced) {
    const fs::path d = work_dir() / "users-folder";
    fs::create_directories(d);
    std::ofstream(d / "best.safetensors") << "the user's own weights";
    std::ofstream(d / "curves.svg") << "the user's own picture";
    EXPECT_TRUE(refused(weft_cli(train_args(d, 1)), d.string() + ": not empty and not a weft run directory"));
    EXPECT_EQ(read_text(d / "best.safetensors"), "the user's own weights");
    EXPECT_EQ(names_in(d), (std::vector<std::string>{"best.safetensors", "curves.svg"}));
    const Result forced = weft_cli(train_args(d, 1) + " --force");
    ASSERT_EQ(forced.status, 0) << forced.err;
    EXPECT_TRUE(fs::exists(d / ".weft-run"));
    EXPECT_GT(fs::file_size(d / "best.safetensors"), 1000u);
}

TEST(TrainCli, ASecondWriterIsRefusedWhileTheRunIsLocked) {
    const fs::path d = work_dir() / "locked";
    fs::create_directories(d);
    // What a running `weft train` holds for its whole run: an exclusive flock on the marker.
    const int fd = ::open((d / ".weft-run").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    EXPECT_TRUE(refused(weft_cli(train_args(d, 1)), d.string() + ": another weft train is writing to this run directory"));
    EXPECT_EQ(names_in(d), std::vector<std::string>{".weft-run"});
    ::close(fd);
    const Result after = weft_cli(train_args(d, 1));
    EXPECT_EQ(after.status, 0) << after.err;
    EXPECT_EQ(column(d / "metrics.csv", "epoch"), std::vector<double>{1});
}

TEST(TrainCli, AResumeWithoutACheckpointIsAnError) {
    const fs::path d = work_dir() / "no-checkpoint";
    fs::create_directories(d);
    fs::copy_file(reference_run() / "run.json", d / "run.json");
    fs::copy_file(reference_run() / ".weft-run", d / ".weft-run");
    EXPECT_TRUE(refused(weft_cli("train --resume " + d.string() + " --threads 1 --quiet"),
                        "no checkpoint.safetensors there, so nothing to resume"));
    EXPECT_FALSE(fs::exists(d / "metrics.csv"));
}

TEST(TrainCli, AResumeThatWouldChangeASettingIsRefusedNamingTheOption) {
    const fs::path d = work_dir() / "settings";
    fs::copy(reference_run(), d, fs::copy_options::recursive);
    const std::string before = read_text(d / "metrics.csv");
    for (const std::string option : {"--lr 5", "--weight-decay 0.1", "--momentum 0.5", "--batch 8", "--schedule cosine",
                                     "--seed 6", "--no-augment", "--data cifar10:/elsewhere"}) {
        const std::string name = option.substr(0, option.find(' '));
        EXPECT_TRUE(refused(weft_cli("train --resume " + d.string() + " " + option + " --epochs 5 --quiet"),
                            name + " cannot change on a resume"))
            << option;
    }
    EXPECT_EQ(read_text(d / "metrics.csv"), before);
    // Restating the run's own value changes nothing, so it is accepted.
    const Result same = weft_cli("train --resume " + d.string() + " --lr 0.05 --batch 16 --threads 1 --quiet");
    EXPECT_EQ(same.status, 0) << same.err;
}

// ---- signals: SIGINT or SIGTERM finish the step, checkpoint inside the epoch, and say so ----

// Starts `weft ARGS` as a child, waits until its steps.jsonl holds `steps` records, sends `signals`
// (1 ms apart) and waits for it; every wait is bounded. The child's exit status, -1 if a signal
// ended it, -2 on a timeout.
int interrupt_after_steps(const std::string& args, const fs::path& steps_file, std::size_t steps,
                          const std::vector<int>& signals, const fs::path& log) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        const std::string cmd = weft_binary() + " " + args + " >/dev/null 2>" + log.string();
        ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        std::error_code ec;
        if (fs::exists(steps_file, ec)) {
            const std::string text = read_text(steps_file);
            if (static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) >= steps) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (int signal : signals) {
        ::kill(pid, signal);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -2;
}

// Interrupted inside epoch 2 and resumed, a run ends with the uninterrupted run's weights, step
// losses and metrics rows, bit for bit (one thread); SIGTERM the same with 143; a second SIGINT
// while the checkpoint is written changes nothing.
TEST(TrainCli, InterruptedInsideAnEpochAndResumedEndsBitForBitAsTheUninterruptedRun) {
    reference_run();
    for (const auto& [signals, expected_status] :
         std::vector<std::pair<std::vector<int>, int>>{{{SIGINT}, 130}, {{SIGTERM}, 143}, {{SIGINT, SIGINT}, 130}}) {
        const fs::path d = work_dir() / fmt::format("interrupted-{}-{}", signals.front(), signals.size());
        const fs::path log = work_dir() / fmt::format("interrupted-{}-{}.log", signals.front(), signals.size());
        const int status = interrupt_after_steps(train_args(d, 4), d / "steps.jsonl", 9, signals, log);
        ASSERT_EQ(status, expected_status) << read_text(log);
        const std::string err = read_text(log);
        EXPECT_NE(err.find(fmt::format("weft: interrupted by {}", signals.front() == SIGINT ? "SIGINT" : "SIGTERM")),
                  std::string::npos)
            << err;
        EXPECT_NE(err.find("continue with weft train --resume " + d.string()), std::string::npos) << err;
        for (const std::string& name : names_in(d))
            EXPECT_EQ(name.find(".tmp"), std::string::npos) << "a temporary file was left: " << name;
        const std::size_t steps_kept = json_lines(d / "steps.jsonl").size();
        EXPECT_GE(steps_kept, 9u);
        const Result resumed = weft_cli("train --resume " + d.string() + " --threads 1 --quiet");
        ASSERT_EQ(resumed.status, 0) << resumed.err;
        EXPECT_TRUE(same_weights(d / "last.safetensors", reference_run() / "last.safetensors"));
        EXPECT_TRUE(same_weights(d / "checkpoint.safetensors", reference_run() / "checkpoint.safetensors"));
        const std::vector<nlohmann::json> steps = json_lines(d / "steps.jsonl"),
                                          reference_steps = json_lines(reference_run() / "steps.jsonl");
        ASSERT_EQ(steps.size(), reference_steps.size());
        for (std::size_t i = 0; i < steps.size(); ++i) {
            EXPECT_EQ(steps[i].at("step"), reference_steps[i].at("step"));
            EXPECT_EQ(steps[i].at("loss"), reference_steps[i].at("loss")) << i;
        }
        for (const char* name : {"epoch", "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy"})
            EXPECT_EQ(column(d / "metrics.csv", name), column(reference_run() / "metrics.csv", name)) << name;
    }
}

// The schedule is laid out once, over --schedule-epochs (default --epochs), and a resume keeps it:
// two epochs of a three-epoch cosine schedule, resumed to three, end exactly where an
// uninterrupted three-epoch run does, and the learning rate never rises on the way.
TEST(TrainCli, AResumeWithMoreEpochsContinuesTheScheduleInsteadOfStretchingIt) {
    const fs::path part = work_dir() / "schedule-part", whole = work_dir() / "schedule-whole";
    ASSERT_EQ(weft_cli(train_args(part, 2, "cosine") + " --warmup 0.5 --schedule-epochs 3").status, 0);
    const Result resumed = weft_cli("train --resume " + part.string() + " --epochs 3 --threads 1");
    ASSERT_EQ(resumed.status, 0) << resumed.err;
    EXPECT_NE(resumed.err.find("learning rate: linear warm-up from 0 to 0.05 over 0.5 epochs, then cosine from 0.05 at "
                               "epoch 0.5 to 0 at epoch 3; epoch 3 runs now"),
              std::string::npos)
        << resumed.err;
    EXPECT_EQ(resumed.err.find("rises"), std::string::npos) << resumed.err;
    ASSERT_EQ(weft_cli(train_args(whole, 3, "cosine") + " --warmup 0.5").status, 0);
    EXPECT_TRUE(same_weights(part / "last.safetensors", whole / "last.safetensors"));
    const std::vector<double> lr = column(part / "metrics.csv", "lr");
    EXPECT_EQ(lr, column(whole / "metrics.csv", "lr"));
    ASSERT_EQ(lr.size(), 3u);
    EXPECT_TRUE(lr[1] < lr[0] && lr[2] < lr[1]) << lr[0] << " " << lr[1] << " " << lr[2];

    // Past the end of a schedule that ends at 0 nothing would be learnt: refused, with the fix.
    const Result past = weft_cli("train --resume " + part.string() + " --epochs 4 --threads 1");
    EXPECT_EQ(past.status, 2);
    EXPECT_EQ(std::count(past.err.begin(), past.err.end(), '\n'), 1) << past.err;
    EXPECT_NE(past.err.find("give --schedule-epochs 4"), std::string::npos) << past.err;
    EXPECT_EQ(column(part / "metrics.csv", "epoch").size(), 3u);
    // Stretching it is a choice the run states, and records for later resumes.
    const Result stretched = weft_cli("train --resume " + part.string() + " --epochs 4 --schedule-epochs 4 --threads 1");
    ASSERT_EQ(stretched.status, 0) << stretched.err;
    EXPECT_NE(stretched.err.find("note: the learning rate rises"), std::string::npos) << stretched.err;
    EXPECT_NE(read_text(part / "run.json").find("\"schedule_epochs\": 4"), std::string::npos) << read_text(part / "run.json");
}

// --json: the progress stays on stderr and stdout is one JSON summary of the run at the end.
TEST(TrainCli, JsonSummaryOnStdoutWithProgressOnStderr) {
    const fs::path d = work_dir() / "json-run";
    std::string args = train_args(d, 1);
    args.replace(args.find(" --quiet"), 8, "");
    const Result r = weft_cli(args + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("epoch 1/1"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("learning rate: "), std::string::npos) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("epochs_run_now"), 1);
    EXPECT_EQ(j.at("history").size(), 1u);
    EXPECT_EQ(j.at("history").at(0).at("test_accuracy"), j.at("best").at("test_accuracy"));
    EXPECT_TRUE(fs::exists(j.at("files").at("steps.jsonl").get<std::string>()));
    EXPECT_NE(j.at("schedule").get<std::string>().find("×0.1 at epoch 2"), std::string::npos) << j.at("schedule");
}

TEST(TrainCli, ANonFiniteLossStopsTheRunWithAMessage) {
    const fs::path d = work_dir() / "diverged";
    const Result r = weft_cli("train igc-l24m2-d8 --set L=2 --set M=2 --data cifar10:" + tiny_cifar().string() +
                          " --epochs 2 --batch 16 --lr 1e30 --schedule constant --threads 1 --quiet --out " + d.string());
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("the loss is"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(d / "checkpoint.safetensors")) << "a diverged epoch must not be saved";
}

TEST(TrainCli, EvalReportsAccuracyAndDrawsTheConfusionMatrix) {
    const fs::path d = reference_run();
    const fs::path picture = work_dir() / "confusion.svg";
    const Result r = weft_cli("eval --weights " + (d / "best.safetensors").string() + " --quiet --confusion " + picture.string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("top-1 accuracy"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("confusion matrix"), std::string::npos) << r.out;
    EXPECT_NE(read_text(picture).find("<svg"), std::string::npos);
    // A .png name gets PNG bytes; any other extension is refused before evaluating, writing nothing.
    const fs::path png = work_dir() / "confusion.png", bogus = work_dir() / "confusion.bmp";
    const Result as_png = weft_cli("eval --weights " + (d / "best.safetensors").string() + " --quiet --confusion " + png.string());
    ASSERT_EQ(as_png.status, 0) << as_png.err;
    EXPECT_EQ(read_text(png).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    const Result refused = weft_cli("eval --weights " + (d / "best.safetensors").string() + " --quiet --confusion " + bogus.string());
    EXPECT_EQ(refused.status, 2);
    EXPECT_NE(refused.err.find("pictures are written as .svg or .png"), std::string::npos) << refused.err;
    EXPECT_FALSE(fs::exists(bogus));
    // The weights name their graph and data; the wrong data is refused with the reason.
    const Result wrong = weft_cli("eval --weights " + (d / "best.safetensors").string() + " --data fashion-mnist --quiet");
    if (fs::exists("/usr/share/datasets/fashion-mnist")) {
        EXPECT_EQ(wrong.status, 2);
        EXPECT_NE(wrong.err.find("images are 1×28×28"), std::string::npos) << wrong.err;
    }
}

// The two accuracy options a short schedule uses: label smoothing is recorded in run.json and
// changes the training loss (not the plain test loss's definition); --mirror is reported as such.
TEST(TrainCli, LabelSmoothingAndMirroredEvaluation) {
    const fs::path d = work_dir() / "smoothed";
    const Result r = weft_cli(train_args(d, 1) + " --label-smoothing 0.1");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(read_text(d / "run.json").find("\"label_smoothing\": 0.1"), std::string::npos) << read_text(d / "run.json");
    const Result bad = weft_cli(train_args(work_dir() / "smoothed-bad", 1) + " --label-smoothing 1");
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.err.find("--label-smoothing"), std::string::npos) << bad.err;

    const std::string weights = (reference_run() / "best.safetensors").string();
    const Result mirrored = weft_cli("eval --weights " + weights + " --quiet --json --mirror");
    ASSERT_EQ(mirrored.status, 0) << mirrored.err;
    EXPECT_NE(mirrored.out.find("\"mirror_averaged\": true"), std::string::npos) << mirrored.out;
    const Result text = weft_cli("eval --weights " + weights + " --quiet --mirror");
    EXPECT_NE(text.out.find("averaged with its mirror image"), std::string::npos) << text.out;
}

TEST(TrainCli, BenchAndStatsReportATrainingStep) {
    const Result bench = weft_cli("bench igc-l24m2-d8 --set L=2 --set M=2 --train --batch 8 --iterations 2 --seconds 0 --json --threads 1");
    ASSERT_EQ(bench.status, 0) << bench.err;
    EXPECT_NE(bench.out.find("\"mode\": \"train\""), std::string::npos) << bench.out;
    EXPECT_NE(bench.out.find("\"ms_per_batch\""), std::string::npos);
    const Result stats = weft_cli("stats igc-l24m2-d8 --train --batch 16 --threads 1");
    ASSERT_EQ(stats.status, 0) << stats.err;
    EXPECT_NE(stats.out.find("planned training step at batch 16"), std::string::npos) << stats.out;
}

}  // namespace
