#include "weft/training/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "weft/datasets/dataset.h"
#include "weft/datasets/loader.h"
#include "weft/error.h"
#include "weft/graph_pass.h"
#include "weft/report/charts.h"
#include "weft/report/files.h"
#include "weft/report/progress.h"
#include "weft/training.h"
#include "weft/training/evaluate.h"

namespace weft::training {
namespace fs = std::filesystem;

OptimizerOptions SgdSettings::optimizer_options() const {
    OptimizerOptions o;
    o.name = "sgd";
    o.hyperparameters.set("momentum", static_cast<double>(momentum));
    o.hyperparameters.set("nesterov", nesterov);
    o.weight_decay = weight_decay;
    o.decay_uncounted = decay_uncounted;
    return o;
}

std::string TrainConfig::to_json() const {
    nlohmann::json j;
    j["graph"] = model.graph;
    j["variant"] = model.variant;
    j["sets"] = model.sets;
    j["data"] = data;
    j["epochs"] = epochs;
    j["batch"] = batch;
    j["lr"] = lr;
    j["schedule"] = schedule;
    j["warmup_epochs"] = warmup_epochs;
    j["momentum"] = sgd.momentum;
    j["nesterov"] = sgd.nesterov;
    j["weight_decay"] = sgd.weight_decay;
    j["decay_uncounted"] = sgd.decay_uncounted;
    j["augment"] = augment;
    j["pad"] = pad;
    j["seed"] = seed;
    j["limit_train"] = limit_train;
    j["limit_test"] = limit_test;
    j["loss_op"] = loss_op;
    j["label_smoothing"] = label_smoothing;
    j["init_weights"] = init_weights;
    return j.dump(2) + "\n";
}

TrainConfig TrainConfig::from_json(const std::string& text) {
    TrainConfig c;
    try {
        const nlohmann::json j = nlohmann::json::parse(text);
        c.model.graph = j.at("graph").get<std::string>();
        c.model.variant = j.value("variant", "");
        c.model.sets = j.value("sets", std::vector<std::string>{});
        c.data = j.at("data").get<std::string>();
        c.epochs = j.at("epochs").get<int>();
        c.batch = j.at("batch").get<std::int64_t>();
        c.lr = j.at("lr").get<double>();
        c.schedule = j.at("schedule").get<std::string>();
        c.warmup_epochs = j.value("warmup_epochs", 0.0);
        c.sgd.momentum = j.value("momentum", 0.9f);
        c.sgd.nesterov = j.value("nesterov", true);
        c.sgd.weight_decay = j.value("weight_decay", 1e-4f);
        c.sgd.decay_uncounted = j.value("decay_uncounted", true);
        c.augment = j.value("augment", true);
        c.pad = j.value("pad", 4);
        c.seed = j.value("seed", std::uint64_t{0});
        c.limit_train = j.value("limit_train", std::int64_t{0});
        c.limit_test = j.value("limit_test", std::int64_t{0});
        c.loss_op = j.value("loss_op", std::string("softmax_cross_entropy"));
        c.label_smoothing = j.value("label_smoothing", 0.0);
        c.init_weights = j.value("init_weights", std::string());
    } catch (const std::exception& e) {
        throw Error(fmt::format("run.json is malformed: {}", e.what()));
    }
    return c;
}

namespace {

datasets::Dataset first_n(datasets::Dataset d, std::int64_t n) {
    if (n <= 0 || n >= d.size()) return d;
    d.labels.resize(n);
    d.pixels.resize(n * d.image_bytes());
    return d;
}

// Fails early, with the fix, when the data does not fit the graph.
void check_fits(const datasets::Dataset& data, const Graph& graph, const std::string& spec) {
    const Shape& in = graph.values[graph.inputs.at(0)].desc.shape;
    if (in.size() != 4 || in[1] != data.channels || in[2] != data.height || in[3] != data.width)
        throw Error(fmt::format(
            "{}: images are {}×{}×{}, but graph '{}' takes {} (for the zoo's CIFAR families try --set in_channels={} "
            "--set size={})",
            spec, data.channels, data.height, data.width, graph.name, shape_str(Shape(in.begin() + 1, in.end())),
            data.channels, data.height));
    const TensorDesc& out = graph.values[graph.outputs.at(0)].desc;
    const std::int64_t classes = out.numel() / in[0];
    if (static_cast<std::int64_t>(data.class_names.size()) > classes)
        throw Error(fmt::format("{}: {} classes, but graph '{}' outputs {} (try --set classes={})", spec,
                                data.class_names.size(), graph.name, classes, data.class_names.size()));
}

struct Checkpoint {
    WeightMap weights, optimizer;
    int epoch = 0;
    double best_accuracy = -1;
    int best_epoch = 0;
    report::MetricsCsv::Row row;  // the metrics of its epoch
};

void save_checkpoint(const fs::path& path, const TrainingExecutor& exec, const Optimizer& sgd, const ModelInfo& info,
                     double best_accuracy, int best_epoch, const report::MetricsCsv::Row& row) {
    WeightMap all = exec.weights();
    for (auto& [name, t] : sgd.state()) all.emplace(name, t);
    auto meta = info.to_metadata();
    meta["weft.train.best_accuracy"] = fmt::format("{:.6f}", best_accuracy);
    meta["weft.train.best_epoch"] = std::to_string(best_epoch);
    meta["weft.train.metrics"] = nlohmann::json(row).dump();
    save_safetensors(path, all, meta);  // temporary file, fsync, rename
}

Checkpoint load_checkpoint(const fs::path& path, const Graph& graph) {
    std::map<std::string, std::string> meta;
    WeightMap all = load_safetensors(path, &meta);
    Checkpoint c;
    for (auto& [name, t] : all) (name.rfind("momentum/", 0) == 0 ? c.optimizer : c.weights).emplace(name, t);
    try {
        check_weights(graph, c.weights);
    } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", path.string(), e.what()));
    }
    const ModelInfo info = ModelInfo::from_metadata(meta);
    c.epoch = info.epoch;
    try {
        if (auto it = meta.find("weft.train.best_accuracy"); it != meta.end()) c.best_accuracy = std::stod(it->second);
        if (auto it = meta.find("weft.train.best_epoch"); it != meta.end()) c.best_epoch = std::stoi(it->second);
        if (auto it = meta.find("weft.train.metrics"); it != meta.end())
            c.row = nlohmann::json::parse(it->second).get<report::MetricsCsv::Row>();
    } catch (const std::exception&) {
        throw Error(fmt::format("{}: malformed training metadata", path.string()));
    }
    return c;
}

}  // namespace

std::vector<EpochResult> train(const TrainConfig& config, const Registry& registry, const TrainRuntime& runtime) {
    using Clock = std::chrono::steady_clock;
    if (config.epochs < 1) throw Error("--epochs must be at least 1");
    if (config.out_dir.empty()) throw Error("training needs an output directory (--out)");
    const LrSchedule schedule = LrSchedule::parse(config.schedule, config.lr, config.epochs, config.warmup_epochs);
    std::error_code ec;
    fs::create_directories(config.out_dir, ec);
    if (ec) throw Error(fmt::format("{}: cannot create: {}", config.out_dir.string(), ec.message()));
    const fs::path checkpoint_path = config.out_dir / "checkpoint.safetensors";
    const fs::path metrics_path = config.out_dir / "metrics.csv";
    // A run killed while writing leaves its temporary file behind (the real file is whole: the
    // old version or the new). Only weft writes these names here, and only one run at a time.
    for (const auto& entry : fs::directory_iterator(config.out_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 4 && (name.ends_with(".tmp") || name.find(".tmp-") != std::string::npos))
            fs::remove(entry.path(), ec);
    }
    if (!runtime.resume && fs::exists(checkpoint_path))
        throw Error(fmt::format("{} already holds a run (checkpoint.safetensors); resume it with --resume {} or "
                                "choose another --out",
                                config.out_dir.string(), config.out_dir.string()));

    const datasets::Dataset train_set = first_n(datasets::load_dataset(config.data, datasets::Split::train), config.limit_train);
    const datasets::Dataset test_set = first_n(datasets::load_dataset(config.data, datasets::Split::test), config.limit_test);
    if (train_set.size() < config.batch)
        throw Error(fmt::format("{}: {} training images, fewer than one batch of {}", config.data, train_set.size(),
                                config.batch));

    Graph graph = runtime.make_graph(config.batch);
    check_fits(train_set, graph, config.data);
    Graph eval_graph = graph;  // the plain classifier, for the test set
    Attributes loss_attrs;
    if (config.label_smoothing > 0) loss_attrs.set("label_smoothing", config.label_smoothing);
    const LossHead head = attach_loss(graph, registry, config.loss_op, loss_attrs);

    ModelInfo info = config.model;
    info.data = config.data;
    info.class_names = train_set.class_names;
    const datasets::Normalization normalization = datasets::channel_statistics(train_set);
    info.mean = normalization.mean;
    info.std = normalization.std;

    WeightMap weights;
    if (!config.init_weights.empty()) {
        weights = load_safetensors(config.init_weights);
        try {
            check_weights(graph, weights);
        } catch (const Error& e) {
            throw Error(fmt::format("{}: {}", config.init_weights, e.what()));
        }
    } else {
        weights = init_weights(graph, config.seed);
    }
    // Rewrites valid in training (fusing ReLU into batch norm); parameter names do not change,
    // so checkpoints fit the plain graph as well.
    run_passes(graph, weights, registry, select_passes(registry, runtime.passes, /*training=*/true));
    TrainingExecutor exec(graph, registry, weights, runtime.compile, head.loss);
    Optimizer sgd(exec, registry, config.sgd.optimizer_options());

    int start_epoch = 0;
    double best_accuracy = -1;
    int best_epoch = 0;
    report::MetricsCsv::Row resumed_row;
    if (runtime.resume && fs::exists(checkpoint_path)) {
        const Checkpoint c = load_checkpoint(checkpoint_path, graph);
        exec.set_weights(c.weights);
        try {
            sgd.load_state(c.optimizer);
        } catch (const Error& e) {
            throw Error(fmt::format("{}: {}", checkpoint_path.string(), e.what()));
        }
        start_epoch = c.epoch;
        best_accuracy = c.best_accuracy;
        best_epoch = c.best_epoch;
        resumed_row = c.row;
        // A run killed after its checkpoint but before the weights files of that epoch: write
        // them again from the checkpoint, which holds exactly those weights.
        ModelInfo at_checkpoint = info;
        at_checkpoint.epoch = c.epoch;
        if (const auto it = c.row.find("test_accuracy"); it != c.row.end()) at_checkpoint.test_accuracy = it->second;
        save_safetensors(config.out_dir / "last.safetensors", c.weights, at_checkpoint.to_metadata());
        if (c.best_epoch == c.epoch && c.epoch > 0)
            save_safetensors(config.out_dir / "best.safetensors", c.weights, at_checkpoint.to_metadata());
        // Rows of epochs after the checkpoint were reported by a run that died before saving it.
        report::MetricsCsv::truncate_after_epoch(metrics_path, start_epoch);
    } else {
        report::write_file_atomic(config.out_dir / "run.json", config.to_json());
    }

    const std::vector<std::string> columns = {"epoch",         "lr",        "train_loss",        "train_accuracy",
                                              "test_loss",     "test_accuracy", "test_top5",     "seconds",
                                              "images_per_second"};
    report::MetricsCsv csv(metrics_path, columns);
    std::vector<report::MetricsCsv::Row> history = report::MetricsCsv::read(metrics_path);
    // A run killed between writing its checkpoint and its metrics row: the checkpoint holds the row.
    if (start_epoch > 0 && !resumed_row.empty() &&
        (history.empty() || history.back().at("epoch") < double(start_epoch))) {
        csv.append(resumed_row);
        history.push_back(resumed_row);
    }

    datasets::LoaderOptions loader_options;
    loader_options.batch = config.batch;
    loader_options.shuffle = true;
    loader_options.drop_last = true;  // batch statistics of a padded batch would be skewed
    loader_options.normalization = normalization;
    loader_options.seed = config.seed;
    if (config.augment) loader_options.augment = {config.pad, true, true};

    std::vector<Tensor> outputs = exec.make_outputs();
    std::vector<Tensor> inputs(2);
    std::vector<EpochResult> results;
    const std::int64_t classes = outputs[1].numel() / config.batch;
    if (start_epoch >= config.epochs && runtime.progress)
        fmt::print(stderr, "{}: already trained for {} epochs\n", config.out_dir.string(), start_epoch);
    for (int epoch = start_epoch; epoch < config.epochs; ++epoch) {
        datasets::BatchLoader loader(train_set, loader_options, static_cast<std::uint64_t>(epoch));
        const std::int64_t steps = loader.batches();
        report::ProgressBar bar(fmt::format("epoch {}/{}", epoch + 1, config.epochs), steps * config.batch, "img",
                                runtime.progress ? stderr : nullptr);
        double loss_sum = 0, lr = 0;
        std::int64_t correct = 0, seen = 0, step = 0, count = 0;
        const auto start = Clock::now();
        while (loader.next(inputs[0], inputs[1], count)) {
            lr = schedule.at(epoch + double(step) / double(steps));
            exec.step(inputs, outputs);
            const float loss = outputs[0].as<float>()[0];
            if (!std::isfinite(loss))
                throw Error(fmt::format("epoch {} step {}: the loss is {}; training stopped (learning rate {:.4g} too "
                                        "high?). {}",
                                        epoch + 1, step + 1, loss, lr,
                                        epoch == 0 ? std::string("No epoch had completed, so nothing was saved.")
                                                   : fmt::format("The last good checkpoint, epoch {}, is in {}", epoch,
                                                                 config.out_dir.string())));
            sgd.step(static_cast<float>(lr));
            const float* logits = outputs[1].as<float>();
            const std::int32_t* y = inputs[1].as<std::int32_t>();
            for (std::int64_t i = 0; i < config.batch; ++i) {
                const float* s = logits + i * classes;
                correct += (std::max_element(s, s + classes) - s) == y[i];
            }
            loss_sum += loss;
            seen += config.batch;
            ++step;
            bar.update(seen, {{"loss", fmt::format("{:.4f}", loss_sum / double(step))},
                              {"acc", fmt::format("{:.2f}%", 100.0 * double(correct) / double(seen))},
                              {"lr", fmt::format("{:.4g}", lr)}});
        }
        const double train_seconds = std::chrono::duration<double>(Clock::now() - start).count();
        bar.finish({{"loss", fmt::format("{:.4f}", loss_sum / double(std::max<std::int64_t>(step, 1)))},
                    {"acc", fmt::format("{:.2f}%", 100.0 * double(correct) / double(std::max<std::int64_t>(seen, 1)))}});

        EpochResult r;
        r.epoch = epoch + 1;
        r.lr = lr;
        r.train_loss = loss_sum / double(std::max<std::int64_t>(step, 1));
        r.train_accuracy = double(correct) / double(std::max<std::int64_t>(seen, 1));
        r.seconds = train_seconds;
        r.images_per_second = double(seen) / std::max(train_seconds, 1e-9);
        {
            CompileOptions inference = runtime.compile;
            Executor eval(eval_graph, registry, exec.weights(), inference);
            const Evaluation e = evaluate(eval, test_set, normalization, /*probabilities=*/true, runtime.progress, "test");
            r.test_loss = e.loss;
            r.test_accuracy = e.top1;
            r.test_top5 = e.top5;
        }
        results.push_back(r);

        report::MetricsCsv::Row row{{"epoch", r.epoch},
                                    {"lr", r.lr},
                                    {"train_loss", r.train_loss},
                                    {"train_accuracy", r.train_accuracy},
                                    {"test_loss", r.test_loss},
                                    {"test_accuracy", r.test_accuracy},
                                    {"test_top5", r.test_top5},
                                    {"seconds", r.seconds},
                                    {"images_per_second", r.images_per_second}};
        // Checkpoint first, then the files that describe it: a crash in between leaves a
        // checkpoint one epoch ahead of metrics.csv, which resuming repairs from the row the
        // checkpoint carries; never metrics for an epoch without its weights.
        info.epoch = r.epoch;
        info.test_accuracy = r.test_accuracy;
        const bool best = r.test_accuracy > best_accuracy;
        if (best) best_accuracy = r.test_accuracy, best_epoch = r.epoch;
        save_checkpoint(checkpoint_path, exec, sgd, info, best_accuracy, best_epoch, row);
        const WeightMap w = exec.weights();
        save_safetensors(config.out_dir / "last.safetensors", w, info.to_metadata());
        if (best) save_safetensors(config.out_dir / "best.safetensors", w, info.to_metadata());

        csv.append(row);
        history.push_back(row);
        report::write_file_atomic(config.out_dir / "curves.svg",
                                  report::training_curves_svg(history, fmt::format("{} on {}", config.model.graph, config.data)));
        if (runtime.progress)
            fmt::print(stderr, "epoch {}/{}: train loss {:.4f} acc {:.2f}% | test loss {:.4f} acc {:.2f}% top-5 {:.2f}%{} | {:.0f} img/s\n",
                       r.epoch, config.epochs, r.train_loss, 100 * r.train_accuracy, r.test_loss, 100 * r.test_accuracy,
                       100 * r.test_top5, best ? " (best)" : "", r.images_per_second);
    }
    return results;
}

}  // namespace weft::training
