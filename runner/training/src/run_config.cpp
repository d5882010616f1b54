// run.json: the identity of a training run (what `weft train` was asked), written when a run
// starts and read back by --resume; and the optimiser options it implies.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tuple>

#include "weft/error.h"
#include "weft/training/trainer.h"

namespace weft::training {

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
    j["schedule_epochs"] = schedule_length();
    j["momentum"] = sgd.momentum;
    j["nesterov"] = sgd.nesterov;
    j["weight_decay"] = sgd.weight_decay;
    j["decay_uncounted"] = sgd.decay_uncounted;
    j["augment"] = augment;
    j["pad"] = pad;
    j["crop_scale"] = {crop.min_scale, crop.max_scale};
    j["crop_ratio"] = {crop.min_ratio, crop.max_ratio};
    j["centre_crop"] = centre_fraction;
    j["seed"] = seed;
    j["limit_train"] = limit_train;
    j["limit_test"] = limit_test;
    j["loss_op"] = loss_op;
    j["label_smoothing"] = label_smoothing;
    j["init_weights"] = init_weights;
    j["world_size"] = world_size;
    j["sync_bn"] = sync_batch_norm;
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
        c.schedule_epochs = j.value("schedule_epochs", c.epochs);
        c.sgd.momentum = j.value("momentum", 0.9f);
        c.sgd.nesterov = j.value("nesterov", true);
        c.sgd.weight_decay = j.value("weight_decay", 1e-4f);
        c.sgd.decay_uncounted = j.value("decay_uncounted", true);
        c.augment = j.value("augment", true);
        c.pad = j.value("pad", 4);
        // Runs from before streamed sets have the defaults, which they could not have used.
        const auto range = [&](const char* key, double low, double high) {
            const auto pair = j.value(key, std::vector<double>{low, high});
            if (pair.size() != 2) throw Error(fmt::format("run.json: {} is not a pair", key));
            return std::pair{pair[0], pair[1]};
        };
        std::tie(c.crop.min_scale, c.crop.max_scale) = range("crop_scale", c.crop.min_scale, c.crop.max_scale);
        std::tie(c.crop.min_ratio, c.crop.max_ratio) = range("crop_ratio", c.crop.min_ratio, c.crop.max_ratio);
        c.centre_fraction = j.value("centre_crop", c.centre_fraction);
        c.seed = j.value("seed", std::uint64_t{0});
        c.limit_train = j.value("limit_train", std::int64_t{0});
        c.limit_test = j.value("limit_test", std::int64_t{0});
        c.loss_op = j.value("loss_op", std::string("softmax_cross_entropy"));
        c.label_smoothing = j.value("label_smoothing", 0.0);
        c.init_weights = j.value("init_weights", std::string());
        c.world_size = j.value("world_size", 1);
        c.sync_batch_norm = j.value("sync_bn", false);
    } catch (const std::exception& e) {
        throw Error(fmt::format("run.json is malformed: {}", e.what()));
    }
    return c;
}

}  // namespace weft::training
