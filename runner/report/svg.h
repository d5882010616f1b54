// The small vocabulary every chart is written in: numbers, text, the document frame, colours.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace weft::report {

inline constexpr std::string_view kFontFamily = "Liberation Sans, Arial, sans-serif";

// Tableau 10: distinguishable in print and by most colour-blind readers.
inline constexpr std::array<std::string_view, 10> kPalette = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

// A coordinate with one decimal: enough for a screen, short enough for 10,000-cell matrices.
std::string svg_number(double value);

// <text> at (x, y); `attributes` are written as given (already escaped), `content` is escaped.
std::string svg_text(double x, double y, std::string_view content, std::string_view attributes = {});

// The whole document: XML declaration, <svg> with size and font, a white background, a <title>
// for viewers and screen readers, then `body`.
std::string svg_document(int width, int height, std::string_view title, std::string_view body);

// A white-to-dark-blue ramp for t in [0, 1] (ColorBrewer "Blues"), for heat maps.
std::string sequential_blue(double t);

// A short, stable identifier for `key`, for ids that must not collide when several charts are
// inlined into one HTML page.
std::string svg_id(std::string_view prefix, std::string_view key);

}  // namespace weft::report
