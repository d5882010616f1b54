#include "weft/report/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "text.h"

namespace weft::report {

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "--:--";
    const auto total = static_cast<std::int64_t>(std::llround(seconds));
    const auto h = total / 3600, m = total / 60 % 60, s = total % 60;
    if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
    return fmt::format("{:02}:{:02}", m, s);
}

std::string format_si(double value) {
    if (!std::isfinite(value)) return "?";
    static const char* const prefixes[] = {"", "k", "M", "G", "T", "P"};
    double v = std::abs(value);
    std::size_t p = 0;
    // Round before choosing the prefix, so 999.7 becomes "1.00k" rather than "1000".
    while (p + 1 < std::size(prefixes) && v >= 999.5) v /= 1000, ++p;
    const int decimals = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
    return fmt::format("{}{:.{}f}{}", value < 0 ? "-" : "", v, decimals, prefixes[p]);
}

namespace {

double steady_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int terminal_columns(int fd) {
    winsize size{};
    if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 100;
}

std::string join_fields(const Fields& fields) {
    std::string text;
    for (const auto& [name, value] : fields) text += fmt::format("  {} {}", name, value);
    return text;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, std::int64_t total, std::string unit, std::FILE* out,
                         ProgressOptions options)
    : label_(std::move(label)), total_(total), unit_(std::move(unit)), out_(out), options_(std::move(options)) {
    if (!options_.clock) options_.clock = steady_seconds;
    const int fd = out_ ? fileno(out_) : -1;
    terminal_ = options_.terminal.value_or(fd >= 0 && isatty(fd));
    width_ = std::max(20, options_.width.value_or(fd >= 0 && terminal_ ? terminal_columns(fd) : 100));
    start_ = now_ = last_sample_time_ = options_.clock();
}

ProgressBar::~ProgressBar() {
    if (line_open_ && out_) {
        std::fputc('\n', out_);
        std::fflush(out_);
    }
}

std::optional<double> ProgressBar::eta() const {
    if (total_ <= 0 || !rate_known_ || rate_ <= 0) return std::nullopt;
    return static_cast<double>(std::max<std::int64_t>(0, total_ - done_)) / rate_;
}

void ProgressBar::measure(std::int64_t done, double now) {
    done_ = done;
    now_ = std::max(now_, now);
    const double dt = now - last_sample_time_;
    // Units reported with no time elapsed count towards the next sample instead.
    if (dt <= 0) return;
    const double instant = std::max(0.0, static_cast<double>(done - last_sample_done_) / dt);
    if (!rate_known_) {
        rate_ = instant;
        rate_known_ = true;
    } else {
        // Weighting by elapsed time rather than per call keeps the average independent of how
        // often the caller reports.
        const double weight = 1 - std::exp(-dt / options_.rate_time_constant_s);
        rate_ += weight * (instant - rate_);
    }
    last_sample_time_ = now;
    last_sample_done_ = done;
}

void ProgressBar::update(std::int64_t done, const Fields& fields) {
    if (finished_) return;
    const double now = options_.clock();
    measure(done, now);
    if (!out_) return;
    if (terminal_) {
        const bool reached_end = total_ > 0 && done >= total_;
        if (last_draw_ && now - *last_draw_ < options_.redraw_interval_s && !reached_end) return;
        last_draw_ = now;
        redraw(terminal_line(fields, false), false);
        return;
    }
    const bool interval_passed = !last_draw_ || now - *last_draw_ >= options_.log_min_interval_s;
    if (total_ <= 0) {
        // No steps to count without a total: a line now and then shows the work is alive.
        if (now - last_draw_.value_or(start_) >= options_.log_min_interval_s) {
            last_draw_ = now;
            emit(log_line(fields) + "\n");
        }
        return;
    }
    const int step_percent = std::clamp(options_.log_step_percent, 1, 100);
    const auto percent = std::min<std::int64_t>(100, std::max<std::int64_t>(0, done) * 100 / total_);
    const int step = static_cast<int>(percent / step_percent);
    const bool crossed = step > last_logged_step_;
    last_logged_step_ = std::max(last_logged_step_, step);
    // 100% is left to finish(), whose line says the same and more.
    if (crossed && interval_passed && percent < 100) {
        last_draw_ = now;
        emit(log_line(fields) + "\n");
    }
}

void ProgressBar::finish(const Fields& fields) {
    if (finished_) return;
    finished_ = true;
    now_ = std::max(now_, options_.clock());
    if (!out_) return;
    if (terminal_) redraw(terminal_line(fields, true), true);
    else emit(finish_line(fields) + "\n");
}

namespace {

constexpr int kMinBarWidth = 10, kMaxBarWidth = 60;

// A terminal line's pieces in the order they are shown; an empty piece is not shown.
struct LinePieces {
    std::string head;                   // label and percentage
    std::optional<double> bar_fraction;  // the bar, when there is a total
    std::string counts, rate, timing;
    Fields fields;
};

std::string compose(const LinePieces& p, int bar_width) {
    std::string line = p.head;
    if (p.bar_fraction) {
        const int filled = static_cast<int>(std::floor(*p.bar_fraction * bar_width));
        line += " [" + std::string(filled, '#') + std::string(bar_width - filled, '.') + "]";
    }
    if (!p.counts.empty()) line += " " + p.counts;
    for (const std::string* part : {&p.rate, &p.timing})
        if (!part->empty()) line += "  " + *part;
    return line + join_fields(p.fields);
}

// Drops whole pieces until the line fits in `columns`, the least telling first: the counts (the
// percentage says as much), the rate, the bar, the caller's fields from the last, the timing. A
// number is never cut, so a narrow terminal cannot show "lr 0" for "lr 0.0976". The bar then
// takes what room is left, up to 60 characters.
std::string fit(LinePieces p, int columns) {
    const auto fits = [&] { return column_count(compose(p, kMinBarWidth)) <= columns; };
    if (!fits()) p.counts.clear();
    if (!fits()) p.rate.clear();
    if (!fits()) p.bar_fraction.reset();
    while (!fits() && !p.fields.empty()) p.fields.pop_back();
    if (!fits()) p.timing.clear();
    const int bar_width = std::clamp(columns - column_count(compose(p, 0)), kMinBarWidth, kMaxBarWidth);
    return clip_columns(compose(p, bar_width), columns);  // only a label wider than the terminal is cut
}

}  // namespace

std::string ProgressBar::terminal_line(const Fields& fields, bool finished) const {
    const double elapsed = now_ - start_;
    const double mean_rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
    LinePieces pieces;
    pieces.rate = fmt::format("{} {}/s", finished || !rate_known_ ? format_si(mean_rate) : format_si(rate_), unit_);
    pieces.timing = finished ? fmt::format("in {}", format_duration(elapsed))
                             : fmt::format("{} eta {}", format_duration(elapsed),
                                           eta() ? format_duration(*eta()) : "--:--");
    pieces.fields = fields;
    if (total_ <= 0) {
        pieces.head = label_;
        pieces.counts = fmt::format(" {} {}", done_, unit_);
    } else {
        const double fraction = std::clamp(static_cast<double>(done_) / static_cast<double>(total_), 0.0, 1.0);
        const std::string total_text = std::to_string(total_);
        pieces.head = fmt::format("{} {:3.0f}%", label_, std::floor(fraction * 100));
        pieces.bar_fraction = fraction;
        pieces.counts = fmt::format("{:>{}}/{}", done_, total_text.size(), total_text);
    }
    return fit(std::move(pieces), width_ - 1);
}

std::string ProgressBar::log_line(const Fields& fields) const {
    const double elapsed = now_ - start_;
    const std::string rate = fmt::format("{} {}/s", format_si(rate_), unit_);
    if (total_ <= 0) {
        return fmt::format("{}: {} {}  {}  elapsed {}{}", label_, done_, unit_, rate, format_duration(elapsed),
                           join_fields(fields));
    }
    const auto percent = std::max<std::int64_t>(0, done_) * 100 / total_;
    return fmt::format("{}: {:3}%  {}/{}  {}  elapsed {}  eta {}{}", label_, percent, done_, total_, rate,
                       format_duration(elapsed), eta() ? format_duration(*eta()) : "--:--", join_fields(fields));
}

std::string ProgressBar::finish_line(const Fields& fields) const {
    const double elapsed = now_ - start_;
    const double mean_rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
    const std::string count = total_ > 0 && done_ != total_ ? fmt::format("{}/{}", done_, total_)
                                                            : std::to_string(done_);
    return fmt::format("{}: done {} {} in {} ({} {}/s){}", label_, count, unit_, format_duration(elapsed),
                       format_si(mean_rate), unit_, join_fields(fields));
}

void ProgressBar::redraw(const std::string& line, bool end_line) {
    // Back to the line's start, the new text, then clear what a longer previous text left.
    std::fputc('\r', out_);
    std::fputs(line.c_str(), out_);
    emit(end_line ? "\x1b[K\n" : "\x1b[K");
    line_open_ = !end_line;
}

void ProgressBar::emit(const std::string& text) {
    std::fputs(text.c_str(), out_);
    std::fflush(out_);
}

}  // namespace weft::report
