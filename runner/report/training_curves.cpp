#include <cmath>

#include <fmt/format.h>

#include "line_chart.h"
#include "svg.h"

namespace weft::report {

namespace {

using Rows = std::vector<std::map<std::string, double>>;

const std::string kTrainColor(kPalette[0]), kTestColor(kPalette[1]);

double epoch_of(const Rows& rows, std::size_t i) {
    const auto it = rows[i].find("epoch");
    return it != rows[i].end() ? it->second : static_cast<double>(i + 1);
}

// The metric over epochs, or nothing when no row has it (so the legend lists only real curves).
std::optional<Series> metric_series(const Rows& rows, const std::string& key, std::string name,
                                    const std::string& color, bool dashed) {
    Series s{std::move(name), {}, {}, color, dashed};
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto it = rows[i].find(key);
        if (it == rows[i].end()) continue;
        s.x.push_back(epoch_of(rows, i));
        s.y.push_back(it->second);
    }
    if (s.x.empty()) return std::nullopt;
    return s;
}

std::vector<Series> present(std::initializer_list<std::optional<Series>> candidates) {
    std::vector<Series> out;
    for (const auto& c : candidates)
        if (c) out.push_back(*c);
    return out;
}

void mark_best(std::string& svg, const PlotMapping& map, const BestEpoch& best) {
    const double x = map.px(best.epoch), y = map.py(best.accuracy);
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"1\" "
        "stroke-dasharray=\"2 3\"/>\n",
        svg_number(x), svg_number(y), svg_number(map.area.y + map.area.height), kTestColor);
    svg += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"6\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                       svg_number(x), svg_number(y), kTestColor);
}

}  // namespace

std::optional<BestEpoch> best_test_accuracy(const Rows& rows) {
    std::optional<BestEpoch> best;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto it = rows[i].find("test_accuracy");
        if (it == rows[i].end() || !std::isfinite(it->second)) continue;
        if (!best || it->second > best->accuracy) best = BestEpoch{epoch_of(rows, i), it->second};
    }
    return best;
}

namespace {

// The panels' places: three side by side under the title.
constexpr int kWidth = 1260, kHeight = 500, kHeader = 36;
constexpr double kPanelWidth = kWidth / 3.0, kPanelHeight = kHeight - kHeader;

Box panel(int index) { return Box{kPanelWidth * index, kHeader, kPanelWidth, kPanelHeight}; }

const ChartOptions kLossChart{.title = "Loss", .x_label = "epoch", .y_label = "loss"};
const ChartOptions kLearningRateChart{.title = "Learning rate (end of epoch)", .x_label = "epoch",
                                      .y_label = "learning rate", .y_min = 0.0};

std::string titled(const std::string& title) {
    return svg_text(kWidth / 2.0, 24, title, "font-size=\"17\" font-weight=\"bold\" text-anchor=\"middle\"");
}

}  // namespace

std::string training_curves_svg(const Rows& rows, const std::string& title) {
    std::string body = titled(title);
    // Test solid, train dashed: the same line styles as comparison_curves_svg.
    const auto losses = present({metric_series(rows, "test_loss", "test", kTestColor, false),
                                 metric_series(rows, "train_loss", "train", kTrainColor, true)});
    draw_line_chart(body, losses, kLossChart, panel(0));

    const auto accuracies = present({metric_series(rows, "test_accuracy", "test", kTestColor, false),
                                     metric_series(rows, "train_accuracy", "train", kTrainColor, true)});
    const auto best = best_test_accuracy(rows);
    // The best test accuracy goes in the panel's title: a label inside the plot would sooner
    // or later sit on top of a curve.
    const std::string accuracy_title =
        best ? fmt::format("Accuracy \u2014 best test {:.2f}% (epoch {})", best->accuracy * 100, best->epoch)
             : "Accuracy";
    const auto map = draw_line_chart(body, accuracies,
                                     {.title = accuracy_title, .x_label = "epoch", .y_label = "accuracy",
                                      .percent_y = true},
                                     panel(1));
    if (map && best) mark_best(body, *map, *best);

    draw_line_chart(body, present({metric_series(rows, "lr", "", kTrainColor, false)}), kLearningRateChart, panel(2));
    return svg_document(kWidth, kHeight, title, body);
}

std::string comparison_curves_svg(const std::vector<LabelledRows>& runs, const std::string& title) {
    std::string body = titled(title);
    std::vector<Series> losses, accuracies, rates;
    for (std::size_t r = 0; r < runs.size(); ++r) {
        // Test first: the number a comparison is about, and solid so it reads first.
        const std::string color(kPalette[r % kPalette.size()]);
        const std::string& label = runs[r].label;
        for (auto& s : present({metric_series(runs[r].rows, "test_loss", label + " test", color, false),
                                metric_series(runs[r].rows, "train_loss", label + " train", color, true)}))
            losses.push_back(std::move(s));
        for (auto& s : present({metric_series(runs[r].rows, "test_accuracy", label + " test", color, false),
                                metric_series(runs[r].rows, "train_accuracy", label + " train", color, true)}))
            accuracies.push_back(std::move(s));
        for (auto& s : present({metric_series(runs[r].rows, "lr", label, color, false)})) rates.push_back(std::move(s));
    }
    draw_line_chart(body, losses, kLossChart, panel(0));
    draw_line_chart(body, accuracies, {.title = "Accuracy", .x_label = "epoch", .y_label = "accuracy", .percent_y = true},
                    panel(1));
    draw_line_chart(body, rates, kLearningRateChart, panel(2));
    return svg_document(kWidth, kHeight, title, body);
}

}  // namespace weft::report
