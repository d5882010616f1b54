// The ranks of a data-parallel job as a weft::Collective: the door through which batch-norm
// kernels sum their statistics over the global batch (--sync-bn) without knowing of MPI.
#pragma once

#include <span>

#include "weft/collective.h"
#include "weft/training/communicator.h"

namespace weft::training {

// The sums share the communicator with the gradient buckets' non-blocking allreduces. MPI asks
// every rank to start collectives on a communicator in the same order, and it is the same here:
// every rank runs the same nodes in the same order, and a bucket starts after the same node's
// backward on all of them.
class RankGroup final : public Collective {
public:
    explicit RankGroup(Communicator& communicator) : communicator_(communicator) {}
    int size() const override { return communicator_.size(); }
    void sum(std::span<double> values) override { communicator_.allreduce_sum(values); }

private:
    Communicator& communicator_;
};

}  // namespace weft::training
