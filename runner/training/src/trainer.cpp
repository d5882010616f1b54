// The training loop behind `weft train`, in the steps a run goes through: prepare its directory,
// set up the model (graph, loss head, weights, passes, executor, optimiser), resume from the
// checkpoint or start, then per epoch train, evaluate and record (checkpoint first, then the files
// that describe it). run.json is run_config.cpp's business, the checkpoint file checkpoint.cpp's.
#include "weft/training/trainer.h"

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <span>

#include <fmt/format.h>

#include "checkpoint.h"
#include "gradient_averager.h"
#include "rank_group.h"
#include "run_directory.h"
#include "weft/datasets/dataset.h"
#include "weft/datasets/loader.h"
#include "weft/error.h"
#include "weft/output_file.h"
#include "weft/graph_pass.h"
#include "weft/report/charts.h"
#include "weft/report/files.h"
#include "weft/report/progress.h"
#include "weft/training.h"
#include "weft/training/evaluate.h"

namespace weft::training {
namespace fs = std::filesystem;

namespace {

// Fails early, with the fix, when the data does not fit the graph. A streamed set (images of any
// size) takes the graph's input size here.
void fit_to_graph(datasets::Dataset& data, const Graph& graph, const std::string& spec) {
    const Shape& in = graph.values[graph.inputs.at(0)].desc.shape;
    if (data.streamed() && in.size() == 4) {
        if (in[1] != 3)
            throw Error(fmt::format("{}: images are made RGB, but graph '{}' takes {} channels (drop --set "
                                    "in_channels)", spec, graph.name, in[1]));
        datasets::take_input_size(data, in[2], in[3]);
    }
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

const std::vector<std::string> kMetricColumns = {"epoch",     "lr",            "train_loss", "train_accuracy",
                                                 "test_loss", "test_accuracy", "test_top5",  "seconds",
                                                 "images_per_second"};

// steps.jsonl: one record per training step, beside the per-epoch metrics.csv.
const std::vector<std::string> kStepKeys = {"step", "epoch", "loss", "accuracy", "lr", "images_per_second"};

std::string signal_name(int signal) {
    if (signal == SIGINT) return "SIGINT";
    if (signal == SIGTERM) return "SIGTERM";
    return fmt::format("signal {}", signal);
}

report::MetricsCsv::Row metrics_row(const EpochResult& r) {
    return {{"epoch", r.epoch},
            {"lr", r.lr},
            {"train_loss", r.train_loss},
            {"train_accuracy", r.train_accuracy},
            {"test_loss", r.test_loss},
            {"test_accuracy", r.test_accuracy},
            {"test_top5", r.test_top5},
            {"seconds", r.seconds},
            {"images_per_second", r.images_per_second}};
}

// One training run's state between the steps of train().
class TrainingRun {
public:
    TrainingRun(const TrainConfig& config, const Registry& registry, const TrainRuntime& runtime)
        : config_(config),
          registry_(registry),
          runtime_(runtime),
          communicator_(runtime.communicator),
          rank_(communicator_ ? communicator_->rank() : 0),
          ranks_(communicator_ ? communicator_->size() : 1),
          writes_(rank_ == 0),
          schedule_(run_schedule(config)),
          train_set_(datasets::first_n(datasets::load_dataset(config.data, datasets::Split::train),
                                       config.limit_train)),
          test_set_(datasets::first_n(datasets::load_dataset(config.data, datasets::Split::test),
                                      config.limit_test)),
          checkpoint_path_(config.out_dir / "checkpoint.safetensors"),
          metrics_path_(config.out_dir / "metrics.csv"),
          steps_path_(config.out_dir / "steps.jsonl"),
          steps_per_epoch_(train_set_.size() / config.batch) {
        if (train_set_.size() < config.batch)
            throw Error(fmt::format("{}: {} training images, fewer than one batch of {}", config.data,
                                    train_set_.size(), config.batch));
        set_up_model();
    }

    // Continues from the checkpoint, or starts. run.json holds the settings as they are now (a
    // resume may have asked for more epochs or another schedule length), so that resuming again
    // continues to the same end.
    void resume_or_start() {
        if (runtime_.resume) resume();
        if (communicator_) broadcast_parameters(*exec_, *communicator_);
        if (!writes_) return;
        write_file_atomically(config_.out_dir / "run.json", config_.to_json());
        // Steps after the checkpoint were logged by a run that died before saving it (or, with no
        // checkpoint yet, before its first epoch ended); they run again.
        report::StepLog::truncate_after_step(steps_path_, start_epoch_ * steps_per_epoch_ + resumed_progress_.steps);
        steps_.emplace(steps_path_, kStepKeys);
        csv_.emplace(metrics_path_, kMetricColumns);
        history_ = report::MetricsCsv::read(metrics_path_);
        // A run killed between writing its checkpoint and its metrics row: the checkpoint holds the row.
        if (start_epoch_ > 0 && !resumed_row_.empty() &&
            (history_.empty() || history_.back().at("epoch") < double(start_epoch_))) {
            csv_->append(resumed_row_);
            history_.push_back(resumed_row_);
        }
    }

    std::vector<EpochResult> run_epochs() {
        std::vector<EpochResult> results;
        if (progress()) announce_schedule();
        if (start_epoch_ >= config_.epochs && progress())
            fmt::print(stderr, "{}: already trained for {} epochs\n", config_.out_dir.string(), start_epoch_);
        if (const int signal = stop_signal())
            throw Interrupted(signal, fmt::format("interrupted by {} before the first step; {} is as it was",
                                                  signal_name(signal), config_.out_dir.string()));
        for (int epoch = start_epoch_; epoch < config_.epochs; ++epoch) {
            EpochResult r = train_epoch(epoch);
            evaluate(r);
            record(r);
            results.push_back(r);
            if (const int signal = stop_signal(); signal && epoch + 1 < config_.epochs)
                throw Interrupted(signal, fmt::format("interrupted by {} after epoch {}, whose checkpoint is written; "
                                                      "continue with weft train --resume {}",
                                                      signal_name(signal), epoch + 1, config_.out_dir.string()));
        }
        return results;
    }

private:
    // What the learning rate will do, before the first step; and, for a resumed run whose schedule
    // length was changed, that the rate rises from where the last epoch left it.
    void announce_schedule() const {
        fmt::print(stderr, "{}\n", describe_schedule(config_, start_epoch_));
        const auto last = resumed_row_.find("lr");
        if (start_epoch_ > 0 && start_epoch_ < config_.epochs && last != resumed_row_.end() &&
            schedule_.at(start_epoch_) > last->second * (1 + 1e-6))
            fmt::print(stderr, "note: the learning rate rises from {:.4g} (end of epoch {}) to {:.4g}\n", last->second,
                       start_epoch_, schedule_.at(start_epoch_));
    }

    // Progress bars and lines are rank 0's.
    bool progress() const { return runtime_.progress && writes_; }

    // The signal that stops the run, agreed by every rank (each calls this at the same points), so
    // that all stop after the same step: the largest any rank has received, 0 while none has.
    int stop_signal() const {
        const int own = runtime_.stop_requested ? runtime_.stop_requested() : 0;
        if (!communicator_) return own;
        double signal = own;
        communicator_->allreduce_max(std::span<double>(&signal, 1));
        return static_cast<int>(signal);
    }

    EvaluationView evaluation_view() const {
        return {loader_workers(test_set_, runtime_.loader_threads), config_.centre_fraction};
    }

    void set_up_model() {
        graph_ = runtime_.make_graph(config_.batch / ranks_);  // this rank's shard of the batch
        fit_to_graph(train_set_, graph_, config_.data);
        fit_to_graph(test_set_, graph_, config_.data);
        // Rank r of N evaluates the contiguous share [r/N, (r+1)/N) of the test set.
        if (ranks_ > 1)
            test_shard_ = datasets::slice(test_set_, test_set_.size() * rank_ / ranks_,
                                          test_set_.size() * (rank_ + 1) / ranks_);
        eval_graph_ = graph_;  // the plain classifier, for the test set
        Attributes loss_attrs;
        if (config_.label_smoothing > 0) loss_attrs.set("label_smoothing", config_.label_smoothing);
        const LossHead head = attach_loss(graph_, registry_, config_.loss_op, loss_attrs);

        info_ = config_.model;
        info_.data = config_.data;
        info_.class_names = train_set_.class_names;
        if (runtime_.progress && train_set_.streamed())
            fmt::print(stderr, "{}: {} training images, channel statistics from a sample of them\n", config_.data,
                       train_set_.size());
        normalization_ = datasets::channel_statistics(train_set_);
        info_.mean = normalization_.mean;
        info_.std = normalization_.std;

        WeightMap weights = initial_weights();
        // Rewrites valid in training (fusing ReLU into batch norm); parameter names do not change,
        // so checkpoints fit the plain graph as well.
        run_passes(graph_, weights, registry_, select_passes(registry_, runtime_.passes, /*training=*/true));
        CompileOptions compile = runtime_.compile;
        if (communicator_ && config_.sync_batch_norm) {
            rank_group_.emplace(*communicator_);
            compile.batch_group = &*rank_group_;
        }
        exec_.emplace(graph_, registry_, weights, compile, head.loss);
        optimizer_.emplace(*exec_, registry_, config_.sgd.optimizer_options());
        if (!communicator_) return;
        if (runtime_.device_allreduce)
            on_device_ = runtime_.device_allreduce(exec_->device(), *communicator_);
        averager_.emplace(*exec_, *communicator_, runtime_.bucket_bytes, on_device_.get());
        if (progress())
            fmt::print(stderr,
                       "{} ranks of batch {}; every step averages {:.2f} MB of gradients in {} "
                       "allreduce{} ({}){}\n",
                       ranks_, config_.batch / ranks_, double(averager_->gradient_bytes()) / 1e6,
                       averager_->buckets(), averager_->buckets() == 1 ? "" : "s",
                       on_device_ ? on_device_->description() + ", on the device" : "through the host",
                       rank_group_ ? "; batch norm over the global batch (--sync-bn)" : "");
    }

    WeightMap initial_weights() const {
        if (config_.init_weights.empty() && !runtime_.graph_weights) return init_weights(graph_, config_.seed);
        const bool from_file = !config_.init_weights.empty();
        WeightMap weights = from_file ? load_safetensors(config_.init_weights) : *runtime_.graph_weights;
        try {
            check_weights(graph_, weights);
        } catch (const Error& e) {
            throw Error(fmt::format("{}: {}", from_file ? config_.init_weights : config_.model.graph, e.what()));
        }
        return weights;
    }

    void resume() {
        const Checkpoint c = load_checkpoint(checkpoint_path_, graph_);
        exec_->set_weights(c.weights);
        try {
            optimizer_->load_state(c.optimizer);
        } catch (const Error& e) {
            throw Error(fmt::format("{}: {}", checkpoint_path_.string(), e.what()));
        }
        start_epoch_ = c.epoch;
        best_accuracy_ = c.best_accuracy;
        best_epoch_ = c.best_epoch;
        resumed_row_ = c.row;
        last_row_ = c.row;
        resumed_progress_ = c.progress;
        if (c.progress.steps > steps_per_epoch_)
            throw Error(fmt::format("{}: taken {} steps into an epoch, but an epoch here has {}",
                                    checkpoint_path_.string(), c.progress.steps, steps_per_epoch_));
        if (!writes_) return;
        // Rows of epochs after the checkpoint were reported by a run that died before saving it.
        report::MetricsCsv::truncate_after_epoch(metrics_path_, start_epoch_);
        // Inside an epoch the weights are no epoch's: the weights files stay those of epoch c.epoch.
        if (c.progress.steps > 0) return;
        // A run killed after its checkpoint but before the weights files of that epoch: write
        // them again from the checkpoint, which holds exactly those weights.
        ModelInfo at_checkpoint = info_;
        at_checkpoint.epoch = c.epoch;
        if (const auto it = c.row.find("test_accuracy"); it != c.row.end()) at_checkpoint.test_accuracy = it->second;
        save_safetensors(config_.out_dir / "last.safetensors", c.weights, at_checkpoint.to_metadata());
        if (c.best_epoch == c.epoch && c.epoch > 0)
            save_safetensors(config_.out_dir / "best.safetensors", c.weights, at_checkpoint.to_metadata());
    }

    // One pass over the shuffled, augmented training set: a step and an update per batch.
    EpochResult train_epoch(int epoch) {
        using Clock = std::chrono::steady_clock;
        datasets::LoaderOptions loader_options;
        loader_options.batch = config_.batch;
        loader_options.shuffle = true;
        loader_options.drop_last = true;  // batch statistics of a padded batch would be skewed
        loader_options.normalization = normalization_;
        loader_options.seed = config_.seed;
        loader_options.workers = loader_workers(train_set_, runtime_.loader_threads);
        if (config_.augment) {
            loader_options.augment.pad = config_.pad;
            loader_options.augment.random_crop = true;
            loader_options.augment.random_resized_crop = true;  // streamed sets
            loader_options.augment.horizontal_flip = true;
        }
        loader_options.augment.crop = config_.crop;
        loader_options.augment.centre_fraction = config_.centre_fraction;
        // An epoch interrupted inside continues at its next step with the sums it had.
        EpochProgress done;
        if (epoch == start_epoch_) done = resumed_progress_;
        loader_options.first_batch = done.steps;
        loader_options.shard_index = rank_;  // the global batch's positions, cut among the ranks
        loader_options.shard_count = ranks_;
        datasets::BatchLoader loader(train_set_, loader_options, static_cast<std::uint64_t>(epoch));

        std::vector<Tensor> outputs = exec_->make_outputs();
        std::vector<Tensor> inputs(2);
        const std::int64_t rows = loader.rows();
        const std::int64_t classes = outputs[1].numel() / rows;
        const std::int64_t steps = loader.batches();
        report::ProgressBar bar(fmt::format("epoch {}/{}", epoch + 1, config_.epochs), steps * config_.batch, "img",
                                progress() ? stderr : nullptr);
        if (averager_) averager_->take_seconds();
        double loss_sum = done.loss_sum, lr = done.lr;
        std::int64_t correct = done.correct, seen = done.seen, step = done.steps, count = 0;
        const auto start = Clock::now();
        const auto elapsed = [&] { return done.seconds + std::chrono::duration<double>(Clock::now() - start).count(); };
        auto step_start = start;
        while (loader.next(inputs[0], inputs[1], count)) {
            lr = schedule_.at(epoch + double(step) / double(steps));
            exec_->step(inputs, outputs);
            if (averager_) averager_->finish();  // every rank now holds the mean gradient
            const float* logits = outputs[1].as<float>();
            const std::int32_t* y = inputs[1].as<std::int32_t>();
            std::int64_t step_correct = 0;
            for (std::int64_t i = 0; i < rows; ++i) {
                const float* s = logits + i * classes;
                step_correct += (std::max_element(s, s + classes) - s) == y[i];
            }
            const float loss = global_loss(outputs[0].as<float>()[0], step_correct);
            if (!std::isfinite(loss)) throw diverged(epoch, step, loss, lr);
            optimizer_->step(static_cast<float>(lr));
            const auto step_end = Clock::now();
            if (writes_) {
                const double seconds = std::chrono::duration<double>(step_end - step_start).count();
                steps_->append({{"step", double(epoch * steps + step + 1)},
                                {"epoch", epoch + 1},
                                {"loss", loss},
                                {"accuracy", double(step_correct) / double(config_.batch)},
                                {"lr", lr},
                                {"images_per_second", double(config_.batch) / seconds}});
            }
            step_start = step_end;
            correct += step_correct;
            loss_sum += loss;
            seen += config_.batch;
            ++step;
            bar.update(seen, {{"loss", fmt::format("{:.4f}", loss_sum / double(step))},
                              {"acc", fmt::format("{:.2f}%", 100.0 * double(correct) / double(seen))},
                              {"lr", fmt::format("{:.4g}", lr)}});
            if (const int signal = stop_signal()) {
                bar.finish();
                if (averager_) average_statistics(*exec_, *communicator_);
                save_inside_epoch(epoch, {step, correct, seen, loss_sum, elapsed(), lr});
                throw Interrupted(signal, fmt::format("interrupted by {} at epoch {}, step {} of {}: checkpoint "
                                                      "written to {}; continue with weft train --resume {}",
                                                      signal_name(signal), epoch + 1, step, steps,
                                                      checkpoint_path_.string(), config_.out_dir.string()));
            }
        }
        // Before the checkpoint, which must never be ahead of the steps on disk.
        if (writes_) steps_->sync();
        EpochResult r;
        if (averager_) {
            const GradientAverager::Seconds exchange = averager_->take_seconds();
            r.exchange_seconds = exchange.exposed;
            r.exchange_in_backward_seconds = exchange.during_backward;
        }
        r.epoch = epoch + 1;
        r.lr = lr;
        r.train_loss = loss_sum / double(std::max<std::int64_t>(step, 1));
        r.train_accuracy = double(correct) / double(std::max<std::int64_t>(seen, 1));
        r.seconds = elapsed();
        r.images_per_second = double(seen) / std::max(r.seconds, 1e-9);
        bar.finish({{"loss", fmt::format("{:.4f}", r.train_loss)},
                    {"acc", fmt::format("{:.2f}%", 100.0 * r.train_accuracy)}});
        return r;
    }

    // The checkpoint of a run stopped inside epoch `epoch` (0-based): its weights and momentum as
    // they are after the steps done, which the step log on disk must already hold.
    void save_inside_epoch(int epoch, const EpochProgress& progress) {
        if (!writes_) return;
        steps_->sync();
        ModelInfo at = info_;
        at.epoch = epoch;
        if (const auto it = last_row_.find("test_accuracy"); it != last_row_.end()) at.test_accuracy = it->second;
        save_checkpoint(checkpoint_path_, *exec_, *optimizer_, at, best_accuracy_, best_epoch_, last_row_, progress);
    }

    Error diverged(int epoch, std::int64_t step, float loss, double lr) const {
        return Error(fmt::format("epoch {} step {}: the loss is {}; training stopped (learning rate {:.4g} too high?). "
                                 "{}",
                                 epoch + 1, step + 1, loss, lr,
                                 epoch == 0 ? std::string("No epoch had completed, so nothing was saved.")
                                            : fmt::format("The last good checkpoint, epoch {}, is in {}", epoch,
                                                          config_.out_dir.string())));
    }

    // This step's loss over the global batch (each rank's is the mean over its equal shard), and
    // the step's correct predictions summed over the ranks into `correct`.
    float global_loss(float loss, std::int64_t& correct) const {
        if (!communicator_) return loss;
        double sums[2] = {loss, double(correct)};
        communicator_->allreduce_sum(sums);
        correct = static_cast<std::int64_t>(std::llround(sums[1]));
        return static_cast<float>(sums[0] / ranks_);
    }

    // The test set through the plain classifier with the weights as they are now; each rank takes
    // a contiguous share and the counts are summed. Ranks first agree on the running statistics
    // (each rank's batch norm saw only its shard), so that all evaluate and save the same model.
    void evaluate(EpochResult& r) {
        if (communicator_) average_statistics(*exec_, *communicator_);
        Executor eval(eval_graph_, registry_, exec_->weights(), runtime_.compile);
        const Evaluation e = training::evaluate(eval, test_shard_ ? *test_shard_ : test_set_, normalization_,
                                                /*probabilities=*/true, progress(), "test",
                                                /*average_mirrored=*/false, evaluation_view());
        if (!communicator_) {
            r.test_loss = e.loss;
            r.test_accuracy = e.top1;
            r.test_top5 = e.top5;
            return;
        }
        double sums[4] = {double(e.count), e.loss * double(e.count), std::round(e.top1 * double(e.count)),
                          std::round(e.top5 * double(e.count))};
        communicator_->allreduce_sum(sums);
        const double count = std::max(sums[0], 1.0);
        r.test_loss = sums[1] / count;
        r.test_accuracy = sums[2] / count;
        r.test_top5 = sums[3] / count;
    }

    // Checkpoint first, then the files that describe it: a crash in between leaves a checkpoint
    // one epoch ahead of metrics.csv, which resuming repairs from the row the checkpoint carries;
    // never metrics for an epoch without its weights.
    void record(const EpochResult& r) {
        const report::MetricsCsv::Row row = metrics_row(r);
        info_.epoch = r.epoch;
        info_.test_accuracy = r.test_accuracy;
        const bool best = r.test_accuracy > best_accuracy_;
        if (best) best_accuracy_ = r.test_accuracy, best_epoch_ = r.epoch;
        last_row_ = row;
        if (!writes_) return;
        save_checkpoint(checkpoint_path_, *exec_, *optimizer_, info_, best_accuracy_, best_epoch_, row);
        const WeightMap w = exec_->weights();
        save_safetensors(config_.out_dir / "last.safetensors", w, info_.to_metadata());
        if (best) save_safetensors(config_.out_dir / "best.safetensors", w, info_.to_metadata());

        csv_->append(row);
        history_.push_back(row);
        write_file_atomically(config_.out_dir / "curves.svg",
                                  report::training_curves_svg(history_, fmt::format("{} on {}", config_.model.graph,
                                                                                    config_.data)));
        if (progress())
            fmt::print(stderr,
                       "epoch {}/{}: train loss {:.4f} acc {:.2f}% | test loss {:.4f} acc {:.2f}% top-5 {:.2f}%{} | "
                       "{:.0f} img/s{}\n",
                       r.epoch, config_.epochs, r.train_loss, 100 * r.train_accuracy, r.test_loss,
                       100 * r.test_accuracy, 100 * r.test_top5, best ? " (best)" : "", r.images_per_second,
                       communicator_ ? fmt::format(" | {} ranks, allreduce {:.2f} s after backward, {:.2f} s "
                                                   "during it",
                                                   ranks_, r.exchange_seconds, r.exchange_in_backward_seconds)
                                     : std::string());
    }

    const TrainConfig& config_;
    const Registry& registry_;
    const TrainRuntime& runtime_;
    Communicator* const communicator_;  // null: this process alone
    const int rank_, ranks_;
    const bool writes_;  // rank 0 (or the only process) writes the run directory
    const LrSchedule schedule_;
    datasets::Dataset train_set_, test_set_;  // a streamed set's size is set from the graph
    std::optional<datasets::Dataset> test_shard_;  // this rank's share of test_set_ when there are ranks
    const fs::path checkpoint_path_, metrics_path_, steps_path_;
    const std::int64_t steps_per_epoch_;  // the loader's batches: whole batches only
    Graph graph_, eval_graph_;
    ModelInfo info_;
    datasets::Normalization normalization_;
    std::optional<RankGroup> rank_group_;  // --sync-bn over several ranks; before exec_, which uses it
    std::optional<TrainingExecutor> exec_;
    std::optional<Optimizer> optimizer_;
    std::unique_ptr<DeviceAllreduce> on_device_;  // data-parallel on a device with its own exchange
    std::optional<GradientAverager> averager_;  // data-parallel runs; uses on_device_
    std::optional<report::MetricsCsv> csv_;
    std::optional<report::StepLog> steps_;
    std::vector<report::MetricsCsv::Row> history_;
    int start_epoch_ = 0;
    double best_accuracy_ = -1;
    int best_epoch_ = 0;
    report::MetricsCsv::Row resumed_row_;
    report::MetricsCsv::Row last_row_;  // of the last completed epoch, carried by every checkpoint
    EpochProgress resumed_progress_;    // into epoch start_epoch_ + 1, from a checkpoint taken inside it
};

}  // namespace

std::vector<EpochResult> train(const TrainConfig& config, const Registry& registry, const TrainRuntime& runtime) {
    if (config.epochs < 1) throw Error("--epochs must be at least 1");
    datasets::validate(config.crop);
    if (!(config.centre_fraction > 0 && config.centre_fraction <= 1))
        throw Error(fmt::format("--centre-crop {} is outside (0, 1]", config.centre_fraction));
    if (config.out_dir.empty()) throw Error("training needs an output directory (--out)");
    check_schedule_covers_epochs(config);  // bad options first
    if (const int ranks = runtime.communicator ? runtime.communicator->size() : 1; config.batch % ranks != 0)
        throw Error(fmt::format("--batch {} cannot be cut into {} equal shards, one per rank; give a "
                                "multiple of {}",
                                config.batch, ranks, ranks));
    // Held (locked) until training ends, so no second run writes here meanwhile; by rank 0, the
    // only one that writes (the others read the checkpoint when resuming).
    std::optional<RunDirectory> directory;
    const bool writes = !runtime.communicator || runtime.communicator->rank() == 0;
    if (writes)
        directory.emplace(runtime.resume ? RunDirectory::for_resume(config.out_dir)
                                         : RunDirectory::for_new_run(config.out_dir, runtime.force));
    TrainConfig recorded = config;
    recorded.world_size = runtime.communicator ? runtime.communicator->size() : 1;
    TrainingRun run(recorded, registry, runtime);
    run.resume_or_start();
    return run.run_epochs();
}

}  // namespace weft::training
