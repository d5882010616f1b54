// The ranks of a data-parallel training job, as training sees them: who this process is, and the
// few collective operations it needs. Every rank calls each operation in the same order. The
// implementation over MPI lives in its own library (runner/mpi), so that training, and weft
// without MPI, know nothing of MPI.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace weft::training {

class Communicator {
public:
    virtual ~Communicator() = default;

    virtual int rank() const = 0;  // 0 .. size() - 1; rank 0 writes the run's files
    virtual int size() const = 0;
    virtual std::string description() const = 0;  // e.g. "Open MPI v4.1.4, 2 ranks"

    // Every rank's values summed (or their maximum), element by element, in place on every rank.
    virtual void allreduce_sum(std::span<float> values) = 0;
    virtual void allreduce_sum(std::span<double> values) = 0;
    virtual void allreduce_max(std::span<double> values) = 0;

    // Starts summing `values` in place without waiting; the memory must stay untouched until
    // wait_all() returns. progress() lets started sums advance while the caller computes.
    virtual void start_allreduce_sum(std::span<float> values) = 0;
    virtual void progress() = 0;
    virtual void wait_all() = 0;

    // Rank `root`'s bytes on every rank.
    virtual void broadcast(std::span<std::byte> bytes, int root) = 0;

    // Ends every rank of the job now with `status` (after an error on this rank, where waiting
    // for the others in a collective would hang).
    [[noreturn]] virtual void abort(int status) = 0;
};

}  // namespace weft::training
