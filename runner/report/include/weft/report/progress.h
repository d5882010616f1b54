// A progress line for long work (training epochs, evaluation, benchmarks). On a terminal it is
// one line redrawn in place, as wide as the terminal (a narrow one loses whole pieces, never
// digits); in a CI log or a file it is a short plain line per 10% step, so a
// hundred epochs leave a readable log rather than thousands of carriage returns.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weft::report {

// Extra values shown after the counters, in order: {"loss", "0.4312"}, {"acc", "87.1%"}.
using Fields = std::vector<std::pair<std::string, std::string>>;

struct ProgressOptions {
    // Seconds on a monotonic clock; empty: std::chrono::steady_clock. Tests inject a fake one.
    std::function<double()> clock{};
    // Empty: decided by isatty() on the stream and its TIOCGWINSZ width (100 when unknown).
    std::optional<bool> terminal{};
    std::optional<int> width{};
    double redraw_interval_s = 0.125;  // terminal: at most ~8 redraws per second
    int log_step_percent = 10;         // not a terminal: a line each time this step is crossed,
    double log_min_interval_s = 30;    // but no more often than this
    // Time constant of the rate's exponential moving average: long enough that the ETA does
    // not jump with every batch, short enough to follow a real change of speed.
    double rate_time_constant_s = 10;
};

class ProgressBar {
public:
    // total <= 0 means unknown: no bar, percentage or ETA, only counts and rate. A null `out`
    // prints nothing (quiet runs).
    ProgressBar(std::string label, std::int64_t total, std::string unit = "img", std::FILE* out = stderr,
                ProgressOptions options = {});
    ~ProgressBar();  // ends a redrawn line left unfinished, so later output starts on its own line
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    // The work turned out larger or smaller than announced (a benchmark learns from its first runs
    // how many its time allows); <= 0: unknown.
    void set_total(std::int64_t total) { total_ = total; }
    // `done` counts units since the start; it may exceed total (shown as is, bar full).
    void update(std::int64_t done, const Fields& fields = {});
    // The final line: total time and mean rate over the whole run. Later calls do nothing.
    void finish(const Fields& fields = {});

    double rate() const { return rate_; }  // smoothed units per second; 0 until measured
    // Seconds still to go at the smoothed rate; empty when unknown (no total, no rate yet).
    std::optional<double> eta() const;

private:
    void measure(std::int64_t done, double now);
    std::string terminal_line(const Fields& fields, bool finished) const;
    std::string log_line(const Fields& fields) const;
    std::string finish_line(const Fields& fields) const;
    void redraw(const std::string& line, bool end_line);
    void emit(const std::string& text);

    std::string label_;
    std::int64_t total_;
    std::string unit_;
    std::FILE* out_;
    ProgressOptions options_;
    bool terminal_ = false;
    int width_ = 100;
    double start_ = 0;
    double now_ = 0;
    std::int64_t done_ = 0;
    double last_sample_time_ = 0;
    std::int64_t last_sample_done_ = 0;
    double rate_ = 0;
    bool rate_known_ = false;
    std::optional<double> last_draw_;
    int last_logged_step_ = 0;
    bool line_open_ = false;  // terminal: a redrawn line without its newline yet
    bool finished_ = false;
};

// "00:59", "01:01", "3:00:00"; "--:--" for a negative or non-finite duration.
std::string format_duration(double seconds);
// Three significant digits with an SI prefix: "2.50", "152", "1.52k", "15.2M".
std::string format_si(double value);

}  // namespace weft::report
