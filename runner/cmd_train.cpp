// weft train / eval: SGD on a dataset with checkpoints and curves; accuracy, per-class accuracy
// and the confusion matrix of trained weights.
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "distributed.h"
#include "options.h"
#include "stop_signals.h"
#include "weft/datasets/dataset.h"
#include "weft/error.h"
#include "weft/input_file.h"
#include "weft/report/charts.h"
#include "weft/report/files.h"
#include "weft/report/picture.h"
#include "weft/training/evaluate.h"
#include "weft/training/trainer.h"
#include "written_file.h"

namespace weft::runner {
namespace {
namespace fs = std::filesystem;

// A stop asked of one rank of a job waits until every rank agrees to stop after the same step; a
// rank that died never will, and the survivors would wait in the gradient exchange for ever. The
// least time a rank waits for that agreement (longer when its steps are long).
constexpr int kRankStopGraceSeconds = 20;

struct TrainOptions {
    GraphOptions graph;
    DeviceChoice device;
    training::TrainConfig config;
    std::string resume;
    std::string decay_bn = "yes";
    std::vector<double> crop_scale, crop_ratio;
    int loader_threads = 0;
    bool no_augment = false;
    bool force = false;
    bool quiet = false;
    bool json = false;
    bool distributed = false;  // one rank of an MPI job (implied when an MPI launcher started several)
    bool sync_bn = false;
};

// The run as its directory now holds it, for --json: settings, schedule, every epoch's metrics row
// (earlier runs' too, when resumed), the best and last epoch and the files.
nlohmann::json train_summary(const training::TrainConfig& config, const std::vector<training::EpochResult>& results) {
    const fs::path dir = config.out_dir;
    const auto history = report::MetricsCsv::read(dir / "metrics.csv");
    const auto best = report::best_test_accuracy(history);
    const int first_epoch = results.empty() ? config.epochs : results.front().epoch - 1;
    nlohmann::json files;
    for (const char* name : {"run.json", "metrics.csv", "steps.jsonl", "curves.svg", "checkpoint.safetensors",
                             "best.safetensors", "last.safetensors"})
        files[name] = (dir / name).string();
    return {{"run_dir", dir.string()},
            {"graph", config.model.graph},
            {"data", config.data},
            {"epochs", config.epochs},
            {"epochs_run_now", results.size()},
            {"schedule", training::describe_schedule(config, first_epoch)},
            {"best", best ? nlohmann::json{{"epoch", best->epoch}, {"test_accuracy", best->accuracy}} : nlohmann::json()},
            {"last", history.empty() ? nlohmann::json() : nlohmann::json(history.back())},
            {"history", history},
            {"files", files}};
}

void apply_crop_ranges(const TrainOptions& o, training::TrainConfig& config) {
    if (!o.crop_scale.empty()) config.crop.min_scale = o.crop_scale[0], config.crop.max_scale = o.crop_scale[1];
    if (!o.crop_ratio.empty()) config.crop.min_ratio = o.crop_ratio[0], config.crop.max_ratio = o.crop_ratio[1];
}

// A resume continues the run as it was started: the same data order, augmentation and optimiser,
// so that interrupted and resumed it ends where an uninterrupted run ends. An option that would
// change that is refused by name (a restated equal value is fine); to train on with other
// settings, a new run starts from the weights with --init.
void refuse_changed_settings(const TrainOptions& o, const CLI::App& cmd, const training::TrainConfig& run) {
    training::TrainConfig asked = o.config;
    asked.augment = !o.no_augment;
    asked.sgd.decay_uncounted = o.decay_bn == "yes";
    apply_crop_ranges(o, asked);
    const nlohmann::json was = nlohmann::json::parse(run.to_json()), now = nlohmann::json::parse(asked.to_json());
    const std::pair<const char*, const char*> settings[] = {
        {"--data", "data"},           {"--batch", "batch"},          {"--lr", "lr"},
        {"--schedule", "schedule"},   {"--warmup", "warmup_epochs"}, {"--momentum", "momentum"},
        {"--weight-decay", "weight_decay"}, {"--decay-bn", "decay_uncounted"}, {"--no-nesterov", "nesterov"},
        {"--label-smoothing", "label_smoothing"}, {"--no-augment", "augment"}, {"--pad", "pad"},
        {"--seed", "seed"},           {"--limit-train", "limit_train"}, {"--limit-test", "limit_test"},
        {"--init", "init_weights"},   {"--crop-scale", "crop_scale"}, {"--crop-ratio", "crop_ratio"},
        {"--centre-crop", "centre_crop"}};
    const auto refuse = [&](const std::string& option, const std::string& value) {
        throw Error(fmt::format("--resume {}: {} cannot change on a resume (the run has {}); only --epochs and "
                                "--schedule-epochs can. To train on with other settings, start a new run with --init "
                                "{}/last.safetensors",
                                o.resume, option, value, o.resume));
    };
    const auto field = [](const nlohmann::json& j, const char* key) {
        return j.contains(key) ? j.at(key) : nlohmann::json();
    };
    for (const auto& [option, key] : settings)
        if (cmd.count(option) && field(was, key) != field(now, key)) refuse(option, field(was, key).dump());
    if (cmd.count("graph") && o.graph.graph != run.model.graph) refuse("the graph", run.model.graph);
    if (cmd.count("--variant") && o.graph.variant != run.model.variant) refuse("--variant", run.model.variant);
    if (cmd.count("--set") && o.graph.sets != run.model.sets)
        refuse("--set", fmt::format("{}", fmt::join(run.model.sets, " ")));
    if (cmd.count("--out") && fs::path(o.config.out_dir) != fs::path(o.resume))
        throw Error(fmt::format("--resume {} --out {}: a resume writes into the run's own directory; give one of them",
                                o.resume, o.config.out_dir.string()));
}

void train_command(TrainOptions& o, const CLI::App& cmd) {
    training::TrainConfig config = o.config;
    training::TrainRuntime runtime;
    if (!o.resume.empty()) {
        // The run's own settings win; only --epochs and --schedule-epochs may be asked for. The
        // schedule keeps its length unless --schedule-epochs restates it.
        const fs::path dir = o.resume;
        if (!fs::exists(dir / "run.json"))
            throw Error(fmt::format("--resume {}: no run.json there (not a weft training run)", o.resume));
        config = training::TrainConfig::from_json(read_whole_file(dir / "run.json", 1 << 20, "a run's settings"));
        refuse_changed_settings(o, cmd, config);
        if (cmd.count("--epochs")) config.epochs = o.config.epochs;
        if (cmd.count("--schedule-epochs")) config.schedule_epochs = o.config.schedule_epochs;
        config.out_dir = dir;
        runtime.resume = true;
        runtime.force = o.force;
    } else {
        runtime.force = o.force;
        if (config.data.empty()) throw Error("--data is required (e.g. --data fashion-mnist or --data cifar10:DIR)");
        if (config.out_dir.empty()) throw Error("--out RUN_DIR is required");
        config.model.graph = o.graph.graph;
        config.model.variant = o.graph.variant;
        config.model.sets = o.graph.sets;
        config.augment = !o.no_augment;
        config.sgd.decay_uncounted = o.decay_bn == "yes";
        apply_crop_ranges(o, config);
    }
    GraphOptions graph_options = o.graph;
    graph_options.graph = config.model.graph;
    graph_options.variant = config.model.variant;
    graph_options.sets = config.model.sets;
    auto registry = load_device_registry(graph_options, o.device);
    runtime.compile = compile_options(o.device);
    runtime.passes = o.device.passes;
    runtime.progress = !o.quiet;
    runtime.loader_threads = o.loader_threads;
    runtime.make_graph = [&](std::int64_t batch) { return load_graph(graph_options, *registry, batch); };
    // An ONNX GRAPH is fine-tuned from its own weights unless --init names others.
    if (onnx_format::is_onnx_path(graph_options.graph))
        if (const onnx_format::OnnxModel* model = imported_onnx(load_graph(graph_options, *registry, 1)))
            runtime.graph_weights = model->weights;
    training::check_schedule_covers_epochs(config);  // refused before anything is printed or loaded
    config.sync_batch_norm = o.sync_bn;  // the job's, not the run's: each invocation says
    // Before MPI starts its threads, so that they too leave SIGINT and SIGTERM to the watcher.
    const StopSignals stop_signals;
    const std::unique_ptr<training::Communicator> communicator = open_communicator(o.distributed);
    const bool rank0 = !communicator || communicator->rank() == 0;
    if (communicator) {
        runtime.communicator = communicator.get();
        StopSignals::end_unagreed_stop_after(kRankStopGraceSeconds, communicator->rank());
        // One GPU per rank: the rank's place on its machine, unless --device names the GPU.
        if (runtime.compile.backend == "cuda" && o.device.device.find(':') == std::string::npos)
            runtime.compile.device.index = local_rank();
        std::string why_not;
        runtime.device_allreduce = device_allreduce_for(runtime.compile.backend, why_not);
        if (!why_not.empty() && !o.quiet && communicator->rank() == 0)
            fmt::print(stderr, "weft: gradients go through host memory and MPI: {}\n", why_not);
    }
    if (!o.quiet && rank0)
        fmt::print(stderr, "training {} on {} for {} epochs, batch {}{}, into {}\n", config.model.graph,
                   config.data, config.epochs, config.batch,
                   communicator ? fmt::format(" over {} ({} per rank)", communicator->description(),
                                              config.batch / communicator->size())
                                : std::string(),
                   config.out_dir.string());
    runtime.stop_requested = [] { return StopSignals::received(); };
    std::vector<training::EpochResult> results;
    try {
        results = training::train(config, *registry, runtime);
    } catch (const training::Interrupted& interrupted) {
        if (rank0) fmt::print(stderr, "weft: {}\n", interrupted.what());
        throw ExitStatus{128 + interrupted.signal()};
    } catch (const std::exception& e) {
        // The other ranks may wait in a collective for this one: end the whole job, saying why.
        if (!communicator || communicator->size() == 1) throw;
        fmt::print(stderr, "weft: error: rank {} of {}: {}\n", communicator->rank(), communicator->size(),
                   e.what());
        communicator->abort(dynamic_cast<const Error*>(&e) ? 2 : 1);
    }
    if (!rank0) return;
    if (o.json) {
        fmt::print("{}\n", train_summary(config, results).dump(2));
        return;
    }
    if (!results.empty()) {
        const auto& last = results.back();
        fmt::print("trained {} epochs: test accuracy {:.2f}% (top-5 {:.2f}%), {:.0f} images/s; weights in {}\n",
                   last.epoch, 100 * last.test_accuracy, 100 * last.test_top5, last.images_per_second,
                   (config.out_dir / "best.safetensors").string());
    }
}

struct EvalOptions {
    GraphOptions graph;
    DeviceChoice device;
    std::string weights;
    std::string data;
    std::string split = "test";
    std::int64_t batch = 100;
    std::int64_t limit = 0;
    std::string confusion;  // picture
    bool mirror = false;    // average each image's prediction with its mirror image's
    double centre_fraction = 0.875;
    int loader_threads = 0;
    bool json = false;
    bool quiet = false;
};

void eval_command(EvalOptions& o, const CLI::App& cmd) {
    if (!o.confusion.empty()) report::picture_format(o.confusion);  // a bad name fails before the evaluation
    // An ONNX GRAPH carries its weights and their metadata; anything else needs --weights.
    const bool onnx_weights = o.weights.empty() && cmd.count("graph") && onnx_format::is_onnx_path(o.graph.graph);
    if (o.weights.empty() && !onnx_weights)
        throw Error("--weights is required (trained weights, .safetensors), unless GRAPH is an .onnx model, which "
                    "carries its own");
    std::map<std::string, std::string> meta;
    WeightMap weights;
    if (!onnx_weights) weights = load_safetensors(o.weights, &meta);
    std::string weights_source = o.weights;  // what the results name as the weights
    training::ModelInfo info = training::ModelInfo::from_metadata(meta);
    GraphOptions graph_options = o.graph;
    // A weft-trained file knows its graph and data; explicit arguments still win.
    if (!cmd.count("graph") && !info.graph.empty()) {
        graph_options.graph = info.graph;
        graph_options.variant = info.variant;
        graph_options.sets = info.sets;
    }
    auto registry = load_device_registry(graph_options, o.device);
    Graph graph = load_graph(graph_options, *registry, o.batch);
    if (onnx_weights) {
        const onnx_format::OnnxModel* model = imported_onnx(graph);
        if (!model) throw Error(fmt::format("{}: not read as an ONNX model", o.graph.graph));
        weights = model->weights;
        info = training::ModelInfo::from_metadata(model->metadata);
        weights_source = fmt::format("{} (its initialisers)", o.graph.graph);
    }
    const std::string data_spec = !o.data.empty() ? o.data : info.data;
    if (data_spec.empty())
        throw Error(fmt::format("{} does not say what it was trained on: give --data", weights_source));
    try {
        check_weights(graph, weights);
    } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", weights_source, e.what()));
    }
    datasets::Dataset data = datasets::first_n(
        datasets::load_dataset(data_spec, o.split == "train" ? datasets::Split::train : datasets::Split::test), o.limit);
    const Shape& in = graph.values[graph.inputs.at(0)].desc.shape;
    if (in.size() == 4) datasets::take_input_size(data, in[2], in[3]);  // a streamed set: the graph's size
    if (in.size() != 4 || in[1] != data.channels || in[2] != data.height || in[3] != data.width)
        throw Error(fmt::format("{}: images are {}×{}×{}, graph '{}' takes {}", data_spec, data.channels, data.height,
                                data.width, graph.name, shape_str(Shape(in.begin() + 1, in.end()))));
    datasets::Normalization normalization;
    if (info.has_normalization()) {
        normalization.mean = info.mean;
        normalization.std = info.std;
    } else {
        datasets::Dataset train = datasets::load_dataset(data_spec, datasets::Split::train);
        if (in.size() == 4) datasets::take_input_size(train, in[2], in[3]);
        normalization = datasets::channel_statistics(train);
    }
    const std::string passes = apply_passes(graph, weights, *registry, o.device);
    Executor exec(graph, *registry, weights, compile_options(o.device));
    const training::Evaluation e =
        training::evaluate(exec, data, normalization, true, !o.quiet && !o.json, "eval", o.mirror,
                           {training::loader_workers(data, o.loader_threads), o.centre_fraction});
    std::vector<std::string> names = data.class_names;
    if (names.empty()) names = info.class_names;
    const auto per_class = e.class_accuracy();
    std::optional<WrittenFile> picture;
    if (!o.confusion.empty()) {
        const std::size_t bytes = report::write_picture(
            o.confusion, report::confusion_matrix_svg(e.confusion, names,
                                                      fmt::format("{} on {} ({}): {:.2f}% top-1", graph.name, data_spec,
                                                                  o.split, 100 * e.top1)));
        picture = WrittenFile{o.confusion, std::string(report::picture_format_name(report::picture_format(o.confusion))),
                              bytes};
    }
    if (o.json) {
        nlohmann::json j = {{"weights", weights_source}, {"data", data_spec},   {"split", o.split},
                            {"images", e.count},    {"top1", e.top1},      {"top5", e.top5},
                            {"loss", e.loss},       {"mirror_averaged", o.mirror}, {"seconds", e.seconds}, {"images_per_second", double(e.count) / e.seconds},
                            {"confusion", e.confusion}, {"class_names", names}, {"class_accuracy", per_class}};
        if (picture) j["confusion_picture"] = picture->json();
        fmt::print("{}\n", j.dump(2));
    } else {
        fmt::print("{} on {} ({} split, {} images) with {} on {}; passes: {}\n", graph.name, data_spec, o.split,
                   e.count, weights_source, describe_executor(exec), passes);
        fmt::print("top-1 accuracy {:.2f}%  top-5 {:.2f}%  loss {:.4f}{}  ({:.2f} s, {:.0f} images/s)\n", 100 * e.top1,
                   100 * e.top5, e.loss, o.mirror ? "  (each image averaged with its mirror image)" : "", e.seconds,
                   double(e.count) / e.seconds);
        fmt::print("\nper class:\n");
        std::size_t width = 5;
        for (const auto& n : names) width = std::max(width, n.size());
        for (std::size_t c = 0; c < per_class.size() && c < std::max<std::size_t>(names.size(), 1); ++c)
            fmt::print("  {:<{}}  {:6.2f}%\n", c < names.size() ? names[c] : std::to_string(c), width, 100 * per_class[c]);
        if (per_class.size() <= 20) {
            fmt::print("\nconfusion matrix (rows: true class, columns: predicted):\n{:>{}}", "", width + 2);
            for (std::size_t c = 0; c < per_class.size(); ++c) fmt::print(" {:>5}", c);
            fmt::print("\n");
            for (std::size_t r = 0; r < per_class.size(); ++r) {
                fmt::print("  {:<{}}", r < names.size() ? names[r] : std::to_string(r), width);
                for (std::size_t c = 0; c < per_class.size(); ++c) fmt::print(" {:>5}", e.confusion[r][c]);
                fmt::print("\n");
            }
        }
        if (picture) fmt::print("{}\n", picture->line());
    }
}

std::string kinds_help() {
    std::string s;
    for (const auto& k : datasets::dataset_kinds()) s += (s.empty() ? "" : ", ") + k;
    return s;
}

}  // namespace

void add_train_command(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* cmd = app.add_subcommand("train", "train a graph with SGD on a dataset (checkpoints, metrics, curves)");
    add_graph_options(*cmd, o->graph);
    add_device_options(*cmd, o->device);
    add_numerics_option(*cmd, o->device);
    auto& c = o->config;
    cmd->add_option("--data", c.data, "dataset: " + kinds_help());
    cmd->add_option("--out", c.out_dir, "run directory (metrics.csv, curves.svg, checkpoints)");
    cmd->add_option("--resume", o->resume,
                    "continue the run in this directory from its last checkpoint (its settings are kept; only --epochs "
                    "and --schedule-epochs may change)");
    cmd->add_flag("--force", o->force,
                  "train into a non-empty --out directory that is no weft run directory (files of the names weft "
                  "writes are replaced)");
    cmd->add_option("--epochs", c.epochs, "epochs")->check(CLI::Range(1, 100000))->capture_default_str();
    cmd->add_option("--batch", c.batch, "batch size")->check(CLI::Range(1, 1 << 16))->capture_default_str();
    cmd->add_option("--lr", c.lr, "base learning rate")->check(finite_number() & CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--schedule", c.schedule, "constant, cosine, step:E1,E2[@GAMMA] (the paper: ×0.1 at epochs)")
        ->capture_default_str();
    cmd->add_option("--schedule-epochs", c.schedule_epochs,
                    "lay the schedule out over this many epochs (default: --epochs; kept by --resume, which trains on "
                    "at the schedule's end value past it)")
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--warmup", c.warmup_epochs, "linear learning-rate warm-up, epochs")->check(finite_number() & CLI::NonNegativeNumber)->capture_default_str();
    cmd->add_option("--momentum", c.sgd.momentum, "SGD momentum")->check(finite_number() & CLI::Range(0.0, 0.9999))->capture_default_str();
    cmd->add_option("--weight-decay", c.sgd.weight_decay, "L2 weight decay")->check(finite_number() & CLI::NonNegativeNumber)->capture_default_str();
    cmd->add_option("--decay-bn", o->decay_bn, "apply weight decay to batch-norm scale and shift too (yes/no)")
        ->check(CLI::IsMember({"yes", "no"}))->capture_default_str();
    cmd->add_flag("!--no-nesterov", c.sgd.nesterov, "plain momentum instead of Nesterov's");
    cmd->add_option("--label-smoothing", c.label_smoothing,
                    "move this much of each training target's weight evenly onto all classes (0: none)")
        ->check(finite_number() & CLI::Range(0.0, 0.999))
        ->capture_default_str();
    cmd->add_flag("--no-augment", o->no_augment, "no padding, cropping or flipping");
    cmd->add_option("--pad", c.pad, "zero padding before the random crop")->check(CLI::Range(0, 64))->capture_default_str();
    cmd->add_option("--crop-scale", o->crop_scale,
                    "streamed sets (imagenet:DIR): the random-resized crop's area range, as fractions of the image "
                    "(default 0.08,1)")
        ->delimiter(',')->expected(2)->check(finite_number());
    cmd->add_option("--crop-ratio", o->crop_ratio,
                    "streamed sets: the crop's aspect-ratio range, width/height (default 0.75,1.3333)")
        ->delimiter(',')->expected(2)->check(finite_number());
    cmd->add_option("--centre-crop", c.centre_fraction,
                    "streamed sets: evaluation resizes the shorter side to size/F and takes the centre")
        ->check(finite_number() & CLI::Range(0.01, 1.0))->capture_default_str();
    cmd->add_option("--loader-threads", o->loader_threads,
                    "threads making batches (default: every hardware thread for a streamed set, 1 otherwise)")
        ->check(CLI::Range(1, 1024));
    cmd->add_option("--seed", c.seed, "seed for weights, data order and augmentation")->capture_default_str();
    cmd->add_option("--limit-train", c.limit_train, "use only the first N training images")->check(CLI::NonNegativeNumber);
    cmd->add_option("--limit-test", c.limit_test, "use only the first N test images")->check(CLI::NonNegativeNumber);
    cmd->add_option("--init", c.init_weights, "start from these weights (.safetensors) instead of the seed");
    cmd->add_flag("--quiet", o->quiet, "no progress bars or per-epoch lines");
    cmd->add_flag("--json", o->json, "a JSON summary of the run on stdout at the end (progress stays on stderr)");
    cmd->add_flag("--distributed", o->distributed,
                  "train data-parallel as one rank of an MPI job (implied under mpirun -np N, N > 1): "
                  "--batch is the global batch, cut evenly among the ranks; rank 0 writes the run directory");
    cmd->add_flag("--sync-bn", o->sync_bn,
                  "data-parallel: batch norm normalises with the statistics of the global batch, summed over "
                  "the ranks in every batch-norm layer (default: each rank's own shard's)");
    cmd->callback([o, cmd] { train_command(*o, *cmd); });
}

void add_eval_command(CLI::App& app) {
    auto o = std::make_shared<EvalOptions>();
    CLI::App* cmd = app.add_subcommand("eval", "accuracy of trained weights: top-1/top-5, per class, confusion matrix");
    add_graph_options(*cmd, o->graph);
    add_device_options(*cmd, o->device);
    add_numerics_option(*cmd, o->device);
    cmd->add_option("--weights", o->weights,
                    "trained weights (.safetensors; a weft-trained file names its graph and data); an .onnx GRAPH "
                    "carries its own");
    cmd->add_option("--data", o->data, "dataset (default: the one the weights were trained on): " + kinds_help());
    cmd->add_option("--split", o->split, "test or train")->check(CLI::IsMember({"test", "train"}))->capture_default_str();
    cmd->add_option("--batch", o->batch, "batch size")->check(CLI::Range(1, 1 << 16))->capture_default_str();
    cmd->add_option("--limit", o->limit, "only the first N images")->check(CLI::NonNegativeNumber);
    cmd->add_option("--confusion", o->confusion, "write the confusion matrix as a picture (.svg or .png)");
    cmd->add_flag("--mirror", o->mirror,
                  "test-time augmentation: average each image's probabilities with its left-right mirror's (2x compute)");
    cmd->add_option("--centre-crop", o->centre_fraction,
                    "streamed sets (imagenet:DIR): resize the shorter side to size/F and take the centre")
        ->check(finite_number() & CLI::Range(0.01, 1.0))->capture_default_str();
    cmd->add_option("--loader-threads", o->loader_threads,
                    "threads making batches (default: every hardware thread for a streamed set, 1 otherwise)")
        ->check(CLI::Range(1, 1024));
    cmd->add_flag("--json", o->json, "machine-readable output");
    cmd->add_flag("--quiet", o->quiet, "no progress bar");
    cmd->callback([o, cmd] { eval_command(*o, *cmd); });
}

}  // namespace weft::runner
