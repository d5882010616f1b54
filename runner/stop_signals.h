// SIGINT and SIGTERM while `weft train` runs: recorded instead of ending the process, so the step
// in flight finishes and a checkpoint is written before the command ends (with status 128 + the
// signal, as a shell expects of a process a signal ended). A second signal while that checkpoint
// is written is recorded too and changes nothing: the write completes (and is atomic regardless).
#pragma once

namespace weft::runner {

class StopSignals {
public:
    StopSignals();   // blocks the two signals and takes them on a thread of its own; says so on
                     // stderr when the first arrives. Construct it before any other thread starts.
    ~StopSignals();  // restores the signal mask that was there before
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    // The first signal received (SIGINT or SIGTERM), 0 while none. Training asks after every step.
    static int received();

    // For one rank of a data-parallel job: a stop needs every rank to agree on the step to stop
    // after, and a rank that died (the usual reason mpirun signals the others) never does. When,
    // after the first signal, training has not asked for it again within the grace (at least
    // `least_seconds`, and three times the longest gap between two asks so far, so that long steps
    // are waited for), the process says so, naming `rank`, and ends at once with 128 + the
    // signal, without a checkpoint; --resume continues from the last one.
    static void end_unagreed_stop_after(int least_seconds, int rank);
};

// Thrown by a command that ends with a status of its own (128 + a signal); main() returns it.
struct ExitStatus {
    int status;
};

}  // namespace weft::runner
