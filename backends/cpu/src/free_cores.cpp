#include "free_cores.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace weft::cpu {

namespace {

// The CPUs this process may run on; every CPU the system has when the mask cannot be read.
std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
            if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
    if (cpus.empty()) {
        for (int cpu = 0; cpu < static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); ++cpu)
            cpus.push_back(cpu);
    }
    return cpus;
}

double own_cpu_seconds() {
    timespec t{};
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) != 0) return 0;
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Reads one unsigned field and the spaces before it; false at the end of the line.
bool next_field(std::string_view& line, std::uint64_t& value) {
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (error != std::errc()) return false;
    line.remove_prefix(static_cast<std::size_t>(end - line.data()));
    return true;
}

}  // namespace

std::optional<CpuTicks> parse_cpu_ticks(std::string_view text, const std::vector<int>& cpus) {
    CpuTicks sum;
    while (!text.empty()) {
        const std::size_t eol = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(std::min(eol + 1, text.size()));
        // "cpuN user nice system idle iowait irq softirq steal guest guest_nice"; the "cpu" line
        // without a number is the sum, which the affinity mask cannot select from.
        if (line.size() < 4 || line.substr(0, 3) != "cpu" || line[3] == ' ') continue;
        line.remove_prefix(3);
        std::uint64_t cpu = 0;
        if (!next_field(line, cpu)) continue;
        if (!cpus.empty() && std::find(cpus.begin(), cpus.end(), static_cast<int>(cpu)) == cpus.end()) continue;
        std::uint64_t field[8] = {};
        int fields = 0;
        while (fields < 8 && next_field(line, field[fields])) ++fields;
        if (fields < 4) continue;  // older kernels stop after idle; the rest are then zero
        const std::uint64_t busy = field[0] + field[1] + field[2] + field[5] + field[6] + field[7];
        sum.busy += busy;
        sum.total += busy + field[3] + field[4];
        ++sum.cpus;
    }
    if (sum.cpus == 0) return std::nullopt;
    return sum;
}

int team_for_free_cores(int cpus, double busy_cores, double own_cores, int most) {
    const double others = std::max(0.0, busy_cores - own_cores);
    const double free_cores = static_cast<double>(cpus) - others;
    const int team = static_cast<int>(std::floor(free_cores + 0.2));
    return std::clamp(team, 1, std::max(1, most));
}

FreeCoreMonitor::FreeCoreMonitor(std::chrono::milliseconds interval, std::chrono::milliseconds first)
    : interval_(interval), next_(first), cpus_(allowed_cpus()) {
    if (const auto first = sample()) {
        last_ = *first;
        works_ = true;
    }
}

std::optional<FreeCoreMonitor::Sample> FreeCoreMonitor::sample() const {
    // /proc/stat holds the per-CPU lines first, then interrupt counts that can run to many
    // kilobytes; it is read whole, twice a second at most.
    std::ifstream file("/proc/stat");
    if (!file) return std::nullopt;
    const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    const auto ticks = parse_cpu_ticks(text, cpus_);
    if (!ticks) return std::nullopt;
    return Sample{std::chrono::steady_clock::now(), own_cpu_seconds(), *ticks};
}

std::optional<int> FreeCoreMonitor::team(int most) {
    if (!works_ || std::chrono::steady_clock::now() - last_.when < next_) return std::nullopt;
    const auto now = sample();
    if (!now) return std::nullopt;
    next_ = interval_;
    const double wall = std::chrono::duration<double>(now->when - last_.when).count();
    const std::uint64_t total = now->ticks.total - last_.ticks.total;
    const std::uint64_t busy = now->ticks.busy - last_.ticks.busy;
    const double own = now->own_seconds - last_.own_seconds;
    last_ = *now;
    // A tick is 10 ms: an interval too short to have counted any says nothing.
    if (total == 0 || wall <= 0 || busy > total) return std::nullopt;
    const int cpus = now->ticks.cpus;
    const double busy_cores = static_cast<double>(busy) / static_cast<double>(total) * cpus;
    return team_for_free_cores(cpus, busy_cores, own / wall, most);
}

}  // namespace weft::cpu
