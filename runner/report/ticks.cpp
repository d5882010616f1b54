#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "axis.h"
#include "weft/report/charts.h"

namespace weft::report {

namespace {

struct Step {
    double mantissa;  // 1, 2 or 5
    int exponent;     // step = mantissa * 10^exponent

    // i * step, computed so that 3 x 0.1 comes out as 0.3 and not 0.30000000000000004.
    double times(double i) const {
        return exponent < 0 ? i * mantissa / std::pow(10.0, -exponent) : i * mantissa * std::pow(10.0, exponent);
    }
};

// The 1-2-5 step closest (on a log scale) to `raw`.
Step nice_step(double raw) {
    const int exponent = static_cast<int>(std::floor(std::log10(raw)));
    const double residual = raw / std::pow(10.0, exponent);
    if (residual < 1.5) return {1, exponent};
    if (residual < 3.5) return {2, exponent};
    if (residual < 7.5) return {5, exponent};
    return {1, exponent + 1};
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
        lo = std::isfinite(lo) ? lo : std::isfinite(hi) ? hi : 0;
        hi = lo;
    }
    if (lo > hi) std::swap(lo, hi);
    if (hi - lo <= std::abs(hi) * 1e-12) {
        // A flat series still needs an axis: widen around the value by a tenth of its size.
        const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
        lo -= pad;
        hi += pad;
    }
    if (!std::isfinite(hi - lo)) return {lo, hi};
    const Step step = nice_step((hi - lo) / (std::clamp(target, 2, 50) - 1));
    const double size = step.times(1);
    // A whisker of tolerance, so a bound that is already a tick is not pushed out by rounding.
    const double first = std::floor(lo / size + 1e-9), last = std::ceil(hi / size - 1e-9);
    std::vector<double> ticks;
    for (double i = first; i <= last && ticks.size() < 200; ++i) ticks.push_back(step.times(i));
    if (ticks.size() < 2) ticks.push_back(step.times(last + 1));
    // Only values at the ends of double's range get here (denormal steps, overflowing powers).
    if (!std::is_sorted(ticks.begin(), ticks.end(), std::less_equal<>()) || !std::isfinite(ticks.back()))
        return {lo, hi};
    return ticks;
}

std::string tick_label(double value, double step) {
    if (std::abs(value) < std::abs(step) * 1e-9) return "0";
    if (step >= 1e-3 && std::abs(value) < 1e6) {
        const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
        return fmt::format("{:.{}f}", value, decimals);
    }
    return fmt::format("{:.3g}", value);
}

}  // namespace weft::report
