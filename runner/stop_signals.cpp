#include "stop_signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace weft::runner {

namespace {

std::atomic<int> first_signal{0};
std::atomic<bool> closing{false};
sigset_t stop_set;
sigset_t previous_mask;
std::thread watcher;

// SIGINT and SIGTERM are blocked in every thread weft starts (threads inherit the mask of the one
// that creates them) and taken here, synchronously, by sigwait: no handler ever interrupts a
// kernel, an allocation or the data loader in the middle of its work. An asynchronous handler did,
// and though it only wrote a fixed text, runs stopped that way sometimes ended in a corrupted
// heap inside the step it interrupted.
void watch() {
    for (;;) {
        int signal = 0;
        if (::sigwait(&stop_set, &signal) != 0) continue;
        if (closing.load()) return;
        int expected = 0;
        if (first_signal.compare_exchange_strong(expected, signal)) {
            static constexpr char kText[] = "\nweft: stopping after the current step, writing a checkpoint\n";
            [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kText, sizeof kText - 1);
        }
    }
}

}  // namespace

StopSignals::StopSignals() {
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &stop_set, &previous_mask);
    closing = false;
    watcher = std::thread(watch);
}

StopSignals::~StopSignals() {
    // Wake the watcher with a signal only it waits for, after saying it is to end.
    closing = true;
    ::pthread_kill(watcher.native_handle(), SIGTERM);
    watcher.join();
    // A signal that came while closing stays pending; unblocking it delivers it now, with the
    // action the process had before (normally: end it), as if weft had never intercepted it.
    ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
}

int StopSignals::received() { return first_signal.load(); }

}  // namespace weft::runner
