// How many cores other processes leave this one, measured rather than guessed: the kernel's
// per-CPU time counters (/proc/stat) over the CPUs this process may run on, less this process's
// own CPU time over the same interval. The CPU device sizes its thread team by it
// (DeviceOptions::adapt_threads), because a team larger than the free cores makes every thread
// wait, at every barrier, for a teammate another process has preempted: two threads beside one
// busy process ran a training step 1.5-2x slower than one thread did (docs/performance.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace weft::cpu {

// Clock ticks of the CPUs counted: busy (user, nice, system, irq, softirq, steal) and in all
// (busy, idle and iowait), and how many CPUs were counted. Guest time is already inside user
// time and is not added again.
struct CpuTicks {
    std::uint64_t busy = 0;
    std::uint64_t total = 0;
    int cpus = 0;
};

// Sums the "cpuN" lines of /proc/stat whose N is in `cpus`; nullopt when none of them is there.
std::optional<CpuTicks> parse_cpu_ticks(std::string_view proc_stat, const std::vector<int>& cpus);

// The team for the next interval, within [1, most]: the `cpus` counted, less the cores other
// processes kept busy (`busy_cores` of all of them, less this process's `own_cores`). A core
// counts as free only when others left at least 0.8 of it: a team that a third process preempts
// part of the time waits at every barrier, and a fair share beside one busy process (2/3 of a
// core each for three runnable threads on two cores) must read as "not free" with a margin.
int team_for_free_cores(int cpus, double busy_cores, double own_cores, int most);

class FreeCoreMonitor {
public:
    // Measures over the CPUs of this process's affinity mask, over intervals of at least `interval`;
    // the first one, from construction, may be as short as `first` (by the first kernel, a graph
    // has been compiled: the load meanwhile already says whether to start with a smaller team).
    explicit FreeCoreMonitor(std::chrono::milliseconds interval,
                             std::chrono::milliseconds first = std::chrono::milliseconds(50));

    // False where /proc/stat cannot be read (not Linux, or a sandbox without /proc): no measurement.
    bool works() const { return works_; }

    // Once `interval` has passed since the last measurement, the team the cores free over it allow
    // (team_for_free_cores); nullopt before then, or when the counters cannot be read.
    std::optional<int> team(int most);

private:
    struct Sample {
        std::chrono::steady_clock::time_point when;
        double own_seconds = 0;  // this process's CPU time, every thread
        CpuTicks ticks;
    };
    std::optional<Sample> sample() const;

    std::chrono::milliseconds interval_;
    std::chrono::milliseconds next_;  // the interval now: `first`, then `interval`
    std::vector<int> cpus_;
    bool works_ = false;
    Sample last_;
};

}  // namespace weft::cpu
