// SGD with (Nesterov) momentum and weight decay over a TrainingExecutor's parameters, and the
// learning-rate schedules of the paper (step decay) and of common practice (cosine, warm-up).
#pragma once

#include <string>
#include <vector>

#include "weft/training.h"
#include "weft/weights.h"

namespace weft {

struct SgdOptions {
    float momentum = 0.9f;
    bool nesterov = true;
    float weight_decay = 1e-4f;
    // Whether weight decay applies to the learnable parameters the paper does not count
    // (ParamSpec::counted false: batch-norm scale and shift). MXNet, the paper's framework,
    // decays every parameter.
    bool decay_uncounted = true;
};

class Sgd {
public:
    // Momentum buffers live on the executor's device, zero at first.
    Sgd(TrainingExecutor& executor, SgdOptions options);
    ~Sgd();
    Sgd(const Sgd&) = delete;
    Sgd& operator=(const Sgd&) = delete;

    // Updates every learnable parameter from the gradients of the last step().
    void step(float lr);

    const SgdOptions& options() const { return options_; }
    // The momentum buffers as "momentum/<param>" host tensors, for checkpoints ("/" never occurs
    // in a node name, so they cannot collide with parameters).
    WeightMap state() const;
    // Restores state(); throws naming the first missing or misshapen buffer.
    void load_state(const WeightMap& state);

private:
    TrainingExecutor& executor_;
    SgdOptions options_;
    void* storage_ = nullptr;
    std::vector<float*> velocity_;  // per executor parameter; null for running statistics
};

// lr(t) for t in epochs (fractional within an epoch): a linear warm-up from 0 over
// `warmup_epochs`, then one of
//   constant: base
//   step:     base · gamma^(number of milestones ≤ t)       (the paper: ×0.1 at given epochs)
//   cosine:   final + (base − final)·(1 + cos(π·t'/T'))/2, over what remains after warm-up
struct LrSchedule {
    enum class Kind { constant, step, cosine };
    Kind kind = Kind::constant;
    double base = 0.1;
    double gamma = 0.1;
    std::vector<double> milestones;  // epochs, increasing
    double final = 0.0;              // cosine's end value
    double warmup_epochs = 0.0;
    double total_epochs = 1.0;

    double at(double epoch) const;
    std::string describe() const;

    // "constant", "cosine", "step:E1,E2,…" or "step:E1,E2,…@GAMMA"; throws with the expected forms.
    static LrSchedule parse(const std::string& spec, double base, double total_epochs, double warmup_epochs = 0.0);
};

}  // namespace weft
