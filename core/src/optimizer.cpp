#include "weft/optimizer.h"

#include <cmath>
#include <numbers>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/error.h"

namespace weft {

Sgd::Sgd(TrainingExecutor& executor, SgdOptions options) : executor_(executor), options_(options) {
    std::size_t bytes = 0;
    for (const auto& p : executor_.parameters())
        if (p.spec.learnable) bytes += (p.spec.desc.bytes() + 63) / 64 * 64;
    Device& device = executor_.device();
    storage_ = bytes ? device.allocate(bytes) : nullptr;
    if (storage_) device.fill_zero(storage_, bytes);
    std::size_t offset = 0;
    for (const auto& p : executor_.parameters()) {
        if (!p.spec.learnable) {
            velocity_.push_back(nullptr);
            continue;
        }
        velocity_.push_back(reinterpret_cast<float*>(static_cast<std::byte*>(storage_) + offset));
        offset += (p.spec.desc.bytes() + 63) / 64 * 64;
    }
}

Sgd::~Sgd() {
    if (storage_) executor_.device().deallocate(storage_);
}

void Sgd::step(float lr) {
    Device& device = executor_.device();
    const auto& params = executor_.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (!velocity_[i]) continue;
        SgdHyperparameters h;
        h.lr = lr;
        h.momentum = options_.momentum;
        h.nesterov = options_.nesterov;
        h.weight_decay = (params[i].spec.counted || options_.decay_uncounted) ? options_.weight_decay : 0.f;
        device.sgd_update(params[i].value.as<float>(), velocity_[i], params[i].grad.as<const float>(),
                          params[i].value.numel(), h);
    }
}

WeightMap Sgd::state() const {
    WeightMap out;
    Device& device = executor_.device();
    device.synchronize();
    const auto& params = executor_.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (!velocity_[i]) continue;
        Tensor t(params[i].spec.desc);
        device.copy_to_host(t.data(), velocity_[i], t.bytes());
        out.emplace("momentum/" + params[i].name, std::move(t));
    }
    return out;
}

void Sgd::load_state(const WeightMap& state) {
    Device& device = executor_.device();
    const auto& params = executor_.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (!velocity_[i]) continue;
        const std::string name = "momentum/" + params[i].name;
        const auto it = state.find(name);
        if (it == state.end()) throw Error(fmt::format("optimizer state has no '{}'", name));
        if (it->second.desc() != params[i].spec.desc)
            throw Error(fmt::format("optimizer state '{}' is {}, the parameter is {}", name, it->second.desc().str(),
                                    params[i].spec.desc.str()));
        device.copy_from_host(velocity_[i], it->second.data(), it->second.bytes());
    }
    device.synchronize();
}

double LrSchedule::at(double epoch) const {
    if (warmup_epochs > 0 && epoch < warmup_epochs) return base * epoch / warmup_epochs;
    switch (kind) {
    case Kind::constant:
        return base;
    case Kind::step: {
        double lr = base;
        for (double m : milestones)
            if (epoch >= m) lr *= gamma;
        return lr;
    }
    case Kind::cosine: {
        const double span = std::max(total_epochs - warmup_epochs, 1e-9);
        const double t = std::clamp((epoch - warmup_epochs) / span, 0.0, 1.0);
        return final + (base - final) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
    }
    }
    return base;
}

std::string LrSchedule::describe() const {
    std::string warm = warmup_epochs > 0 ? fmt::format(", linear warm-up over {:g} epochs", warmup_epochs) : "";
    switch (kind) {
    case Kind::constant:
        return fmt::format("constant {:g}{}", base, warm);
    case Kind::step:
        return fmt::format("{:g}, ×{:g} at epochs {}{}", base, gamma, fmt::join(milestones, ", "), warm);
    case Kind::cosine:
        return fmt::format("cosine from {:g} to {:g} over {:g} epochs{}", base, final, total_epochs, warm);
    }
    return {};
}

LrSchedule LrSchedule::parse(const std::string& spec, double base, double total_epochs, double warmup_epochs) {
    LrSchedule s;
    s.base = base;
    s.total_epochs = total_epochs;
    s.warmup_epochs = warmup_epochs;
    const auto bad = [&](const std::string& why) {
        return Error(fmt::format("--schedule '{}': {} (expected constant, cosine, step:E1,E2,… or step:E1,E2,…@GAMMA)",
                                 spec, why));
    };
    if (!(base > 0) || !std::isfinite(base)) throw Error(fmt::format("learning rate {} must be positive", base));
    if (warmup_epochs < 0) throw Error("warm-up epochs must not be negative");
    if (spec == "constant") return s;
    if (spec == "cosine") {
        s.kind = Kind::cosine;
        return s;
    }
    if (spec.rfind("step:", 0) != 0) throw bad("unknown schedule");
    s.kind = Kind::step;
    std::string list = spec.substr(5);
    if (const auto at = list.find('@'); at != std::string::npos) {
        try {
            std::size_t used = 0;
            s.gamma = std::stod(list.substr(at + 1), &used);
            if (used != list.size() - at - 1 || !(s.gamma > 0)) throw bad("GAMMA must be a positive number");
        } catch (const std::logic_error&) {
            throw bad("GAMMA must be a positive number");
        }
        list = list.substr(0, at);
    }
    std::stringstream in(list);
    std::string item;
    while (std::getline(in, item, ',')) {
        try {
            std::size_t used = 0;
            const double e = std::stod(item, &used);
            if (used != item.size() || !(e > 0)) throw bad(fmt::format("'{}' is not a positive epoch", item));
            if (!s.milestones.empty() && e <= s.milestones.back()) throw bad("milestones must increase");
            s.milestones.push_back(e);
        } catch (const std::logic_error&) {
            throw bad(fmt::format("'{}' is not a number", item));
        }
    }
    if (s.milestones.empty()) throw bad("no milestones");
    return s;
}

}  // namespace weft
