// The processes that compute one batch together: the ranks of data-parallel training whose
// batch-norm layers normalise with the statistics of the global batch (`weft train --sync-bn`).
// The host implements it (over MPI for weft train); a kernel that computes statistics over the
// batch reaches it through KernelConfig::batch_group, so no plugin links a communication library.
#pragma once

#include <span>

namespace weft {

class Collective {
public:
    virtual ~Collective() = default;
    virtual int size() const = 0;  // how many processes share the batch (1: this one alone)
    // Every process's values summed element by element, in place on every process. Host memory;
    // called by one thread, outside any parallel region. Blocking and collective: every process
    // calls it the same number of times in the same order, which the same graph run in the same
    // order gives.
    virtual void sum(std::span<double> values) = 0;
};

}  // namespace weft
