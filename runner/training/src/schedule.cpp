// The learning-rate schedule of a training run: laid out once over the run's schedule length
// (run.json's schedule_epochs), so that resuming with a larger --epochs continues it instead of
// stretching it, which would raise the learning rate again mid-run.
#include <fmt/format.h>

#include "weft/error.h"
#include "weft/training/trainer.h"

namespace weft::training {

LrSchedule run_schedule(const TrainConfig& config) {
    return LrSchedule::parse(config.schedule, config.lr, config.schedule_length(), config.warmup_epochs);
}

void check_schedule_covers_epochs(const TrainConfig& config) {
    const int length = config.schedule_length();
    if (config.epochs <= length || run_schedule(config).at(length) > 0) return;
    TrainConfig stretched = config;
    stretched.schedule_epochs = config.epochs;
    throw Error(fmt::format("--epochs {}: the {} schedule of this run ends at epoch {} with learning rate 0, so epochs "
                            "{} to {} would not learn; give --schedule-epochs {} to lay it out over {} epochs (epoch {} "
                            "then starts at learning rate {:.4g}), or stop at {} epochs",
                            config.epochs, config.schedule, length, length + 1, config.epochs, config.epochs,
                            config.epochs, length + 1, run_schedule(stretched).at(length), length));
}

std::string describe_schedule(const TrainConfig& config, int first_epoch) {
    const LrSchedule schedule = run_schedule(config);
    std::string text = fmt::format("learning rate: {}", schedule.describe());
    if (first_epoch >= config.epochs) return text;
    const std::string epochs = first_epoch + 1 == config.epochs
                                   ? fmt::format("epoch {} runs", config.epochs)
                                   : fmt::format("epochs {} to {} run", first_epoch + 1, config.epochs);
    text += fmt::format("; {} now, from {:.4g} to {:.4g}", epochs, schedule.at(first_epoch), schedule.at(config.epochs));
    if (config.epochs > config.schedule_length())
        text += fmt::format(" (past epoch {}, where the schedule ends, it stays at {:.4g})", config.schedule_length(),
                            schedule.at(config.schedule_length()));
    return text;
}

}  // namespace weft::training
