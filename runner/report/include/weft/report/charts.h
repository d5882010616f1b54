// Charts as self-contained SVG 1.1 text: no external fonts, scripts or styles, so a picture
// written next to a checkpoint opens the same in a browser, an editor or a CI artefact viewer.
// Every piece of text is XML-escaped: series and class names come from user files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace weft::report {

struct Series {
    std::string name{};
    std::vector<double> x{}, y{};  // a point with a NaN or infinite coordinate is a gap in the line
    std::string color{};           // any SVG colour; empty: the next palette colour
    bool dashed = false;
};

struct ChartOptions {
    std::string title{}, x_label{}, y_label{};
    std::optional<double> y_min{}, y_max{};  // in data units; empty: fitted to the data
    // y values are fractions (0.871) labelled as percentages (87.1%); ticks are chosen on the
    // percent scale so they read 85%, 90%, ...
    bool percent_y = false;
    int width = 800, height = 500;
};

// Axes with nice ticks, grid, one <polyline> per unbroken run of a series (markers when a series
// has at most 40 points; a lone point is a marker) and, under the plot where it cannot cover a
// curve, a legend naming every named series. No finite point at all: a chart that says "no data".
std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options);

// Per-epoch rows with keys epoch, lr, train_loss, test_loss, train_accuracy, test_accuracy
// (accuracies in [0, 1]; a missing key is skipped, a missing epoch is the row's 1-based index):
// loss, accuracy and learning-rate panels side by side, test solid and train dashed (as in
// comparison_curves_svg), best test accuracy marked.
std::string training_curves_svg(const std::vector<std::map<std::string, double>>& rows,
                                const std::string& title);

// The row with the highest finite test_accuracy (the first of equals) and its epoch (the row's
// 1-based index where it has no epoch); nothing when no row has one.
struct BestEpoch {
    double epoch, accuracy;
};
std::optional<BestEpoch> best_test_accuracy(const std::vector<std::map<std::string, double>>& rows);

// Several runs' rows (as training_curves_svg reads them) on the same three panels, loss, accuracy
// and learning rate: one colour per run, its test curve solid and its train curve dashed, the
// legend naming each run. Runs are drawn in the order given; a run without a metric adds no curve.
struct LabelledRows {
    std::string label;
    std::vector<std::map<std::string, double>> rows;
};
std::string comparison_curves_svg(const std::vector<LabelledRows>& runs, const std::string& title);

// counts[true][predicted]. Cells coloured by the share of their row (recall-like, so rare
// classes are as visible as common ones), counts written while cells are large enough, and a
// per-class recall column. class_names empty: classes are numbered. Throws weft::Error when the
// matrix is not square or the names do not match it.
std::string confusion_matrix_svg(const std::vector<std::vector<std::int64_t>>& counts,
                                 const std::vector<std::string>& class_names, const std::string& title);

// Axis ticks on multiples of 1, 2 or 5 x 10^k that cover [lo, hi] with about `target` ticks.
// lo == hi, reversed or non-finite bounds still give an increasing list of at least two ticks.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace weft::report
