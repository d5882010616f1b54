#include "stop_signals.h"

#include <unistd.h>

#include <csignal>

namespace weft::runner {

namespace {

volatile std::sig_atomic_t first_signal = 0;
struct sigaction previous_int {};
struct sigaction previous_term {};

void record(int signal) {
    if (first_signal != 0) return;
    first_signal = signal;
    // Only async-signal-safe calls here: write(2) with a fixed text.
    static constexpr char kText[] = "\nweft: stopping after the current step, writing a checkpoint\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kText, sizeof kText - 1);
}

}  // namespace

StopSignals::StopSignals() {
    struct sigaction action {};
    action.sa_handler = record;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // reads and writes in flight carry on
    ::sigaction(SIGINT, &action, &previous_int);
    ::sigaction(SIGTERM, &action, &previous_term);
}

StopSignals::~StopSignals() {
    ::sigaction(SIGINT, &previous_int, nullptr);
    ::sigaction(SIGTERM, &previous_term, nullptr);
}

int StopSignals::received() { return first_signal; }

}  // namespace weft::runner
