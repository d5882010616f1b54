// The CPU device's thread team on a shared machine: reading /proc/stat, the team the free cores
// allow, a live measurement beside busy processes, and threads_now() on fixed and adapting devices.
// That kernels give the same step at a team that changes between them is in tests/training_test.cpp.
// And for_each_item, the split of a kernel's items among the team (weft/cpu/affine_items.h).
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <omp.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../src/free_cores.h"
#include "weft/cpu/affine_items.h"
#include "weft/cpu/cpu_device.h"

using namespace weft::cpu;

namespace {

// Two CPUs of four, a steal column, guest time (already inside user), an old kernel's short line,
// the summary line and the interrupt counts that follow the CPUs.
constexpr const char* kProcStat =
    "cpu  400 40 400 4000 40 4 4 40 100 0\n"
    "cpu0 100 10 100 1000 10 1 1 10 100 0\n"
    "cpu1 100 10 100 1000 10 1 1 10 0 0\n"
    "cpu2 100 10 100 1000\n"
    "cpu3 100 10 100 1000 10 1 1 10 0 0\n"
    "intr 123456 0 1 2 3\n"
    "ctxt 987654\n";

weft::DeviceOptions adapting(int threads) {
    weft::DeviceOptions options;
    options.threads = threads;
    options.adapt_threads = true;
    return options;
}

TEST(FreeCores, ReadsTheCpusOfTheMaskAndCountsStealAsBusyAndGuestOnce) {
    const auto two = parse_cpu_ticks(kProcStat, {0, 1});
    ASSERT_TRUE(two.has_value());
    EXPECT_EQ(two->cpus, 2);
    // busy = user + nice + system + irq + softirq + steal = 100+10+100+1+1+10 per CPU
    EXPECT_EQ(two->busy, 2u * 222u);
    EXPECT_EQ(two->total, 2u * (222u + 1000u + 10u));
    const auto old = parse_cpu_ticks(kProcStat, {2});
    ASSERT_TRUE(old.has_value());
    EXPECT_EQ(old->busy, 210u);
    EXPECT_EQ(old->total, 1210u);
}

TEST(FreeCores, EmptyMaskCountsEveryCpuAndNoMatchIsNoReading) {
    const auto all = parse_cpu_ticks(kProcStat, {});
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(all->cpus, 4);
    EXPECT_FALSE(parse_cpu_ticks(kProcStat, {7}).has_value());
    EXPECT_FALSE(parse_cpu_ticks("intr 1 2 3\ncpu 1 2 3 4\n", {}).has_value());
    EXPECT_FALSE(parse_cpu_ticks("", {0}).has_value());
    EXPECT_FALSE(parse_cpu_ticks("cpux 1 2 3 4\ncpu0 1 2\n", {}).has_value());
}

TEST(FreeCores, TeamIsTheCoresOthersLeaveFree) {
    // Idle but for this process: every thread it may have.
    EXPECT_EQ(team_for_free_cores(2, 2.0, 2.0, 2), 2);
    EXPECT_EQ(team_for_free_cores(2, 2.1, 2.0, 2), 2);   // a tenth of a core of daemons
    // Two threads beside one busy process: three runnable threads share two cores, 2/3 each.
    EXPECT_EQ(team_for_free_cores(2, 2.0, 4.0 / 3.0, 2), 1);
    // Then one thread beside it: the other core stays the other process's.
    EXPECT_EQ(team_for_free_cores(2, 2.0, 1.0, 2), 1);
    // Half a core of other work is enough to leave the second core alone.
    EXPECT_EQ(team_for_free_cores(2, 1.5, 1.0, 2), 1);
    // Sixteen cores, one busy process: fifteen threads.
    EXPECT_EQ(team_for_free_cores(16, 16.0, 15.0, 16), 15);
    // Never more than asked, never fewer than one.
    EXPECT_EQ(team_for_free_cores(16, 1.0, 1.0, 4), 4);
    EXPECT_EQ(team_for_free_cores(2, 2.0, 0.0, 2), 1);
    EXPECT_EQ(team_for_free_cores(2, 0.0, 0.5, 2), 2);  // own time above the counters' (rounding)
}

// Busy processes for the length of a test, killed (and reaped) at its end; they die with the
// test process too (PR_SET_PDEATHSIG), so a failing test leaves nothing spinning.
class BusyProcesses {
public:
    explicit BusyProcesses(int count) {
        for (int i = 0; i < count; ++i) {
            const pid_t pid = fork();
            if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                volatile unsigned long spin = 0;
                for (;;) spin = spin + 1;
            }
            if (pid > 0) pids_.push_back(pid);
        }
    }
    ~BusyProcesses() {
        for (const pid_t pid : pids_) kill(pid, SIGKILL);
        for (const pid_t pid : pids_) waitpid(pid, nullptr, 0);
    }
    int count() const { return static_cast<int>(pids_.size()); }

private:
    std::vector<pid_t> pids_;
};

// One busy process per CPU this process may use, this one asleep: whatever else the machine runs,
// others keep every core busy, so the measured team is one.
TEST(FreeCoreMonitor, BesideAProcessOnEveryCoreTheTeamIsOne) {
    FreeCoreMonitor monitor(std::chrono::milliseconds(300), std::chrono::milliseconds(300));
    if (!monitor.works()) GTEST_SKIP() << "no readable /proc/stat on this system";
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
    const int cpus = CPU_COUNT(&set);
    BusyProcesses busy(cpus);
    ASSERT_EQ(busy.count(), cpus);
    EXPECT_FALSE(monitor.team(cpus + 1).has_value());  // before an interval has passed
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    (void)monitor.team(cpus + 1);  // the interval that began before the busy processes
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    const auto team = monitor.team(cpus + 1);
    ASSERT_TRUE(team.has_value());
    EXPECT_EQ(*team, 1);
}

TEST(CpuDeviceThreads, AFixedDeviceAlwaysRunsItsThreads) {
    weft::DeviceOptions options;
    options.threads = 2;
    CpuDevice device(options);
    EXPECT_EQ(device.threads(), 2);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(device.threads_now(), 2);
    EXPECT_EQ(device.team_changes(), 0);
    EXPECT_EQ(device.description().find("up to"), std::string::npos) << device.description();
}

TEST(CpuDeviceThreads, AnAdaptingDeviceSaysSoAndSetsOpenMpsTeamToItsAnswer) {
    CpuDevice device(adapting(3));
    EXPECT_EQ(device.threads(), 3);
    if (FreeCoreMonitor(std::chrono::milliseconds(1)).works())
        EXPECT_NE(device.description().find("up to 3 threads as cores are free"), std::string::npos)
            << device.description();
    // The measurement replaced: answers outside [1, threads()] are kept inside it, and OpenMP's
    // team for this thread (what oneDNN and plain parallel loops use) follows each change.
    const std::vector<int> answers{1, 1, 5, 0, 2};
    const std::vector<int> expected{1, 1, 3, 1, 2};
    std::size_t call = 0;
    device.set_team_source([&] { return answers[call++]; });
    for (std::size_t i = 0; i < answers.size(); ++i) {
        EXPECT_EQ(device.threads_now(), expected[i]) << "call " << i;
        EXPECT_EQ(omp_get_max_threads(), expected[i]) << "call " << i;
    }
    EXPECT_EQ(device.team_changes(), 4);  // 3 -> 1, 1 -> 3, 3 -> 1, 1 -> 2
}

// oneDNN reads OpenMP's thread count when it builds a primitive: PerTeam builds one per team with
// the count set to that team, the full team's at once, and puts the count back afterwards.
TEST(CpuDeviceThreads, PerTeamBuildsEachTeamsOwnUnderThatThreadCount) {
    CpuDevice device(adapting(3));
    const std::vector<int> answers{1, 3, 2, 1, 2};
    std::size_t call = 0;
    device.set_team_source([&] { return answers[call++]; });
    int builds = 0;
    PerTeam<int> built(device, [&] {
        ++builds;
        return omp_get_max_threads();
    });
    EXPECT_EQ(builds, 1);
    EXPECT_EQ(built.most(), 3);
    for (const int team : answers) {
        EXPECT_EQ(built.now(), team);
        EXPECT_EQ(omp_get_max_threads(), team);  // the build put the count back
    }
    EXPECT_EQ(builds, 3);  // 3 at once, then 1 and 2 once each
}

// A smaller team's build that would need more workspace than the full team's, planned for, is
// not used: that team runs the full team's.
TEST(CpuDeviceThreads, PerTeamRunsTheFullTeamsWhereASmallerTeamsWouldOutgrowTheWorkspace) {
    CpuDevice device(adapting(3));
    const std::vector<int> answers{2, 1};
    std::size_t call = 0;
    device.set_team_source([&] { return answers[call++]; });
    // Workspace 6 for the full team, 4 for two threads, 12 for one.
    PerTeam<int> built(device, [] { return omp_get_max_threads(); },
                       [](const int& team) -> std::size_t { return team == 1 ? 12 : 2 * team; });
    EXPECT_EQ(built.now(), 2);
    EXPECT_EQ(built.now(), 3);
}

TEST(CpuDeviceThreads, OneThreadNeverAdapts) {
    CpuDevice device(adapting(1));
    EXPECT_EQ(device.threads_now(), 1);
    EXPECT_EQ(device.description().find("up to"), std::string::npos) << device.description();
}

}  // namespace

// for_each_item calls every item once, for teams larger and smaller than the items, and for a team
// OpenMP cuts short (every share is visited by every thread).
TEST(ForEachItem, CallsEveryItemOnce) {
    for (const int threads : {1, 2, 3, 5}) {
        for (const std::int64_t items : {0, 1, 2, 7, 64}) {
            std::vector<std::atomic<int>> calls(static_cast<std::size_t>(items));
            for_each_item(threads, items,
                          [&](std::int64_t item, int) { ++calls[static_cast<std::size_t>(item)]; });
            for (std::int64_t item = 0; item < items; ++item)
                EXPECT_EQ(calls[static_cast<std::size_t>(item)].load(), 1)
                    << threads << " threads, item " << item;
        }
    }
    // Inside a parallel region the team asked for is one thread (nesting is off): 3 shares, 1 thread.
    std::vector<std::atomic<int>> calls(40);
#pragma omp parallel num_threads(2)
#pragma omp single
    for_each_item(3, 40, [&](std::int64_t item, int) { ++calls[static_cast<std::size_t>(item)]; });
    for (const auto& c : calls) EXPECT_EQ(c.load(), 1);
}

// A thread that falls behind has the rest of its share taken by the others: here thread 0 stops
// for 200 ms at its first item, and thread 1, done with its own half, takes most of thread 0's.
TEST(ForEachItem, TheOthersTakeOverTheShareOfAThreadThatFallsBehind) {
    constexpr std::int64_t items = 40;
    std::vector<int> by(items, -1);
    std::atomic<int> threads_seen{0};
    for_each_item(2, items, [&](std::int64_t item, int thread) {
        if (item == 0) {
            ++threads_seen;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        by[static_cast<std::size_t>(item)] = thread;
    });
    EXPECT_EQ(threads_seen.load(), 1);
    int taken_over = 0;
    for (std::size_t item = 0; item < items / 2; ++item) taken_over += by[item] != by[0];
    EXPECT_GE(taken_over, items / 2 - 2) << "thread " << by[0] << " kept its share while it slept";
    for (std::size_t item = items / 2; item < items; ++item) EXPECT_NE(by[item], -1);
}

// The team worth waking: one thread per 3 M multiply-adds, at least one, at most the team;
// WEFT_CPU_MACS_PER_THREAD changes the amount (0: every thread) and refuses what is not a number.
TEST(TeamFor, WakesAThreadPerThreeMillionMultiplyAdds) {
    EXPECT_EQ(team_for(0, 4), 1);
    EXPECT_EQ(team_for(2'000'000, 2), 1);  // IGC-L24M2-D20's block at batch 1
    EXPECT_EQ(team_for(6'000'000, 2), 2);
    EXPECT_EQ(team_for(9'500'000, 8), 3);
    EXPECT_EQ(team_for(1'000'000'000, 8), 8);
    setenv("WEFT_CPU_MACS_PER_THREAD", "0", 1);
    EXPECT_EQ(team_for(1, 3), 3);
    setenv("WEFT_CPU_MACS_PER_THREAD", "1000", 1);
    EXPECT_EQ(team_for(2500, 8), 2);
    setenv("WEFT_CPU_MACS_PER_THREAD", "3M", 1);
    try {
        team_for(1, 2);
        ADD_FAILURE() << "no error";
    } catch (const weft::Error& e) {
        EXPECT_STREQ(e.what(), "WEFT_CPU_MACS_PER_THREAD=3M: expected a whole number, 0 or more");
    }
    unsetenv("WEFT_CPU_MACS_PER_THREAD");
}
