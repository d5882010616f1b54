// Axes for the charts: which values get ticks (nice_ticks, public in charts.h) and how they read.
#pragma once

#include <string>

namespace weft::report {

// `value` with as many decimals as the tick step needs (0.5 -> "0.5", 2 -> "2"), switching to
// the short scientific form for very small or very large steps.
std::string tick_label(double value, double step);

}  // namespace weft::report
