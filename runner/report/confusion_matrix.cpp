#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "svg.h"
#include "text.h"
#include "weft/error.h"
#include "weft/report/charts.h"

namespace weft::report {

namespace {

using Counts = std::vector<std::vector<std::int64_t>>;

constexpr double kCharWidth = 0.6;    // average glyph width of the sans font, in ems
constexpr int kLabelColumns = 20;      // longer class names are shortened with an ellipsis
constexpr double kNumbersFromCell = 18;  // smaller cells get no count written in them

void check_shape(const Counts& counts, const std::vector<std::string>& names) {
    for (std::size_t r = 0; r < counts.size(); ++r)
        if (counts[r].size() != counts.size())
            throw Error(fmt::format("confusion matrix: row {} has {} columns, expected {} (one per class)", r,
                                    counts[r].size(), counts.size()));
    if (!names.empty() && names.size() != counts.size())
        throw Error(fmt::format("confusion matrix: {} class names for {} classes", names.size(), counts.size()));
}

// Everything about the picture's geometry, worked out once from the class count and names.
struct Layout {
    std::size_t n;
    double cell, label_font, number_font, left, top, recall_width, bottom;
    bool numbers, rotate_predicted;
    double grid_x() const { return left; }
    double grid_y() const { return top; }
    double grid_size() const { return cell * static_cast<double>(n); }
    // Wide enough for the title and the accuracy line above a small matrix.
    int width() const { return std::max(520, static_cast<int>(std::ceil(left + grid_size() + 8 + recall_width + 16))); }
    int height() const { return static_cast<int>(std::ceil(top + grid_size() + bottom)); }
};

Layout make_layout(const Counts& counts, const std::vector<std::string>& labels) {
    Layout l{};
    l.n = counts.size();
    l.cell = std::clamp(std::floor(560.0 / static_cast<double>(l.n)), 5.0, 44.0);
    l.label_font = std::clamp(l.cell * 0.8, 4.0, 12.0);
    int longest = 1;
    for (const auto& label : labels) longest = std::max(longest, column_count(label));
    std::int64_t largest = 0;
    for (const auto& row : counts)
        for (std::int64_t c : row) largest = std::max(largest, c);
    const double digits = static_cast<double>(std::to_string(largest).size());
    l.numbers = l.cell >= kNumbersFromCell;
    l.number_font = std::clamp((l.cell - 6) / (digits * kCharWidth), 6.0, 13.0);
    const double label_length = longest * l.label_font * kCharWidth;
    l.rotate_predicted = label_length > l.cell - 2;
    l.left = 14 + 16 + label_length + 8;
    l.top = 66;
    l.recall_width = std::max(l.cell, 6 * l.label_font * kCharWidth + 8);
    const double predicted_height = l.rotate_predicted ? label_length * 0.71 + l.label_font : l.label_font;
    l.bottom = 8 + predicted_height + 8 + 14 + 12;
    return l;
}

double share(std::int64_t count, std::int64_t total) {
    return total > 0 ? static_cast<double>(count) / static_cast<double>(total) : 0;
}

// Dark cells take white text, light ones black, so every written count stays readable.
const char* text_color_on(double t) { return t > 0.5 ? "#ffffff" : "#111111"; }

void draw_cells(std::string& svg, const Counts& counts, const std::vector<std::string>& labels, const Layout& l,
                const std::vector<std::int64_t>& row_totals) {
    svg += fmt::format("<g font-size=\"{}\" text-anchor=\"middle\">\n", svg_number(l.number_font));
    for (std::size_t t = 0; t < l.n; ++t)
        for (std::size_t p = 0; p < l.n; ++p) {
            const std::int64_t c = counts[t][p];
            if (c == 0) continue;  // white background already; thousands of empty cells add nothing
            const double v = share(c, row_totals[t]);
            const double x = l.grid_x() + l.cell * p, y = l.grid_y() + l.cell * t;
            svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>\n",
                               svg_number(x), svg_number(y), svg_number(l.cell), svg_number(l.cell),
                               sequential_blue(v),
                               xml_escape(fmt::format("true {}, predicted {}: {} ({:.1f}% of {})", labels[t],
                                                      labels[p], c, v * 100, labels[t])));
            if (l.numbers)
                svg += svg_text(x + l.cell / 2, y + l.cell / 2 + l.number_font * 0.35, std::to_string(c),
                                fmt::format("fill=\"{}\"", text_color_on(v)));
        }
    svg += "</g>\n";
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999999\"/>\n",
                       svg_number(l.grid_x()), svg_number(l.grid_y()), svg_number(l.grid_size()),
                       svg_number(l.grid_size()));
}

void draw_labels(std::string& svg, const std::vector<std::string>& labels, const Layout& l) {
    svg += fmt::format("<g font-size=\"{}\" fill=\"#222222\">\n", svg_number(l.label_font));
    for (std::size_t i = 0; i < l.n; ++i) {
        const double middle = l.cell * (static_cast<double>(i) + 0.5);
        svg += svg_text(l.grid_x() - 6, l.grid_y() + middle + l.label_font * 0.35, labels[i], "text-anchor=\"end\"");
        const double x = l.grid_x() + middle, y = l.grid_y() + l.grid_size() + 6 + l.label_font;
        if (l.rotate_predicted)
            svg += svg_text(x, y - l.label_font * 0.5, labels[i],
                            fmt::format("text-anchor=\"end\" transform=\"rotate(-45 {} {})\"", svg_number(x),
                                        svg_number(y - l.label_font * 0.5)));
        else
            svg += svg_text(x, y, labels[i], "text-anchor=\"middle\"");
    }
    svg += "</g>\n";
    const double ty = l.grid_y() + l.grid_size() / 2;
    svg += svg_text(16, ty, "true class",
                    fmt::format("font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\"",
                                svg_number(ty)));
    svg += svg_text(l.grid_x() + l.grid_size() / 2, l.height() - 12, "predicted class",
                    "font-size=\"13\" text-anchor=\"middle\"");
}

void draw_recall(std::string& svg, const Counts& counts, const std::vector<std::string>& labels, const Layout& l,
                 const std::vector<std::int64_t>& row_totals) {
    const double x = l.grid_x() + l.grid_size() + 8;
    svg += svg_text(x + l.recall_width / 2, l.grid_y() - 6, "recall", "font-size=\"12\" text-anchor=\"middle\"");
    svg += fmt::format("<g font-size=\"{}\" text-anchor=\"middle\">\n", svg_number(std::min(12.0, l.label_font)));
    for (std::size_t t = 0; t < l.n; ++t) {
        const double y = l.grid_y() + l.cell * t;
        const bool known = row_totals[t] > 0;
        const double recall = share(counts[t][t], row_totals[t]);
        const std::string text = known ? fmt::format("{:.1f}%", recall * 100) : "n/a";
        svg += fmt::format(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#ffffff\" "
            "stroke-width=\"0.5\"><title>{}</title></rect>\n",
            svg_number(x), svg_number(y), svg_number(l.recall_width), svg_number(l.cell),
            known ? sequential_blue(recall) : "#eeeeee",
            xml_escape(fmt::format("recall of {}: {} ({} of {})", labels[t], text, counts[t][t], row_totals[t])));
        svg += svg_text(x + l.recall_width / 2, y + l.cell / 2 + std::min(12.0, l.label_font) * 0.35, text,
                        fmt::format("fill=\"{}\" class=\"recall\"", known ? text_color_on(recall) : "#666666"));
    }
    svg += "</g>\n";
}

}  // namespace

std::string confusion_matrix_svg(const Counts& counts, const std::vector<std::string>& class_names,
                                 const std::string& title) {
    check_shape(counts, class_names);
    if (counts.empty()) {
        std::string body = svg_text(200, 30, title, "font-size=\"16\" font-weight=\"bold\" text-anchor=\"middle\"");
        body += svg_text(200, 120, "no data", "font-size=\"18\" fill=\"#888888\" text-anchor=\"middle\"");
        return svg_document(400, 200, title, body);
    }
    std::vector<std::string> labels;
    for (std::size_t i = 0; i < counts.size(); ++i)
        labels.push_back(shorten(class_names.empty() ? std::to_string(i) : class_names[i], kLabelColumns));
    const Layout l = make_layout(counts, labels);

    std::vector<std::int64_t> row_totals(l.n, 0);
    std::int64_t total = 0, correct = 0;
    for (std::size_t t = 0; t < l.n; ++t) {
        for (std::int64_t c : counts[t]) row_totals[t] += c;
        total += row_totals[t];
        correct += counts[t][t];
    }

    std::string body;
    const double centre = l.width() / 2.0;
    body += svg_text(centre, 26, title, "font-size=\"16\" font-weight=\"bold\" text-anchor=\"middle\"");
    body += svg_text(centre, 46,
                     fmt::format("accuracy {:.2f}% of {} \u00b7 colour: share of each true class",
                                 share(correct, total) * 100, total),
                     "font-size=\"12\" fill=\"#555555\" text-anchor=\"middle\"");
    draw_cells(body, counts, labels, l, row_totals);
    draw_labels(body, labels, l);
    draw_recall(body, counts, labels, l, row_totals);
    return svg_document(l.width(), l.height(), title, body);
}

}  // namespace weft::report
