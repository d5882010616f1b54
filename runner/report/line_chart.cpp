#include "line_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "axis.h"
#include "svg.h"
#include "text.h"

namespace weft::report {

namespace {

constexpr std::size_t kMaxPointsWithMarkers = 40;
constexpr double kCharWidth = 0.6;  // average glyph width of the sans font, in ems

struct Point {
    double x, y;
};

// Runs of consecutive finite points; a non-finite coordinate ends a run.
std::vector<std::vector<Point>> finite_runs(const Series& s, double y_scale) {
    std::vector<std::vector<Point>> runs(1);
    const std::size_t n = std::min(s.x.size(), s.y.size());
    for (std::size_t i = 0; i < n; ++i) {
        const double y = s.y[i] * y_scale;
        if (std::isfinite(s.x[i]) && std::isfinite(y)) runs.back().push_back({s.x[i], y});
        else if (!runs.back().empty()) runs.emplace_back();
    }
    if (runs.back().empty()) runs.pop_back();
    return runs;
}

struct Range {
    double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
    void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
    bool empty() const { return lo > hi; }
};

// Axis ticks and range: nice ticks around the data, or exactly the limits the caller gave.
struct Axis {
    std::vector<double> ticks;
    double lo, hi, step;
};

Axis make_axis(double lo, double hi, std::optional<double> fixed_lo, std::optional<double> fixed_hi, int target) {
    lo = fixed_lo.value_or(lo), hi = fixed_hi.value_or(hi);
    auto ticks = nice_ticks(lo, hi, target);
    const double step = ticks[1] - ticks[0];
    const double axis_lo = fixed_lo && *fixed_lo < hi ? *fixed_lo : ticks.front();
    const double axis_hi = fixed_hi && *fixed_hi > axis_lo ? *fixed_hi : ticks.back();
    const double tolerance = step * 1e-6;
    std::erase_if(ticks, [&](double t) { return t < axis_lo - tolerance || t > axis_hi + tolerance; });
    return {std::move(ticks), axis_lo, axis_hi, step};
}

std::string color_of(const Series& s, std::size_t index) {
    return s.color.empty() ? std::string(kPalette[index % kPalette.size()]) : s.color;
}

void draw_axes(std::string& svg, const PlotMapping& map, const Axis& x, const Axis& y, bool percent,
               double font) {
    const Box& a = map.area;
    svg += "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n";
    for (double t : x.ticks)
        svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", svg_number(map.px(t)),
                           svg_number(a.y), svg_number(a.y + a.height));
    for (double t : y.ticks)
        svg += fmt::format("<line x1=\"{1}\" y1=\"{0}\" x2=\"{2}\" y2=\"{0}\"/>\n",
                           svg_number(map.py(t / map.y_scale)), svg_number(a.x), svg_number(a.x + a.width));
    svg += "</g>\n";
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#555555\"/>\n",
                       svg_number(a.x), svg_number(a.y), svg_number(a.width), svg_number(a.height));
    const std::string size = fmt::format("font-size=\"{}\" fill=\"#333333\"", svg_number(font));
    for (double t : x.ticks)
        svg += svg_text(map.px(t), a.y + a.height + font + 5, tick_label(t, x.step), size + " text-anchor=\"middle\"");
    for (double t : y.ticks)
        svg += svg_text(a.x - 6, map.py(t / map.y_scale) + font * 0.35,
                        tick_label(t, y.step) + (percent ? "%" : ""), size + " text-anchor=\"end\"");
}

void draw_series(std::string& svg, const std::vector<Series>& series, const PlotMapping& map,
                 const std::string& clip) {
    svg += fmt::format("<clipPath id=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>\n", clip,
                       svg_number(map.area.x - 4), svg_number(map.area.y - 4), svg_number(map.area.width + 8),
                       svg_number(map.area.height + 8));
    svg += fmt::format("<g clip-path=\"url(#{})\" fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\">\n", clip);
    for (std::size_t i = 0; i < series.size(); ++i) {
        const Series& s = series[i];
        const std::string color = xml_escape(color_of(s, i));
        const auto runs = finite_runs(s, map.y_scale);
        std::size_t points = 0;
        for (const auto& run : runs) points += run.size();
        svg += fmt::format("<g stroke=\"{}\"{}>\n", color, s.dashed ? " stroke-dasharray=\"7 4\"" : "");
        if (!s.name.empty()) svg += fmt::format("<title>{}</title>\n", xml_escape(s.name));
        for (const auto& run : runs) {
            if (run.size() < 2) continue;
            svg += "<polyline points=\"";
            for (std::size_t k = 0; k < run.size(); ++k)
                svg += fmt::format("{}{},{}", k ? " " : "", svg_number(map.px(run[k].x)),
                                   svg_number(map.py(run[k].y / map.y_scale)));
            svg += "\"/>\n";
        }
        // Markers show where the samples are when there are few; a lone point has no line at all.
        for (const auto& run : runs) {
            if (points > kMaxPointsWithMarkers && run.size() > 1) continue;
            for (const Point& p : run)
                svg += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{}\" stroke=\"none\"/>\n",
                                   svg_number(map.px(p.x)), svg_number(map.py(p.y / map.y_scale)), color);
        }
        svg += "</g>\n";
    }
    svg += "</g>\n";
}

// The legend sits under the plot, off the data whatever its shape: one entry per named series,
// left to right, wrapping to further rows when the box is too narrow.
struct LegendLayout {
    struct Entry {
        std::size_t series;
        double x;  // from the box's left edge
        int row;
    };
    std::vector<Entry> entries;
    double line_height = 0;
    double height() const { return entries.empty() ? 0 : (entries.back().row + 1) * line_height + 4; }
};

LegendLayout lay_out_legend(const std::vector<Series>& series, double width, double font) {
    constexpr double kSample = 24, kGap = 18, kMargin = 10;
    LegendLayout layout;
    layout.line_height = font * 1.5;
    double x = kMargin;
    int row = 0;
    for (std::size_t i = 0; i < series.size(); ++i) {
        if (series[i].name.empty()) continue;
        const double entry = kSample + 6 + std::min(column_count(series[i].name), 40) * font * kCharWidth;
        if (x > kMargin && x + entry > width - kMargin) x = kMargin, ++row;
        layout.entries.push_back({i, x, row});
        x += entry + kGap;
    }
    return layout;
}

void draw_legend(std::string& svg, const std::vector<Series>& series, const LegendLayout& layout, double left,
                 double top, double font) {
    if (layout.entries.empty()) return;
    svg += fmt::format("<g class=\"legend\" font-size=\"{}\">\n", svg_number(font));
    for (const LegendLayout::Entry& e : layout.entries) {
        const Series& s = series[e.series];
        const double x = left + e.x, y = top + layout.line_height * (e.row + 0.5);
        svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
                           svg_number(x), svg_number(y), svg_number(x + 24), svg_number(y),
                           xml_escape(color_of(s, e.series)), s.dashed ? " stroke-dasharray=\"7 4\"" : "");
        svg += svg_text(x + 30, y + font * 0.35, shorten(s.name, 40), "fill=\"#222222\"");
    }
    svg += "</g>\n";
}

}  // namespace

std::optional<PlotMapping> draw_line_chart(std::string& svg, const std::vector<Series>& series,
                                           const ChartOptions& options, const Box& box) {
    const double title_font = 16, label_font = 13, tick_font = 11;
    const double top = options.title.empty() ? 16 : 40;
    if (!options.title.empty())
        svg += svg_text(box.x + box.width / 2, box.y + 26, options.title,
                        fmt::format("font-size=\"{}\" font-weight=\"bold\" text-anchor=\"middle\"", title_font));

    const double y_scale = options.percent_y ? 100 : 1;
    Range xs, ys;
    for (const Series& s : series)
        for (const auto& run : finite_runs(s, y_scale))
            for (const Point& p : run) xs.add(p.x), ys.add(p.y);
    if (xs.empty()) {
        const Box a{box.x + 20, box.y + top, box.width - 40, box.height - top - 20};
        svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#bbbbbb\"/>\n",
                           svg_number(a.x), svg_number(a.y), svg_number(a.width), svg_number(a.height));
        svg += svg_text(a.x + a.width / 2, a.y + a.height / 2, "no data",
                        "font-size=\"18\" fill=\"#888888\" text-anchor=\"middle\"");
        return std::nullopt;
    }

    const auto scaled = [&](std::optional<double> v) { return v ? std::optional(*v * y_scale) : std::nullopt; };
    const double legend_font = 12;
    const LegendLayout legend = lay_out_legend(series, box.width, legend_font);
    const double legend_top = box.y + box.height - legend.height();
    const double bottom = tick_font + 12 + (options.x_label.empty() ? 0 : label_font + 10) + legend.height();
    const double plot_height = std::max(40.0, box.height - top - bottom);
    const Axis y = make_axis(ys.lo, ys.hi, scaled(options.y_min), scaled(options.y_max),
                             static_cast<int>(plot_height / 55) + 1);
    int widest_label = 1;
    for (double t : y.ticks)
        widest_label = std::max(widest_label, column_count(tick_label(t, y.step)) + (options.percent_y ? 1 : 0));
    const double left = 10 + (options.y_label.empty() ? 0 : label_font + 8) + widest_label * tick_font * kCharWidth + 8;
    const double plot_width = std::max(40.0, box.width - left - 20);
    const Axis x = make_axis(xs.lo, xs.hi, std::nullopt, std::nullopt, static_cast<int>(plot_width / 90) + 1);

    const PlotMapping map{{box.x + left, box.y + top, plot_width, plot_height}, x.lo, x.hi, y.lo, y.hi, y_scale};
    draw_axes(svg, map, x, y, options.percent_y, tick_font);
    const std::string label = fmt::format("font-size=\"{}\" fill=\"#222222\" text-anchor=\"middle\"", label_font);
    if (!options.x_label.empty())
        svg += svg_text(map.area.x + plot_width / 2, legend_top - 8, options.x_label, label);
    if (!options.y_label.empty()) {
        const double lx = box.x + 10 + label_font, ly = map.area.y + plot_height / 2;
        svg += svg_text(lx, ly, options.y_label,
                        label + fmt::format(" transform=\"rotate(-90 {} {})\"", svg_number(lx), svg_number(ly)));
    }
    const std::string clip = svg_id("clip", fmt::format("{}|{}|{}|{}|{}", options.title, box.x, box.y, box.width,
                                                        box.height));
    draw_series(svg, series, map, clip);
    draw_legend(svg, series, legend, box.x, legend_top, legend_font);
    return map;
}

std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options) {
    const int width = std::max(options.width, 100), height = std::max(options.height, 80);
    std::string body;
    draw_line_chart(body, series, options, Box{0, 0, static_cast<double>(width), static_cast<double>(height)});
    return svg_document(width, height, options.title.empty() ? "chart" : options.title, body);
}

}  // namespace weft::report
