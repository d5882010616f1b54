#include "tiny_training_run.h"

#include "tiny_cifar.h"

#include <unistd.h>

#include <fstream>
#include <random>

#include <fmt/format.h>

#include "op_harness.h"
#include "weft/graph_file.h"

namespace weft::testing {

std::filesystem::path write_tiny_cifar(const std::string& name, int per_file) {
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("weft-training-test-{}-{}", name, ::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    // Class-dependent brightness, so there is something to learn.
    write_tiny_cifar10(dir, {per_file, 17, 23, 64});
    return dir;
}

training::TrainConfig tiny_run(const std::filesystem::path& data, const std::filesystem::path& out, int epochs) {
    training::TrainConfig c;
    c.model.graph = "igc-l24m2-d8";
    c.model.sets = {"L=2", "M=2", "classes=10"};
    c.data = "cifar10:" + data.string();
    c.epochs = epochs;
    c.batch = 16;
    c.lr = 0.05;
    c.schedule = "step:1";
    c.seed = 9;
    c.out_dir = out;
    return c;
}

training::TrainRuntime tiny_runtime(bool resume, const std::string& backend) {
    training::TrainRuntime r;
    r.progress = false;
    r.resume = resume;
    r.compile.backend = backend;
    r.compile.device.threads = 1;  // one thread: the same arithmetic order in both runs
    r.make_graph = [](std::int64_t batch) {
        GraphFileOptions options;
        options.overrides = {{"L", "2"}, {"M", "2"}, {"classes", "10"}};
        Graph g = resolve_graph("igc-l24m2-d8", options);
        g.set_batch(batch);
        infer_shapes(g, build_registry());
        return g;
    };
    return r;
}

}  // namespace weft::testing
