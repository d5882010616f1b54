#include "stop_signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <thread>

namespace weft::runner {

namespace {

std::atomic<int> first_signal{0};
std::atomic<bool> closing{false};
sigset_t stop_set;
sigset_t previous_mask;
std::thread watcher;
std::atomic<int> grace_seconds{0};
// Composed by end_unagreed_stop_after, written by the watcher.
char rank_stop_text[320], grace_text[256];

// After the first signal of a rank whose stop may never be agreed: waits out the grace (further
// signals change nothing), then ends the process. Returns only when closing.
void end_after_grace(int signal) {
    timespec deadline{};
    ::clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += grace_seconds.load();
    for (;;) {
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        timespec left{deadline.tv_sec - now.tv_sec, deadline.tv_nsec - now.tv_nsec};
        if (left.tv_nsec < 0) left.tv_sec -= 1, left.tv_nsec += 1000000000L;
        if (left.tv_sec < 0) break;
        const int got = ::sigtimedwait(&stop_set, nullptr, &left);
        if (closing.load()) return;
        if (got < 0 && errno == EAGAIN) break;
    }
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, grace_text, std::strlen(grace_text));
    ::_exit(128 + signal);
}

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
            const bool rank = grace_seconds.load() > 0;
            const char* text = rank ? rank_stop_text : kText;
            [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, text, std::strlen(text));
            if (rank) {
                end_after_grace(signal);
                return;
            }
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

void StopSignals::end_unagreed_stop_after(int seconds, int rank) {
    std::snprintf(grace_text, sizeof grace_text,
                  "weft: rank %d: the ranks did not agree to stop within %d s (another rank has ended?); "
                  "ending without a checkpoint: weft train --resume continues from the last one\n",
                  rank, seconds);
    std::snprintf(rank_stop_text, sizeof rank_stop_text,
                  "\nweft: rank %d: stopping once every rank has finished the current step, then writing a "
                  "checkpoint (should another rank have died, the launcher ends this one, or it ends itself "
                  "within %d s)\n",
                  rank, seconds);
    grace_seconds = seconds;
}

}  // namespace weft::runner
