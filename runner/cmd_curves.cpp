// weft curves: several training runs on one picture, and a table of where each ended. For the
// questions a single run's curves.svg cannot answer: does IGC pull ahead of RegConv, does a
// schedule change help, does weft track another framework on the same recipe.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "weft/error.h"
#include "weft/report/charts.h"
#include "weft/report/files.h"
#include "weft/report/picture.h"
#include "written_file.h"

namespace weft::runner {

namespace {

namespace fs = std::filesystem;

struct CurvesOptions {
    std::vector<std::string> runs;
    std::string output;
    std::string title = "training runs compared";
    bool json = false;
};

// "LABEL=PATH" names a run; a plain PATH is named after its run directory (or the CSV's stem).
// An argument that exists as a path is a path, even with '=' in it.
report::LabelledRows load_run(const std::string& argument) {
    std::string label, path = argument;
    if (const auto eq = argument.find('='); eq != std::string::npos && !fs::exists(argument)) {
        label = argument.substr(0, eq);
        path = argument.substr(eq + 1);
        if (label.empty() || path.empty()) throw Error(fmt::format("run '{}': expected LABEL=PATH", argument));
    }
    fs::path csv = path;
    if (fs::is_directory(csv)) csv /= "metrics.csv";
    if (!fs::exists(csv)) throw Error(fmt::format("run '{}': {} does not exist", argument, csv.string()));
    if (label.empty()) {
        label = csv.filename() == "metrics.csv" ? fs::absolute(csv).parent_path().filename().string()
                                                : csv.stem().string();
    }
    return {label, report::MetricsCsv::read(csv)};
}

std::optional<double> value(const report::MetricsCsv::Row& row, const std::string& key) {
    const auto it = row.find(key);
    if (it == row.end() || !std::isfinite(it->second)) return std::nullopt;
    return it->second;
}

std::string percent(std::optional<double> v) { return v ? fmt::format("{:.2f}%", *v * 100) : "-"; }

// Where a run ended: its epochs, last and best test accuracy (with the epoch), last train accuracy.
struct RunSummary {
    std::string label;
    std::size_t epochs;
    std::optional<double> last_test, last_train;
    std::optional<report::BestEpoch> best;
};

RunSummary summarise(const report::LabelledRows& run) {
    const report::MetricsCsv::Row last = run.rows.empty() ? report::MetricsCsv::Row{} : run.rows.back();
    return {run.label, run.rows.size(), value(last, "test_accuracy"), value(last, "train_accuracy"),
            report::best_test_accuracy(run.rows)};
}

void print_table(const std::vector<RunSummary>& runs) {
    std::size_t width = 3;
    for (const auto& run : runs) width = std::max(width, run.label.size());
    fmt::print("{:<{}}  {:>6}  {:>10}  {:>18}  {:>10}\n", "run", width, "epochs", "last test", "best test (epoch)",
               "last train");
    for (const auto& run : runs) {
        const std::string best = run.best ? fmt::format("{} ({:g})", percent(run.best->accuracy), run.best->epoch) : "-";
        fmt::print("{:<{}}  {:>6}  {:>10}  {:>18}  {:>10}\n", run.label, width, run.epochs, percent(run.last_test), best,
                   percent(run.last_train));
    }
}

nlohmann::json summary_json(const std::vector<RunSummary>& runs, const WrittenFile& picture) {
    const auto number = [](std::optional<double> v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& run : runs)
        rows.push_back({{"label", run.label},
                        {"epochs", run.epochs},
                        {"last_test_accuracy", number(run.last_test)},
                        {"best_test_accuracy", number(run.best ? std::optional(run.best->accuracy) : std::nullopt)},
                        {"best_epoch", number(run.best ? std::optional(run.best->epoch) : std::nullopt)},
                        {"last_train_accuracy", number(run.last_train)}});
    return {{"runs", rows}, {"picture", picture.json()}};
}

void curves_command(const CurvesOptions& o) {
    const report::PictureFormat format = report::picture_format(o.output);  // a bad name fails before any run is read
    std::vector<report::LabelledRows> runs;
    for (const std::string& argument : o.runs) runs.push_back(load_run(argument));
    std::vector<RunSummary> summaries;
    for (const auto& run : runs) summaries.push_back(summarise(run));
    const std::size_t bytes = report::write_picture(o.output, report::comparison_curves_svg(runs, o.title));
    const WrittenFile picture{o.output, std::string(report::picture_format_name(format)), bytes};
    if (o.json) {
        fmt::print("{}\n", summary_json(summaries, picture).dump(2));
        return;
    }
    print_table(summaries);
    fmt::print("{}\n", picture.line());
}

}  // namespace

void add_curves_command(CLI::App& app) {
    auto o = std::make_shared<CurvesOptions>();
    CLI::App* cmd = app.add_subcommand("curves", "compare training runs: their curves on one picture and a table");
    cmd->add_option("runs", o->runs,
                    "run directories or metrics CSV files (weft train's columns), each optionally LABEL=PATH")
        ->required();
    cmd->add_option("-o,--output", o->output, "picture to write (.svg or .png)")->required();
    cmd->add_option("--title", o->title, "the picture's title")->capture_default_str();
    cmd->add_flag("--json", o->json, "machine-readable output: each run's summary and the picture written");
    cmd->callback([o] { curves_command(*o); });
}

}  // namespace weft::runner
