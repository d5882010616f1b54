// The optimiser of a training run over a TrainingExecutor's parameters (its update comes from a
// plugin, weft/optimizer_kernel.h), and the learning-rate schedules of the paper (step decay)
// and of common practice (cosine, warm-up).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "weft/optimizer_kernel.h"
#include "weft/registry.h"
#include "weft/training.h"
#include "weft/weights.h"

namespace weft {

// Which optimiser a training run uses and how. The update itself runs in the optimiser's plugin
// kernel for the executor's backend (weft/optimizer_kernel.h); this class owns the state.
struct OptimizerOptions {
    std::string name = "sgd";
    // The schema's hyperparameters (sgd: momentum 0.9, nesterov true); missing ones take the
    // schema's defaults.
    Attributes hyperparameters;
    float weight_decay = 1e-4f;
    // Whether weight decay applies to the learnable parameters the paper does not count
    // (ParamSpec::counted false: batch-norm scale and shift). MXNet, the paper's framework,
    // decays every parameter.
    bool decay_uncounted = true;
};

class Optimizer {
public:
    // State buffers live on the executor's device, zero at first. Throws when the optimiser or
    // its kernel for the executor's backend is not registered, or a hyperparameter is wrong.
    Optimizer(TrainingExecutor& executor, const Registry& registry, OptimizerOptions options);
    ~Optimizer();
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    // Updates every learnable parameter from the gradients of the last step().
    void step(float lr);

    const OptimizerOptions& options() const { return options_; }
    const Attributes& hyperparameters() const { return hyperparameters_; }  // validated
    // The state as "<state>/<param>" host tensors ("momentum/conv.weight"), for checkpoints ("/"
    // never occurs in a node name, so they cannot collide with parameters).
    WeightMap state() const;
    // Restores state(); throws naming the first missing or misshapen buffer.
    void load_state(const WeightMap& state);

private:
    struct Slot {
        std::size_t parameter = 0;     // index into executor.parameters()
        std::vector<TensorView> state;  // one per schema state name
    };
    TrainingExecutor& executor_;
    OptimizerOptions options_;
    Attributes hyperparameters_;
    std::vector<std::string> state_names_;
    std::unique_ptr<OptimizerKernel> kernel_;
    std::string kernel_library_;  // named when the kernel fails
    void* storage_ = nullptr;
    std::vector<Slot> slots_;  // learnable parameters only
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

    // Past total_epochs the rate stays where the schedule ends (cosine: `final`).
    double at(double epoch) const;
    // Start, warm-up, end values and the epochs they are reached at, in words.
    std::string describe() const;

    // "constant", "cosine", "step:E1,E2,…" or "step:E1,E2,…@GAMMA"; throws with the expected forms.
    static LrSchedule parse(const std::string& spec, double base, double total_epochs, double warmup_epochs = 0.0);
};

}  // namespace weft
