#include "weft/optimizer.h"

#include <cmath>
#include <cstddef>
#include <utility>
#include <numbers>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "exception_text.h"
#include "weft/checked_arithmetic.h"
#include "weft/error.h"

namespace weft {

Optimizer::Optimizer(TrainingExecutor& executor, const Registry& registry, OptimizerOptions options)
    : executor_(executor), options_(std::move(options)) {
    const OptimizerSchema* schema = registry.find_optimizer(options_.name);
    Device& device = executor_.device();
    const RegisteredOptimizerKernel& factory = registry.optimizer_kernel(options_.name, device.backend());
    hyperparameters_ = validate_attributes(fmt::format("optimizer '{}'", options_.name), schema->attrs,
                                           options_.hyperparameters);
    state_names_ = schema->state;
    kernel_library_ = factory.library.string();
    try {
        kernel_ = factory.factory.create(OptimizerConfig{hyperparameters_, device});
    } catch (...) {
        throw Error(fmt::format("optimizer '{}': its {} kernel ({}) could not be created: {}", options_.name,
                                device.backend(), kernel_library_, detail::current_exception_text()));
    }
    if (!kernel_) throw Error(fmt::format("optimizer '{}': its {} kernel returned nothing", options_.name,
                                          device.backend()));

    const auto& params = executor_.parameters();
    std::size_t bytes = 0;
    for (const auto& p : params)
        if (p.spec.learnable)
            for (std::size_t k = 0; k < state_names_.size(); ++k)
                bytes = checked_add_bytes(bytes, (p.spec.desc.bytes() + 63) / 64 * 64, "the optimizer's state");
    storage_ = bytes ? device.allocate(bytes) : nullptr;
    if (storage_) device.fill_zero(storage_, bytes);
    std::size_t offset = 0;
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (!params[i].spec.learnable) continue;
        Slot slot{i, {}};
        for (std::size_t k = 0; k < state_names_.size(); ++k) {
            slot.state.push_back(TensorView{static_cast<std::byte*>(storage_) + offset, params[i].spec.desc});
            offset += (params[i].spec.desc.bytes() + 63) / 64 * 64;
        }
        slots_.push_back(std::move(slot));
    }
}

Optimizer::~Optimizer() {
    if (storage_) executor_.device().deallocate(storage_);
}

void Optimizer::step(float lr) {
    const auto& params = executor_.parameters();
    for (const Slot& slot : slots_) {
        const auto& p = params[slot.parameter];
        const bool decayed = p.spec.counted || options_.decay_uncounted;
        try {
            kernel_->update(ParameterUpdate{p.value, p.grad, slot.state, lr, decayed ? options_.weight_decay : 0.f});
        } catch (...) {
            throw Error(fmt::format("optimizer '{}' ({}) failed updating '{}': {}", options_.name, kernel_library_,
                                    p.name, detail::current_exception_text()));
        }
    }
}

WeightMap Optimizer::state() const {
    WeightMap out;
    Device& device = executor_.device();
    device.synchronize();
    const auto& params = executor_.parameters();
    for (const Slot& slot : slots_)
        for (std::size_t k = 0; k < state_names_.size(); ++k) {
            Tensor t(slot.state[k].desc);
            device.copy_to_host(t.data(), slot.state[k].data, t.bytes());
            out.emplace(state_names_[k] + "/" + params[slot.parameter].name, std::move(t));
        }
    return out;
}

void Optimizer::load_state(const WeightMap& state) {
    Device& device = executor_.device();
    const auto& params = executor_.parameters();
    for (const Slot& slot : slots_)
        for (std::size_t k = 0; k < state_names_.size(); ++k) {
            const std::string name = state_names_[k] + "/" + params[slot.parameter].name;
            const auto it = state.find(name);
            if (it == state.end()) throw Error(fmt::format("optimizer state has no '{}'", name));
            if (it->second.desc() != slot.state[k].desc)
                throw Error(fmt::format("optimizer state '{}' is {}, the parameter is {}", name,
                                        it->second.desc().str(), slot.state[k].desc.str()));
            device.copy_from_host(slot.state[k].data, it->second.data(), it->second.bytes());
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
    const auto epochs = [](double n) { return fmt::format("{:g} epoch{}", n, n == 1 ? "" : "s"); };
    const std::string warm =
        warmup_epochs > 0 ? fmt::format("linear warm-up from 0 to {:g} over {}, then ", base, epochs(warmup_epochs)) : "";
    switch (kind) {
    case Kind::constant:
        return fmt::format("{}constant {:g}", warm, base);
    case Kind::step:
        return fmt::format("{}{:g}, ×{:g} at epoch{} {} (ends at {:g})", warm, base, gamma,
                           milestones.size() == 1 ? "" : "s", fmt::join(milestones, ", "),
                           base * std::pow(gamma, static_cast<double>(milestones.size())));
    case Kind::cosine:
        return fmt::format("{}cosine from {:g} at epoch {:g} to {:g} at epoch {:g}", warm, base, warmup_epochs, final,
                           total_epochs);
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
