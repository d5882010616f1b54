// Colours: one soft fill and a darker line per operator type and per block template, a heat
// scale for measured time, and a qualitative scale for channel partitions.
#pragma once

#include <string>
#include <string_view>

namespace weft::viz {

struct Swatch {
    std::string fill;  // "#rrggbb"
    std::string line;
    std::string text = "#1f2937";
};

// Well-known operators get fixed colours so pictures agree with each other; any other name gets
// a stable colour from its hash.
Swatch op_swatch(std::string_view op);
Swatch block_swatch(std::string_view block);
inline Swatch io_swatch() { return {"#ffffff", "#6b7280", "#374151"}; }

// t in [0, 1]: pale yellow (little time) to dark red (the most time).
Swatch heat_swatch(double t);

// The k-th of n clearly different colours (hue wheel), and a pale version for areas.
std::string partition_colour(int k, int n, double lightness = 0.45);

std::string rgb_hex(double r, double g, double b);  // components in [0, 1]

}  // namespace weft::viz
