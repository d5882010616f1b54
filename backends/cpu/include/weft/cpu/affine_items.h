// Work items split among a thread team so that each thread keeps the same share from one kernel to
// the next, with the shares of threads that fall behind taken over by the others. Include from a
// kernel compiled with OpenMP (link OpenMP::OpenMP_CXX).
//
// Why not `schedule(dynamic, 1)`: handing items out one at a time puts image n's rows on either
// core at random in every node, so most of what a node reads was written by the other core in the
// node before and crosses between the cores' caches. IGC-L24M2-D20 at batch 8 ran no faster on two
// threads than on one that way. Why not `schedule(static)`: on a shared machine a thread the system
// preempts would hold up its whole share; here the others take its items once theirs are done.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <omp.h>

#include "weft/error.h"

namespace weft::cpu {

// The most threads worth waking for `macs` multiply-adds: one per kMacsPerThread, at least one and
// at most `threads`. A parallel region costs its fork, its join and, on a virtual machine, waking
// a sleeping thread; measured, IGC-L24M2-D20 at batch 1 (about 2 M multiply-adds a node) took
// 0.68 ms on two threads and 0.41 ms on one, and at batch 2 the two were level.
// WEFT_CPU_MACS_PER_THREAD sets the multiply-adds per thread (0: always every thread; tests use it
// to run small shapes on several threads).
constexpr std::int64_t kMacsPerThread = 3'000'000;

inline int team_for(std::int64_t macs, int threads) {
    std::int64_t per_thread = kMacsPerThread;
    if (const char* set = std::getenv("WEFT_CPU_MACS_PER_THREAD"); set != nullptr && *set != '\0') {
        char* end = nullptr;
        per_thread = std::strtoll(set, &end, 10);
        if (*end != '\0' || per_thread < 0)
            throw Error(std::string("WEFT_CPU_MACS_PER_THREAD=") + set +
                        ": expected a whole number, 0 or more");
    }
    if (per_thread == 0) return threads;
    const std::int64_t worth = macs / per_thread;
    return worth < 1 ? 1 : worth < threads ? static_cast<int>(worth) : threads;
}

// Calls body(item, thread) once for every item in [0, items), on a team of `threads` (thread is
// omp_get_thread_num(), for per-thread scratch). Thread t takes the items of its own contiguous
// share [t·items/threads, (t+1)·items/threads) in order, then the items left in the other shares.
// Items must be independent of each other: who computes one must not change its result.
template <class Body>
void for_each_item(int threads, std::int64_t items, Body&& body) {
    if (threads <= 1 || items <= 1) {
        for (std::int64_t item = 0; item < items; ++item) body(item, 0);
        return;
    }
    struct alignas(64) Share {  // a cache line each: the threads' counters do not share one
        std::atomic<std::int64_t> next;
        std::int64_t end;
    };
    const std::unique_ptr<Share[]> shares(new Share[static_cast<std::size_t>(threads)]);
    for (int t = 0; t < threads; ++t) {
        shares[t].next.store(items * t / threads, std::memory_order_relaxed);
        shares[t].end = items * (t + 1) / threads;
    }
#pragma omp parallel num_threads(threads)
    {
        // OpenMP may give fewer threads than asked: every share is visited by every thread.
        const int self = omp_get_thread_num();
        for (int k = 0; k < threads; ++k) {
            Share& share = shares[(self + k) % threads];
            for (std::int64_t item = share.next.fetch_add(1, std::memory_order_relaxed); item < share.end;
                 item = share.next.fetch_add(1, std::memory_order_relaxed))
                body(item, self);
        }
    }
}

}  // namespace weft::cpu
