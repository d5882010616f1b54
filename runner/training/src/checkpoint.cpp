#include "checkpoint.h"

#include <map>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "weft/error.h"

namespace weft::training {
namespace fs = std::filesystem;

void save_checkpoint(const fs::path& path, const TrainingExecutor& exec, const Optimizer& optimizer,
                     const ModelInfo& info, double best_accuracy, int best_epoch, const report::MetricsCsv::Row& row,
                     const EpochProgress& progress) {
    WeightMap all = exec.weights();
    for (auto& [name, t] : optimizer.state()) all.emplace(name, t);
    auto meta = info.to_metadata();
    meta["weft.train.best_accuracy"] = fmt::format("{:.6f}", best_accuracy);
    meta["weft.train.best_epoch"] = std::to_string(best_epoch);
    meta["weft.train.metrics"] = nlohmann::json(row).dump();
    if (progress.steps > 0)  // JSON numbers read back to the same doubles
        meta["weft.train.epoch_progress"] =
            nlohmann::json{{"steps", progress.steps},       {"correct", progress.correct}, {"seen", progress.seen},
                           {"loss_sum", progress.loss_sum}, {"seconds", progress.seconds}, {"lr", progress.lr}}
                .dump();
    save_safetensors(path, all, meta);  // temporary file, fsync, rename
}

Checkpoint load_checkpoint(const fs::path& path, const Graph& graph) {
    std::map<std::string, std::string> meta;
    WeightMap all = load_safetensors(path, &meta);
    Checkpoint c;
    // Optimiser state is named "<state>/<parameter>"; "/" never occurs in a parameter name.
    for (auto& [name, t] : all) (name.find('/') != std::string::npos ? c.optimizer : c.weights).emplace(name, t);
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
        if (auto it = meta.find("weft.train.epoch_progress"); it != meta.end()) {
            const nlohmann::json p = nlohmann::json::parse(it->second);
            c.progress = {p.at("steps").get<std::int64_t>(), p.at("correct").get<std::int64_t>(),
                          p.at("seen").get<std::int64_t>(),  p.at("loss_sum").get<double>(),
                          p.at("seconds").get<double>(),     p.at("lr").get<double>()};
        }
    } catch (const std::exception&) {
        throw Error(fmt::format("{}: malformed training metadata", path.string()));
    }
    return c;
}

}  // namespace weft::training
