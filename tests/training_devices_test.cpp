// Training away from host memory. The trainer, the evaluation and the checkpoints must reach a
// device's memory only through the Device interface, and what they write must not depend on the
// device that wrote it: train on one backend, evaluate or resume on another.
//
// On every machine this runs on the "guarded" backend (tests/support/guarded_backend.h): the cpu
// kernels on memory the host cannot touch, so a host read of device memory stops the test, and
// its results must equal the cpu backend's bit for bit. On a GPU the same runs on cuda (skipped
// elsewhere, with the reason), where results agree to float32 tolerances stated below.
#include <filesystem>

#include <gtest/gtest.h>

#include "guarded_backend.h"
#include "op_harness.h"
#include "tiny_training_run.h"
#include "weft/datasets/dataset.h"
#include "weft/executor.h"
#include "weft/training/evaluate.h"
#include "weft/training/model.h"
#include "weft/weights.h"

namespace weft {
namespace {

namespace fs = std::filesystem;
using testing::all_close;
using testing::tiny_run;
using testing::tiny_runtime;
using testing::write_tiny_cifar;

// cuDNN sums a convolution in another order than oneDNN, so after the few SGD steps of a tiny
// run float32 weights trained on the two devices differ in the last digits that momentum and
// batch statistics amplify; 2e-3 relative (2e-4 absolute) leaves room for that and none for a
// wrong gradient or a lost momentum, which move weights by whole percents.
constexpr double kAcrossDevicesRtol = 2e-3, kAcrossDevicesAtol = 2e-4;


// Trains the tiny run on `backend` until `epochs` epochs are done, resuming the run in `out`
// when `resume`.
std::vector<training::EpochResult> train_on(const std::string& backend, const fs::path& data, const fs::path& out,
                                            int epochs, bool resume) {
    return training::train(tiny_run(data, out, epochs), testing::registry_for(backend), tiny_runtime(resume, backend));
}

// The trained weights of a run and everything else its checkpoint carries (momentum).
WeightMap checkpoint_of(const fs::path& run) { return load_safetensors(run / "checkpoint.safetensors"); }

::testing::AssertionResult same_tensors(const WeightMap& actual, const WeightMap& expected, double rtol, double atol) {
    if (actual.size() != expected.size())
        return ::testing::AssertionFailure() << actual.size() << " tensors, expected " << expected.size();
    for (const auto& [name, t] : expected) {
        const auto it = actual.find(name);
        if (it == actual.end()) return ::testing::AssertionFailure() << "no tensor '" << name << "'";
        if (auto close = all_close(it->second, t, rtol, atol); !close) return close << " in '" << name << "'";
    }
    return ::testing::AssertionSuccess();
}

// Evaluates a run's last weights on the test split with an executor on `backend`.
training::Evaluation evaluate_on(const std::string& backend, const fs::path& data, const fs::path& run,
                                 bool mirrored = false) {
    std::map<std::string, std::string> meta;
    const WeightMap weights = load_safetensors(run / "last.safetensors", &meta);
    const training::ModelInfo info = training::ModelInfo::from_metadata(meta);
    training::TrainRuntime runtime = tiny_runtime(false, backend);
    const Graph graph = runtime.make_graph(16);
    Executor exec(graph, testing::registry_for(backend), weights, runtime.compile);
    const datasets::Dataset test = datasets::load_dataset("cifar10:" + data.string(), datasets::Split::test);
    return training::evaluate(exec, test, datasets::Normalization{info.mean, info.std}, true, false, "eval", mirrored);
}

}  // namespace

TEST(TrainingOffTheHost, OnMemoryTheHostCannotReadTrainingAndEvaluationEqualTheCpusBitForBit) {
    const fs::path data = write_tiny_cifar("guarded", 16);
    const auto on_cpu = train_on("cpu", data, data / "cpu", 2, false);
    const auto guarded = train_on("guarded", data, data / "guarded", 2, false);
    ASSERT_EQ(guarded.size(), on_cpu.size());
    for (std::size_t e = 0; e < on_cpu.size(); ++e) {
        EXPECT_EQ(guarded[e].train_loss, on_cpu[e].train_loss) << "epoch " << e + 1;
        EXPECT_EQ(guarded[e].test_loss, on_cpu[e].test_loss) << "epoch " << e + 1;
        EXPECT_EQ(guarded[e].test_accuracy, on_cpu[e].test_accuracy) << "epoch " << e + 1;
    }
    EXPECT_TRUE(same_tensors(checkpoint_of(data / "guarded"), checkpoint_of(data / "cpu"), 0, 0));
    for (const bool mirrored : {false, true}) {
        const training::Evaluation g = evaluate_on("guarded", data, data / "cpu", mirrored);
        const training::Evaluation c = evaluate_on("cpu", data, data / "cpu", mirrored);
        EXPECT_EQ(g.loss, c.loss) << (mirrored ? "mirror-averaged" : "single view");
        EXPECT_EQ(g.confusion, c.confusion) << (mirrored ? "mirror-averaged" : "single view");
    }
    fs::remove_all(data);
}

TEST(TrainingOffTheHost, ARunResumesOnTheOtherBackendAsIfItHadNeverStopped) {
    const fs::path data = write_tiny_cifar("guarded-resume", 16);
    train_on("cpu", data, data / "straight", 2, false);
    train_on("guarded", data, data / "guarded-then-cpu", 1, false);
    train_on("cpu", data, data / "guarded-then-cpu", 2, true);
    train_on("cpu", data, data / "cpu-then-guarded", 1, false);
    train_on("guarded", data, data / "cpu-then-guarded", 2, true);
    const WeightMap straight = checkpoint_of(data / "straight");
    EXPECT_TRUE(same_tensors(checkpoint_of(data / "guarded-then-cpu"), straight, 0, 0));
    EXPECT_TRUE(same_tensors(checkpoint_of(data / "cpu-then-guarded"), straight, 0, 0));
    fs::remove_all(data);
}

TEST(TrainingOffTheHost, WeightsTrainedOnCudaEvaluateOnTheCpuAsOnTheGpu) {
    WEFT_SKIP_WITHOUT_CUDA();
    const fs::path data = write_tiny_cifar("cuda", 16);
    const auto on_gpu = train_on("cuda", data, data / "cuda", 1, false);
    train_on("cpu", data, data / "cpu", 1, false);
    EXPECT_TRUE(same_tensors(checkpoint_of(data / "cuda"), checkpoint_of(data / "cpu"), kAcrossDevicesRtol,
                             kAcrossDevicesAtol));
    // The same weights, forward only: the two devices differ by float32 rounding alone.
    const training::Evaluation gpu = evaluate_on("cuda", data, data / "cuda");
    const training::Evaluation cpu = evaluate_on("cpu", data, data / "cuda");
    EXPECT_NEAR(gpu.loss, cpu.loss, 1e-4 * std::max(1.0, cpu.loss));
    EXPECT_NEAR(gpu.top1, cpu.top1, 1.0 / 16) << "more than one of the 16 test images changed class";
    EXPECT_NEAR(on_gpu.at(0).test_loss, gpu.loss, 1e-4 * std::max(1.0, gpu.loss))
        << "the trainer's own evaluation on the GPU";
    fs::remove_all(data);
}

TEST(TrainingOffTheHost, ACudaRunResumesOnTheCpuAndACpuRunOnCuda) {
    WEFT_SKIP_WITHOUT_CUDA();
    const fs::path data = write_tiny_cifar("cuda-resume", 16);
    train_on("cpu", data, data / "straight", 2, false);
    train_on("cuda", data, data / "cuda-then-cpu", 1, false);
    const auto resumed_on_cpu = train_on("cpu", data, data / "cuda-then-cpu", 2, true);
    train_on("cpu", data, data / "cpu-then-cuda", 1, false);
    const auto resumed_on_gpu = train_on("cuda", data, data / "cpu-then-cuda", 2, true);
    ASSERT_EQ(resumed_on_cpu.size(), 1u);
    ASSERT_EQ(resumed_on_gpu.size(), 1u);
    EXPECT_EQ(resumed_on_cpu[0].epoch, 2);
    EXPECT_EQ(resumed_on_gpu[0].epoch, 2);
    const WeightMap straight = checkpoint_of(data / "straight");
    EXPECT_TRUE(same_tensors(checkpoint_of(data / "cuda-then-cpu"), straight, kAcrossDevicesRtol, kAcrossDevicesAtol));
    EXPECT_TRUE(same_tensors(checkpoint_of(data / "cpu-then-cuda"), straight, kAcrossDevicesRtol, kAcrossDevicesAtol));
    fs::remove_all(data);
}

}  // namespace weft
