// One line chart drawn into a region of a larger SVG, so training_curves_svg can put two side
// by side with the same axes, legend and gap handling as line_chart_svg.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "weft/report/charts.h"

namespace weft::report {

struct Box {
    double x = 0, y = 0, width = 0, height = 0;
};

// Where data lands in the picture, for callers that annotate a chart after drawing it.
struct PlotMapping {
    Box area;                  // the plot area inside the axes
    double x_lo, x_hi;         // axis range
    double y_lo, y_hi;         // axis range, in displayed units (percent when percent_y)
    double y_scale = 1;        // data units to displayed units
    double px(double x) const { return area.x + (x - x_lo) / (x_hi - x_lo) * area.width; }
    double py(double y) const { return area.y + area.height - (y * y_scale - y_lo) / (y_hi - y_lo) * area.height; }
};

// Appends the chart's elements to `svg`; empty when there was no finite point to draw.
std::optional<PlotMapping> draw_line_chart(std::string& svg, const std::vector<Series>& series,
                                           const ChartOptions& options, const Box& box);

}  // namespace weft::report
