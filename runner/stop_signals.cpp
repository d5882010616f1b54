#include "stop_signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
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
// One rank of a data-parallel job (end_unagreed_stop_after): its rank and least grace, and when
// training last asked for the signal (received(), once per step) and the longest gap between two
// asks, which bound how long an agreed stop can take.
std::atomic<int> job_rank{-1};
std::atomic<int> least_grace_seconds{0};
std::atomic<std::int64_t> last_ask_ns{0}, longest_gap_ns{0};
char rank_stop_text[320];  // composed by end_unagreed_stop_after, written by the watcher

std::int64_t monotonic_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return std::int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
}

// After the first signal of a rank whose stop may never be agreed: training asks for the signal
// after every step, and once it has, the ranks agree and write their checkpoint at once. So when
// neither has happened within the grace — the least grace, or three times the longest gap between
// two asks so far, whichever is longer — after the signal or the last ask, training is stuck
// waiting for a rank that is gone: say so and end. Returns only when closing.
void end_after_grace(int signal) {
    const std::int64_t signalled = monotonic_ns();
    for (;;) {
        const std::int64_t grace =
            std::max(std::int64_t{least_grace_seconds.load()} * 1000000000, 3 * longest_gap_ns.load());
        const std::int64_t deadline = std::max(signalled, last_ask_ns.load()) + grace;
        const std::int64_t left = deadline - monotonic_ns();
        if (left <= 0) {
            char text[256];
            std::snprintf(text, sizeof text,
                          "weft: rank %d: the ranks did not agree to stop within %.0f s (another rank has "
                          "ended?); ending without a checkpoint: weft train --resume continues from the last "
                          "one\n",
                          job_rank.load(), double(grace) / 1e9);
            [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, text, std::strlen(text));
            ::_exit(128 + signal);
        }
        const timespec wait{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
        ::sigtimedwait(&stop_set, nullptr, &wait);  // further signals change nothing
        if (closing.load()) return;
    }
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
            const bool rank = job_rank.load() >= 0;
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

int StopSignals::received() {
    const std::int64_t now = monotonic_ns(), last = last_ask_ns.exchange(now);
    if (last > 0 && now - last > longest_gap_ns.load()) longest_gap_ns = now - last;  // one asking thread
    return first_signal.load();
}

void StopSignals::end_unagreed_stop_after(int least_seconds, int rank) {
    std::snprintf(rank_stop_text, sizeof rank_stop_text,
                  "\nweft: rank %d: stopping once every rank has finished the current step, then writing a "
                  "checkpoint (should another rank have died, the launcher ends this one, or it ends itself "
                  "after at least %d s)\n",
                  rank, least_seconds);
    least_grace_seconds = least_seconds;
    job_rank = rank;
}

}  // namespace weft::runner
