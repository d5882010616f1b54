// weft_report: the progress line, the SVG charts and the files written during training.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "weft/error.h"
#include "weft/output_file.h"
#include "weft/report/charts.h"
#include "weft/report/files.h"
#include "weft/report/picture.h"
#include "weft/report/progress.h"
#include "svg.h"

namespace fs = std::filesystem;
using namespace weft::report;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- helpers ------------------------------------------------------------------------------

struct FakeClock {
    double now = 1000;  // not zero, so nothing can pass by assuming the clock starts there
    std::function<double()> function() {
        return [this] { return now; };
    }
};

std::string contents_of(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string text;
    char buffer[4096];
    while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, f)) text.append(buffer, n);
    return text;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A small XML well-formedness check: tags balanced and properly nested, attributes quoted,
// one root, every '&' a known entity, no '<' in text or attribute values.
std::string xml_problem(std::string_view doc) {
    const auto entity_ok = [&](std::size_t at) {
        const std::size_t end = doc.find(';', at);
        if (end == std::string_view::npos || end - at > 10) return false;
        const std::string_view name = doc.substr(at + 1, end - at - 1);
        return name == "amp" || name == "lt" || name == "gt" || name == "quot" || name == "apos" ||
               (name.size() > 1 && name[0] == '#');
    };
    std::vector<std::string> open;
    bool root_closed = false;
    for (std::size_t i = 0; i < doc.size();) {
        if (doc[i] == '&' && !entity_ok(i)) return fmt::format("bad entity at {}", i);
        if (doc[i] != '<') {
            ++i;
            continue;
        }
        if (doc.substr(i, 2) == "<?") {
            const std::size_t end = doc.find("?>", i);
            if (end == std::string_view::npos) return "unterminated <?";
            i = end + 2;
            continue;
        }
        std::size_t end = i + 1;
        for (char quote = 0; end < doc.size() && (quote || doc[end] != '>'); ++end) {
            if (quote && doc[end] == '<') return fmt::format("'<' in an attribute at {}", end);
            if (quote && doc[end] == '&' && !entity_ok(end)) return fmt::format("bad entity at {}", end);
            if (doc[end] == '"' || doc[end] == '\'') quote = quote == doc[end] ? 0 : quote ? quote : doc[end];
        }
        if (end >= doc.size()) return "unterminated tag";
        std::string_view tag = doc.substr(i + 1, end - i - 1);
        i = end + 1;
        if (tag.starts_with('/')) {
            if (open.empty() || open.back() != tag.substr(1)) return fmt::format("unexpected </{}>", tag.substr(1));
            open.pop_back();
            root_closed = open.empty();
            continue;
        }
        if (root_closed) return "a second root element";
        const bool self_closing = tag.ends_with('/');
        const std::string name(tag.substr(0, tag.find_first_of(" \t\n/")));
        if (name.empty()) return "tag without a name";
        static const std::regex attributes(R"re((\s+[A-Za-z_:][-\w:.]*="[^"]*")*\s*/?)re");
        if (!std::regex_match(std::string(tag.substr(name.size())), attributes))
            return fmt::format("bad attributes in <{}>", name);
        if (!self_closing) open.push_back(name);
        else root_closed = open.empty();
    }
    return open.empty() ? "" : fmt::format("<{}> not closed", open.back());
}

// The tiny checker always; xmllint too where it is installed.
void expect_well_formed(const std::string& svg) {
    EXPECT_EQ(xml_problem(svg), "");
    if (std::system("command -v xmllint >/dev/null 2>&1") != 0) return;
    const fs::path file = fs::temp_directory_path() / fmt::format("weft-report-test-{}.svg", ::getpid());
    std::ofstream(file) << svg;
    EXPECT_EQ(std::system(fmt::format("xmllint --noout '{}'", file.string()).c_str()), 0) << svg.substr(0, 2000);
    fs::remove(file);
}

// Points of each <polyline>, in document order.
std::vector<std::size_t> polyline_sizes(const std::string& svg) {
    static const std::regex polyline(R"re(<polyline points="([^"]*)")re");
    std::vector<std::size_t> sizes;
    for (std::sregex_iterator it(svg.begin(), svg.end(), polyline), end; it != end; ++it)
        sizes.push_back(count((*it)[1].str(), ","));
    return sizes;
}

std::vector<std::string> recall_texts(const std::string& svg) {
    static const std::regex recall(R"re(class="recall">([^<]*)<)re");
    std::vector<std::string> texts;
    for (std::sregex_iterator it(svg.begin(), svg.end(), recall), end; it != end; ++it) texts.push_back((*it)[1]);
    return texts;
}

class ScratchDir : public ::testing::Test {
protected:
    void SetUp() override {
        dir = fs::temp_directory_path() /
              fmt::format("weft-report-{}-{}", ::getpid(),
                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    void TearDown() override { fs::remove_all(dir); }
    fs::path dir;
};

// ---- progress -----------------------------------------------------------------------------

TEST(ProgressBar, LogOutputHasOneLinePerTenPercentWithRateAndEta) {
    FakeClock clock;
    std::FILE* out = std::tmpfile();
    {
        ProgressBar bar("train", 1000, "img", out, {.clock = clock.function(), .terminal = false});
        for (int done = 10; done <= 1000; done += 10) {
            clock.now += 4;  // 2.5 img/s, so each 10% takes 40 s: past the 30 s limit between lines
            bar.update(done, {{"loss", "0.5"}});
        }
        bar.finish({{"loss", "0.5"}, {"acc", "87.1%"}});
    }
    const std::string text = contents_of(out);
    std::fclose(out);
    EXPECT_EQ(text.find('\r'), std::string::npos);
    const auto lines = lines_of(text);
    ASSERT_EQ(lines.size(), 10u) << text;  // 10% .. 90%, then the finish line
    EXPECT_EQ(lines[0], "train:  10%  100/1000  2.50 img/s  elapsed 00:40  eta 06:00  loss 0.5");
    EXPECT_EQ(lines[8], "train:  90%  900/1000  2.50 img/s  elapsed 06:00  eta 00:40  loss 0.5");
    EXPECT_EQ(lines[9], "train: done 1000 img in 06:40 (2.50 img/s)  loss 0.5  acc 87.1%");
}

TEST(ProgressBar, LogLinesComeNoMoreOftenThanEveryThirtySeconds) {
    FakeClock clock;
    std::FILE* out = std::tmpfile();
    {
        ProgressBar bar("eval", 1000, "img", out, {.clock = clock.function(), .terminal = false});
        for (int done = 10; done <= 1000; done += 10) {
            clock.now += 0.5;  // 10% every 5 s
            bar.update(done);
        }
        bar.finish();
    }
    const auto lines = lines_of(contents_of(out));
    std::fclose(out);
    // 10% at 5 s, then 70% at 35 s (the first step 30 s later), then the finish line.
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_TRUE(lines[0].starts_with("eval:  10%")) << lines[0];
    EXPECT_TRUE(lines[1].starts_with("eval:  70%")) << lines[1];
    EXPECT_TRUE(lines[2].starts_with("eval: done 1000 img in 00:50")) << lines[2];
}

TEST(ProgressBar, TerminalLineIsRedrawnInPlaceAtMostEightTimesASecond) {
    FakeClock clock;
    std::FILE* out = std::tmpfile();
    {
        ProgressBar bar("epoch 1", 200, "img", out, {.clock = clock.function(), .terminal = true, .width = 80});
        for (int done = 1; done <= 200; ++done) {
            clock.now += 0.01;  // 200 updates over 2 s
            bar.update(done, {{"loss", "0.4312"}});
        }
        bar.finish({{"loss", "0.4312"}});
    }
    const std::string text = contents_of(out);
    std::fclose(out);
    const std::size_t draws = count(text, "\r");
    EXPECT_GE(draws, 10u);
    EXPECT_LE(draws, 2 * 8 + 3u);  // 8/s over 2 s, the first draw, the final state and finish
    EXPECT_EQ(count(text, "\n"), 1u);
    EXPECT_TRUE(text.ends_with("\x1b[K\n"));
    std::vector<std::string> draws_text;
    for (std::size_t at = text.find('\r'); at != std::string::npos;) {
        const std::size_t next = text.find('\r', at + 1);
        std::string line = text.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
        draws_text.push_back(line.substr(0, line.find("\x1b[K")));
        at = next;
    }
    for (const auto& line : draws_text) EXPECT_LE(line.size(), 79u) << line;
    const std::string& last = draws_text.back();
    EXPECT_NE(last.find("100% [####"), std::string::npos) << last;
    EXPECT_NE(last.find("200/200"), std::string::npos) << last;
    EXPECT_NE(last.find("in 00:02"), std::string::npos) << last;
    EXPECT_NE(last.find("loss 0.4312"), std::string::npos) << last;
    const std::string& middle = draws_text[draws_text.size() / 2];
    EXPECT_NE(middle.find("100 img/s"), std::string::npos) << middle;
    EXPECT_NE(middle.find(" eta 00:01"), std::string::npos) << middle;
}

TEST(ProgressBar, BarFillsTheTerminalWidthUpToSixtyCharacters) {
    FakeClock clock;
    for (int width : {60, 80, 200}) {
        std::FILE* out = std::tmpfile();
        std::string text;
        {
            ProgressBar bar("x", 10, "img", out, {.clock = clock.function(), .terminal = true, .width = width});
            clock.now += 1;
            bar.update(5);
            text = contents_of(out);
        }  // the bar ends its unfinished line here, so it must go before the file
        std::fclose(out);
        const std::string line = text.substr(1, text.find("\x1b[K") - 1);
        const std::size_t bar_width = line.find(']') - line.find('[') - 1;
        if (width < 200) {
            EXPECT_EQ(line.size(), static_cast<std::size_t>(width - 1)) << line;
        } else {
            EXPECT_EQ(bar_width, 60u) << line;
        }
        EXPECT_EQ(count(line, "#"), bar_width / 2) << line;
    }
}

// On a narrow terminal whole pieces go (the counts, the rate, the bar, then the caller's fields from
// the last), so every number that is shown is shown in full: never "lr 0" for "lr 0.09755".
TEST(ProgressBar, ANarrowTerminalDropsWholeFieldsNeverDigits) {
    const Fields fields = {{"loss", "0.4312"}, {"acc", "87.12%"}, {"lr", "0.09755"}};
    for (int width : {40, 60, 80, 100, 140}) {
        FakeClock clock;
        std::FILE* out = std::tmpfile();
        std::string text;
        {
            ProgressBar bar("epoch 12/15", 60000, "img", out, {.clock = clock.function(), .terminal = true, .width = width});
            clock.now += 10;
            bar.update(25088, fields);
            text = contents_of(out);
        }
        std::fclose(out);
        const std::string line = text.substr(1, text.find("\x1b[K") - 1);
        EXPECT_LE(line.size(), static_cast<std::size_t>(width - 1)) << line;
        EXPECT_TRUE(line.starts_with("epoch 12/15  41%")) << line;
        // Each piece is there whole or not at all, and the fields leave from the last one.
        bool dropped_earlier = false;
        for (const auto& [name, value] : fields) {
            const bool shown = line.find(name + " " + value) != std::string::npos;
            if (!shown) EXPECT_EQ(line.find(name + " "), std::string::npos) << line;
            if (shown) EXPECT_FALSE(dropped_earlier) << "a later field kept while an earlier one went: " << line;
            dropped_earlier |= !shown;
        }
        for (const char* piece : {"25088/60000", "2.51k img/s", "00:10 eta 00:14"})
            if (line.find(piece) == std::string::npos) EXPECT_EQ(line.find(std::string(piece).substr(0, 3)), std::string::npos) << line;
        if (width >= 100) EXPECT_NE(line.find("lr 0.09755"), std::string::npos) << line;
        if (width == 80) EXPECT_NE(line.find("loss 0.4312  acc 87.12%"), std::string::npos) << line;
    }
}

TEST(ProgressBar, ZeroTotalAndOvershootAreShownWithoutFailing) {
    FakeClock clock;
    for (bool terminal : {false, true}) {
        std::FILE* out = std::tmpfile();
        {
            ProgressBar empty("nothing", 0, "img", out, {.clock = clock.function(), .terminal = terminal});
            clock.now += 40;
            empty.update(0);
            EXPECT_FALSE(empty.eta().has_value());
            empty.finish();
        }
        {
            ProgressBar over("over", 100, "img", out, {.clock = clock.function(), .terminal = terminal});
            clock.now += 1;
            over.update(150);
            EXPECT_EQ(over.eta().value_or(-1), 0);
            over.finish();
        }
        const std::string text = contents_of(out);
        std::fclose(out);
        EXPECT_NE(text.find("nothing"), std::string::npos) << text;
        EXPECT_NE(text.find("150/100"), std::string::npos) << text;
        EXPECT_EQ(text.find("nan"), std::string::npos) << text;
        EXPECT_EQ(text.find("inf"), std::string::npos) << text;
        if (terminal) {
            EXPECT_NE(text.find("100% [##########"), std::string::npos) << text;
        }
    }
}

TEST(ProgressBar, RateIsSmoothedSoTheEtaDoesNotJumpWithOneSlowBatch) {
    FakeClock clock;
    ProgressBar bar("train", 10000, "img", nullptr, {.clock = clock.function()});
    for (int done = 100; done <= 5000; done += 100) {
        clock.now += 1;
        bar.update(done);
    }
    EXPECT_DOUBLE_EQ(bar.rate(), 100);
    clock.now += 3;  // one batch three times slower than the others
    bar.update(5100);
    EXPECT_GT(bar.rate(), 80);
    EXPECT_LT(bar.rate(), 100);
}

TEST(ProgressBar, DurationsReadAsMinutesSecondsOrHours) {
    EXPECT_EQ(format_duration(0), "00:00");
    EXPECT_EQ(format_duration(59), "00:59");
    EXPECT_EQ(format_duration(61), "01:01");
    EXPECT_EQ(format_duration(3 * 3600), "3:00:00");
    EXPECT_EQ(format_duration(3599.6), "1:00:00");
    EXPECT_EQ(format_duration(kNaN), "--:--");
    EXPECT_EQ(format_duration(-1), "--:--");
}

TEST(ProgressBar, RatesHaveThreeSignificantDigitsAndAPrefix) {
    EXPECT_EQ(format_si(2.5), "2.50");
    EXPECT_EQ(format_si(15.24), "15.2");
    EXPECT_EQ(format_si(152), "152");
    EXPECT_EQ(format_si(1520), "1.52k");
    EXPECT_EQ(format_si(999.7), "1.00k");
    EXPECT_EQ(format_si(2.5e6), "2.50M");
}

// ---- ticks --------------------------------------------------------------------------------

void expect_nice(const std::vector<double>& ticks, double lo, double hi) {
    ASSERT_GE(ticks.size(), 2u);
    EXPECT_LE(ticks.size(), 12u);
    EXPECT_LE(ticks.front(), lo);
    EXPECT_GE(ticks.back(), hi);
    const double step = ticks[1] - ticks[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 || std::abs(mantissa - 5) < 1e-6)
        << "step " << step;
    for (std::size_t i = 1; i < ticks.size(); ++i) EXPECT_NEAR(ticks[i] - ticks[i - 1], step, step * 1e-9);
    for (double t : ticks) EXPECT_NEAR(t / step, std::round(t / step), 1e-6);
}

TEST(NiceTicks, AreMultiplesOfOneTwoOrFiveTimesAPowerOfTen) {
    EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
    EXPECT_EQ(nice_ticks(0.37, 2.9), (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5, 3}));
    EXPECT_EQ(nice_ticks(1e-4, 3e-4), (std::vector<double>{1e-4, 1.5e-4, 2e-4, 2.5e-4, 3e-4}));
    for (auto [lo, hi] : {std::pair{0.0, 1.0}, {0.37, 2.9}, {1e-4, 3e-4}, {-3.0, 117.0}, {0.871, 0.9132}, {1.0, 1e6}})
        expect_nice(nice_ticks(lo, hi), lo, hi);
}

TEST(NiceTicks, DegenerateRangesStillGiveAnAxis) {
    expect_nice(nice_ticks(5, 5), 5, 5);
    expect_nice(nice_ticks(0, 0), 0, 0);
    expect_nice(nice_ticks(-2e-7, -2e-7), -2e-7, -2e-7);
    expect_nice(nice_ticks(3, 1), 1, 3);
    const auto from_nan = nice_ticks(kNaN, kInf);
    ASSERT_GE(from_nan.size(), 2u);
    EXPECT_LT(from_nan.front(), from_nan.back());
}

// ---- line charts --------------------------------------------------------------------------

Series ramp(std::string name, int n, double slope) {
    Series s{std::move(name), {}, {}, "", false};
    for (int i = 0; i < n; ++i) s.x.push_back(i), s.y.push_back(slope * i);
    return s;
}

TEST(LineChart, DrawsOnePolylinePerSeriesWithAllItsPoints) {
    const std::string svg = line_chart_svg({ramp("long", 50, 0.5), ramp("short", 10, 2)},
                                           {.title = "t", .x_label = "epoch", .y_label = "loss"});
    expect_well_formed(svg);
    EXPECT_EQ(polyline_sizes(svg), (std::vector<std::size_t>{50, 10}));
    EXPECT_EQ(count(svg, "<circle"), 10u);  // markers only on the series with at most 40 points
    EXPECT_NE(svg.find("font-family=\"Liberation Sans, Arial, sans-serif\""), std::string::npos);
    EXPECT_NE(svg.find(">long</text>"), std::string::npos);  // legend
    EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_EQ(svg.find("href"), std::string::npos);
}

TEST(LineChart, NonFinitePointsAreGaps) {
    Series s{"gappy", {0, 1, 2, 3, 4, 5, 6}, {1, 2, kNaN, 4, 5, 6, 7}, "", true};
    s.x[5] = kInf;
    const std::string svg = line_chart_svg({s}, {});
    expect_well_formed(svg);
    EXPECT_EQ(polyline_sizes(svg), (std::vector<std::size_t>{2, 2}));
    EXPECT_EQ(count(svg, "<circle"), 5u);  // the lone point after the second gap too
    EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);
    EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(LineChart, ASinglePointIsStillDrawn) {
    const std::string svg = line_chart_svg({{"one", {3}, {0.5}, "#123456", false}}, {});
    expect_well_formed(svg);
    EXPECT_TRUE(polyline_sizes(svg).empty());
    EXPECT_EQ(count(svg, "<circle"), 1u);
    EXPECT_NE(svg.find("#123456"), std::string::npos);
}

TEST(LineChart, NamesAndTitlesAreEscaped) {
    const std::string name = "a<b & \"c\"";
    const std::string svg = line_chart_svg({ramp(name, 5, 1)}, {.title = name, .x_label = "x'y", .y_label = "\x01"});
    expect_well_formed(svg);
    EXPECT_NE(svg.find("a&lt;b &amp; &quot;c&quot;"), std::string::npos);
    EXPECT_EQ(svg.find("a<b"), std::string::npos);
    EXPECT_NE(svg.find("x&apos;y"), std::string::npos);
}

TEST(LineChart, InvalidUtf8InANameStillGivesWellFormedXml) {
    const std::string svg = line_chart_svg({ramp("caf\xC3\xA9 \xFF\xFE bad", 5, 1)}, {.title = "\xE2\x82"});
    expect_well_formed(svg);
    EXPECT_NE(svg.find("caf\xC3\xA9 ?? bad"), std::string::npos);
}

TEST(LineChart, PercentAxisLabelsFractionsAsPercentages) {
    Series s{"acc", {1, 2, 3}, {0.5, 0.75, 0.9}, "", false};
    const std::string svg = line_chart_svg({s}, {.percent_y = true});
    expect_well_formed(svg);
    EXPECT_NE(svg.find(">50%</text>"), std::string::npos) << svg;
    EXPECT_NE(svg.find(">90%</text>"), std::string::npos) << svg;
    EXPECT_EQ(svg.find(">0.9</text>"), std::string::npos);
}

TEST(LineChart, FixedLimitsBoundTheAxis) {
    const std::string svg = line_chart_svg({ramp("r", 5, 0.1)}, {.y_min = 0, .y_max = 1});
    expect_well_formed(svg);
    EXPECT_NE(svg.find(">1.0</text>"), std::string::npos) << svg;
    EXPECT_EQ(svg.find(">1.2</text>"), std::string::npos);
}

TEST(LineChart, WithoutDataSaysSo) {
    for (const auto& series : {std::vector<Series>{}, std::vector<Series>{{"nan", {kNaN}, {1}, "", false}},
                               std::vector<Series>{{"empty", {}, {}, "", false}}}) {
        const std::string svg = line_chart_svg(series, {.title = "loss"});
        expect_well_formed(svg);
        EXPECT_NE(svg.find(">no data</text>"), std::string::npos);
        EXPECT_TRUE(polyline_sizes(svg).empty());
    }
}

TEST(LineChart, AFlatSeriesHasAnAxis) {
    const std::string svg = line_chart_svg({{"flat", {1, 2, 3}, {7, 7, 7}, "", false}}, {});
    expect_well_formed(svg);
    EXPECT_EQ(polyline_sizes(svg), (std::vector<std::size_t>{3}));
    EXPECT_EQ(svg.find("nan"), std::string::npos);
}

// ---- training curves ----------------------------------------------------------------------

// The <title> of each series group drawn dashed, in document order.
std::vector<std::string> dashed_series(const std::string& svg) {
    static const std::regex group(R"re(<g stroke="[^"]*" stroke-dasharray="7 4">\n<title>([^<]*)</title>)re");
    std::vector<std::string> names;
    for (std::sregex_iterator it(svg.begin(), svg.end(), group), end; it != end; ++it) names.push_back((*it)[1]);
    return names;
}

TEST(TrainingCurves, LossAccuracyAndLearningRatePanelsTestSolidTrainDashedBestMarked) {
    std::vector<std::map<std::string, double>> rows;
    const double test_acc[] = {0.5, 0.7, 0.8, 0.91, 0.9};
    for (int e = 1; e <= 5; ++e)
        rows.push_back({{"epoch", e},
                        {"lr", 0.1 / e},
                        {"train_loss", 2.0 / e},
                        {"test_loss", 2.2 / e},
                        {"train_accuracy", 0.1 + 0.18 * e},
                        {"test_accuracy", test_acc[e - 1]}});
    const std::string svg = training_curves_svg(rows, "resnet <cifar10>");
    expect_well_formed(svg);
    EXPECT_EQ(polyline_sizes(svg), (std::vector<std::size_t>{5, 5, 5, 5, 5}));
    // Train dashed in both panels (as `weft curves` draws it), test solid; the legend samples match.
    EXPECT_EQ(dashed_series(svg), (std::vector<std::string>{"train", "train"}));
    EXPECT_EQ(count(svg, "stroke-dasharray=\"7 4\""), 4u);
    EXPECT_NE(svg.find(">Learning rate (end of epoch)</text>"), std::string::npos);
    EXPECT_NE(svg.find("best test 91.00% (epoch 4)"), std::string::npos);
    EXPECT_NE(svg.find("resnet &lt;cifar10&gt;"), std::string::npos);
    EXPECT_NE(svg.find("%</text>"), std::string::npos);
}

TEST(TrainingCurves, MissingMetricsAreSkipped) {
    const std::string svg = training_curves_svg({{{"train_loss", 1.0}}, {{"train_loss", 0.5}}}, "partial");
    expect_well_formed(svg);
    EXPECT_EQ(polyline_sizes(svg), (std::vector<std::size_t>{2}));
    EXPECT_EQ(count(svg, ">no data</text>"), 2u);  // the accuracy and learning-rate panels
    EXPECT_EQ(svg.find(">test</text>"), std::string::npos);

    const std::string empty = training_curves_svg({}, "nothing yet");
    expect_well_formed(empty);
    EXPECT_EQ(count(empty, ">no data</text>"), 3u);
}

TEST(ComparisonCurves, OneColourPerRunWithTestSolidAndTrainDashed) {
    std::vector<std::map<std::string, double>> igc, reg;
    for (int e = 1; e <= 4; ++e) {
        igc.push_back({{"epoch", e}, {"lr", 0.1 / e}, {"train_loss", 2.0 / e}, {"test_loss", 2.1 / e},
                       {"train_accuracy", 0.2 * e}, {"test_accuracy", 0.19 * e}});
        reg.push_back({{"epoch", e}, {"train_loss", 2.2 / e}, {"test_loss", 2.3 / e}});  // no accuracies, no lr
    }
    const std::string svg = comparison_curves_svg({{"igc <d8>", igc}, {"reg", reg}}, "igc vs reg");
    expect_well_formed(svg);
    // Loss panel: both runs' test and train; accuracy panel: igc's two only; learning rate: igc's.
    EXPECT_EQ(polyline_sizes(svg), (std::vector<std::size_t>{4, 4, 4, 4, 4, 4, 4}));
    EXPECT_EQ(dashed_series(svg), (std::vector<std::string>{"igc &lt;d8&gt; train", "reg train", "igc &lt;d8&gt; train"}));
    EXPECT_EQ(count(svg, "stroke-dasharray=\"7 4\""), 6u);  // three train curves and their legend samples
    EXPECT_EQ(count(svg, ">igc &lt;d8&gt; test</text>"), 2u);
    EXPECT_EQ(count(svg, ">reg train</text>"), 1u);
    EXPECT_EQ(count(svg, ">igc &lt;d8&gt;</text>"), 1u);  // the learning-rate legend
    EXPECT_NE(svg.find(std::string(kPalette[0])), std::string::npos);
    EXPECT_NE(svg.find(std::string(kPalette[1])), std::string::npos);

    const std::string empty = comparison_curves_svg({}, "nothing");
    expect_well_formed(empty);
    EXPECT_EQ(count(empty, ">no data</text>"), 3u);
}

// The legend goes under the plot area, so no curve can pass beneath it, and wraps to more rows
// (still inside the picture) when there are many series.
TEST(LineChart, TheLegendSitsUnderThePlotAndWrapsInsideThePicture) {
    static const std::regex frame(R"re(<rect x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)" fill="none" stroke="#555555"/>)re");
    static const std::regex sample(R"re(<line x1="[^"]*" y1="([^"]*)")re");
    for (int series_count : {2, 12}) {
        std::vector<Series> series;
        for (int i = 0; i < series_count; ++i)
            series.push_back({fmt::format("a rather long series name {}", i), {0, 1, 2}, {1.0 * i, 2.0, 3.0 * i}});
        const std::string svg = line_chart_svg(series, {.title = "t", .x_label = "epoch", .width = 480, .height = 400});
        expect_well_formed(svg);
        std::smatch m;
        ASSERT_TRUE(std::regex_search(svg, m, frame)) << svg;
        const double plot_bottom = std::stod(m[1]) + std::stod(m[2]);
        const std::string legend = svg.substr(svg.find("<g class=\"legend\""));
        std::set<double> rows;
        for (std::sregex_iterator it(legend.begin(), legend.end(), sample), end; it != end; ++it) {
            const double y = std::stod((*it)[1]);
            EXPECT_GT(y, plot_bottom + 20) << "legend inside or on the axis labels";  // under the tick and x labels
            EXPECT_LT(y, 400);
            rows.insert(y);
        }
        EXPECT_EQ(count(legend, "<line"), static_cast<std::size_t>(series_count));
        if (series_count == 12) EXPECT_GT(rows.size(), 2u);
    }
}

// ---- confusion matrix ---------------------------------------------------------------------

std::vector<std::vector<std::int64_t>> confusion(std::size_t n) {
    // Class t: 90 + t right, and t sent to the next class.
    std::vector<std::vector<std::int64_t>> counts(n, std::vector<std::int64_t>(n, 0));
    for (std::size_t t = 0; t < n; ++t) {
        counts[t][t] = static_cast<std::int64_t>(90 + t);
        counts[t][(t + 1) % n] += static_cast<std::int64_t>(t);
    }
    return counts;
}

TEST(ConfusionMatrix, TenClassesHaveCountsAndRecallPerClass) {
    std::vector<std::string> names = {"airplane", "automobile", "bird", "cat", "deer",
                                      "dog",      "frog",       "horse", "ship", "truck & <van>"};
    const auto counts = confusion(10);
    const std::string svg = confusion_matrix_svg(counts, names, "CIFAR-10");
    expect_well_formed(svg);
    const auto recalls = recall_texts(svg);
    ASSERT_EQ(recalls.size(), 10u);
    for (std::size_t t = 0; t < 10; ++t)
        EXPECT_EQ(recalls[t], fmt::format("{:.1f}%", 100.0 * (90 + t) / (90 + 2 * t))) << t;
    EXPECT_EQ(recalls[0], "100.0%");
    EXPECT_NE(svg.find(">99</text>"), std::string::npos);  // counts written in the cells
    EXPECT_NE(svg.find("truck &amp; &lt;van&gt;"), std::string::npos);
    EXPECT_NE(svg.find("fill=\"#ffffff\">99<"), std::string::npos);  // white text on a dark cell
    EXPECT_NE(svg.find("rotate(-45"), std::string::npos);          // long names do not fit a column
}

TEST(ConfusionMatrix, HundredClassesDropCellNumbersAndStayReadable) {
    const auto counts = confusion(100);
    std::vector<std::string> names;
    for (int i = 0; i < 100; ++i) names.push_back(fmt::format("class_{:03}", i));
    const std::string svg = confusion_matrix_svg(counts, names, "CIFAR-100");
    expect_well_formed(svg);
    const auto recalls = recall_texts(svg);
    ASSERT_EQ(recalls.size(), 100u);
    EXPECT_EQ(recalls[99], fmt::format("{:.1f}%", 100.0 * 189 / 288));
    EXPECT_EQ(svg.find(">189</text>"), std::string::npos);
    EXPECT_LT(svg.size(), 2'000'000u);
    static const std::regex size(R"re(<svg [^>]*width="(\d+)" height="(\d+)")re");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(svg, m, size));
    EXPECT_LE(std::stoi(m[1]), 1000);
    EXPECT_LE(std::stoi(m[2]), 1000);
}

TEST(ConfusionMatrix, ClassesWithoutSamplesAndUnnamedClasses) {
    const std::string svg = confusion_matrix_svg({{3, 1}, {0, 0}}, {}, "");
    expect_well_formed(svg);
    EXPECT_EQ(recall_texts(svg), (std::vector<std::string>{"75.0%", "n/a"}));
    EXPECT_NE(confusion_matrix_svg({}, {}, "none").find(">no data</text>"), std::string::npos);
}

TEST(ConfusionMatrix, ShapeMismatchesAreErrors) {
    EXPECT_THROW(confusion_matrix_svg({{1, 2}, {3}}, {}, ""), weft::Error);
    EXPECT_THROW(confusion_matrix_svg(confusion(3), {"a", "b"}, ""), weft::Error);
}

// ---- files --------------------------------------------------------------------------------

using AtomicWrite = ScratchDir;

TEST_F(AtomicWrite, ReplacesTheContentAndLeavesNoTemporaryFile) {
    const fs::path file = dir / "curves.svg";
    weft::write_file_atomically(file, "first version, longer than the second");
    weft::write_file_atomically(file, "second");
    EXPECT_EQ(read_file(file), "second");
    std::vector<fs::path> entries(fs::directory_iterator(dir), fs::directory_iterator{});
    EXPECT_EQ(entries, std::vector<fs::path>{file});
}

TEST_F(AtomicWrite, FailureNamesThePathAndTheReason) {
    const fs::path file = dir / "missing-dir" / "curves.svg";
    try {
        weft::write_file_atomically(file, "x");
        FAIL() << "expected weft::Error";
    } catch (const weft::Error& e) {
        EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
    }
    // A directory where the file should be: refused before a temporary is written.
    fs::create_directory(dir / "taken");
    fs::create_directory(dir / "taken" / "inner");
    EXPECT_THROW(weft::write_file_atomically(dir / "taken", "x"), weft::Error);
    std::vector<fs::path> entries(fs::directory_iterator(dir), fs::directory_iterator{});
    EXPECT_EQ(entries, std::vector<fs::path>{dir / "taken"});
}

// ---- pictures -----------------------------------------------------------------------------

const std::string kPngSignature("\x89PNG\r\n\x1a\n", 8);

// Width and height from the PNG's IHDR chunk, which follows the signature.
std::pair<int, int> png_size(const std::string& png) {
    const auto be32 = [&](std::size_t at) {
        int v = 0;
        for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png.at(at + i));
        return v;
    };
    return {be32(16), be32(20)};
}

using Pictures = ScratchDir;

TEST_F(Pictures, FormatComesFromTheExtensionAndOthersAreRefusedNamingTheSupportedOnes) {
    EXPECT_EQ(picture_format("a/curves.svg"), PictureFormat::svg);
    EXPECT_EQ(picture_format("confusion.PNG"), PictureFormat::png);
    for (const char* bad : {"confusion.pdf", "confusion", "confusion.svg.txt"}) {
        try {
            picture_format(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const weft::Error& e) {
            EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(".svg or .png"), std::string::npos) << e.what();
        }
    }
}

TEST_F(Pictures, APngPathGetsTheChartRasterisedAtItsOwnSize) {
    const std::string svg = line_chart_svg({{"loss", {1, 2, 3}, {3, 2, 1}}}, {.title = "t", .width = 320, .height = 200});
    const fs::path png = dir / "chart.png", plain = dir / "chart.svg";
    const std::size_t bytes = write_picture(png, svg);
    const std::string content = read_file(png);
    EXPECT_EQ(content.size(), bytes);
    EXPECT_EQ(content.substr(0, 8), kPngSignature);
    EXPECT_EQ(png_size(content), std::make_pair(320, 200));
    EXPECT_EQ(write_picture(plain, svg), svg.size());
    EXPECT_EQ(read_file(plain), svg);
}

TEST_F(Pictures, UnreadableSvgIsAnErrorAndWritesNothing) {
    const fs::path png = dir / "broken.png";
    EXPECT_THROW(write_picture(png, "<svg this is not xml"), weft::Error);
    EXPECT_THROW(write_picture(dir / "chart.gif", line_chart_svg({}, {})), weft::Error);
    EXPECT_TRUE(fs::is_empty(dir));
}

using Metrics = ScratchDir;

const std::vector<std::string> kColumns = {"epoch", "train_loss", "test_accuracy"};

TEST_F(Metrics, RowsReadBackExactly) {
    const fs::path file = dir / "metrics.csv";
    {
        MetricsCsv csv(file, kColumns);
        csv.append({{"epoch", 1}, {"train_loss", 1.0 / 3}, {"test_accuracy", 0.1}});
        csv.append({{"epoch", 2}, {"train_loss", 1e-12}, {"test_accuracy", kNaN}});
        csv.append({{"epoch", 3}, {"train_loss", 0.25}});  // no test this epoch
    }
    EXPECT_TRUE(read_file(file).starts_with("epoch,train_loss,test_accuracy\n1,"));
    const auto rows = MetricsCsv::read(file);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].at("train_loss"), 1.0 / 3);
    EXPECT_EQ(rows[0].at("test_accuracy"), 0.1);
    EXPECT_EQ(rows[1].at("train_loss"), 1e-12);
    EXPECT_TRUE(std::isnan(rows[1].at("test_accuracy")));
    EXPECT_EQ(rows[2].count("test_accuracy"), 0u);
    EXPECT_EQ(rows[2].at("epoch"), 3);
}

TEST_F(Metrics, ReopeningAppendsAfterTheExistingRows) {
    const fs::path file = dir / "metrics.csv";
    MetricsCsv(file, kColumns).append({{"epoch", 1}, {"train_loss", 0.9}});
    MetricsCsv(file, kColumns).append({{"epoch", 2}, {"train_loss", 0.8}});
    const auto rows = MetricsCsv::read(file);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].at("train_loss"), 0.8);
    EXPECT_EQ(count(read_file(file), "epoch"), 1u);  // one header
}

TEST_F(Metrics, AnUnfinishedLastLineIsDroppedOnReopen) {
    const fs::path file = dir / "metrics.csv";
    std::ofstream(file) << "epoch,train_loss,test_accuracy\n1,0.9,0.5\n2,0.8";
    MetricsCsv(file, kColumns).append({{"epoch", 2}, {"train_loss", 0.7}});
    EXPECT_EQ(read_file(file), "epoch,train_loss,test_accuracy\n1,0.9,0.5\n2,0.7,\n");
}

TEST_F(Metrics, OtherColumnsOrUnknownMetricsAreErrors) {
    const fs::path file = dir / "metrics.csv";
    MetricsCsv(file, kColumns).append({{"epoch", 1}});
    EXPECT_THROW(MetricsCsv(file, {"epoch", "loss"}), weft::Error);
    MetricsCsv csv(file, kColumns);
    EXPECT_THROW(csv.append({{"lr", 0.1}}), weft::Error);
    EXPECT_THROW(MetricsCsv(dir / "other.csv", {"epoch", "a,b"}), weft::Error);
}

TEST_F(Metrics, TruncateAfterEpochKeepsHeaderAndEarlierRows) {
    const fs::path file = dir / "metrics.csv";
    {
        MetricsCsv csv(file, kColumns);
        for (int e = 1; e <= 5; ++e) csv.append({{"epoch", e}, {"train_loss", 1.0 / e}});
    }
    MetricsCsv::truncate_after_epoch(file, 3);
    auto rows = MetricsCsv::read(file);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows.back().at("epoch"), 3);
    MetricsCsv(file, kColumns).append({{"epoch", 4}, {"train_loss", 0.2}});
    rows = MetricsCsv::read(file);
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows.back().at("train_loss"), 0.2);
    std::vector<fs::path> entries(fs::directory_iterator(dir), fs::directory_iterator{});
    EXPECT_EQ(entries.size(), 1u);

    MetricsCsv::truncate_after_epoch(file, 0);
    EXPECT_EQ(read_file(file), "epoch,train_loss,test_accuracy\n");
    MetricsCsv::truncate_after_epoch(dir / "absent.csv", 3);  // nothing to do
    EXPECT_FALSE(fs::exists(dir / "absent.csv"));
}

// `weft curves` reads logs a user names: a FIFO (which would wait for a writer for ever) or a
// device such as /dev/zero (which never ends) is refused by name before any byte is read.
TEST_F(Metrics, LogsThatAreNoRegularFilesAreRefusedWithoutReading) {
    const fs::path fifo = dir / "metrics.csv";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const fs::path zero = dir / "steps.jsonl";
    fs::create_symlink("/dev/zero", zero);
    for (const fs::path& file : {fifo, zero}) {
        try {
            if (file == fifo) MetricsCsv::read(file);
            else StepLog::read(file);
            ADD_FAILURE() << file << " was read";
        } catch (const weft::Error& e) {
            EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
        }
    }
}

TEST_F(Metrics, MalformedFilesNameTheFileAndLine) {
    const fs::path file = dir / "bad.csv";
    const auto message_of = [&](const std::string& content) {
        std::ofstream(file) << content;
        try {
            MetricsCsv::read(file);
        } catch (const weft::Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message_of("epoch,loss\n1,0.5\n2,zero\n"), file.string() + ":3: column 'loss': 'zero' is not a number");
    EXPECT_EQ(message_of("epoch,loss\n1,0.5,7\n"), file.string() + ":2: 3 fields, expected 2 (epoch,loss)");
    EXPECT_EQ(message_of(""), file.string() + ": empty, expected a header line naming the columns");
    EXPECT_NE(message_of("epoch,,loss\n").find(":1: empty column name"), std::string::npos);
    EXPECT_EQ(message_of("epoch,loss\r\n1,0.5\r\n\n"), "no error");  // CRLF and blank lines are fine
    EXPECT_EQ(MetricsCsv::read(file).size(), 1u);
    EXPECT_THROW(MetricsCsv::read(dir / "absent.csv"), weft::Error);
    std::ofstream(file) << "step,loss\n1,0.5\n";
    EXPECT_THROW(MetricsCsv::truncate_after_epoch(file, 1), weft::Error);  // nothing to cut by
}

using Steps = ScratchDir;

const std::vector<std::string> kStepKeys = {"step", "epoch", "loss", "lr"};

TEST_F(Steps, RecordsAreJsonLinesInKeyOrderAndReadBackExactly) {
    const fs::path file = dir / "steps.jsonl";
    {
        StepLog log(file, kStepKeys);
        log.append({{"lr", 0.1}, {"loss", 1.0 / 3}, {"epoch", 1}, {"step", 1}});
        log.append({{"step", 2}, {"epoch", 1}, {"loss", kInf}});  // no lr this time
        log.sync();
    }
    EXPECT_EQ(read_file(file), fmt::format("{{\"step\": 1, \"epoch\": 1, \"loss\": {}, \"lr\": 0.1}}\n"
                                           "{{\"step\": 2, \"epoch\": 1, \"loss\": null}}\n",
                                           1.0 / 3));
    const auto rows = StepLog::read(file);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].at("loss"), 1.0 / 3);
    EXPECT_EQ(rows[1].count("loss"), 0u);
    EXPECT_EQ(rows[1].count("lr"), 0u);
    StepLog log(file, kStepKeys);
    EXPECT_THROW(log.append({{"accuracy", 0.5}}), weft::Error);
}

TEST_F(Steps, AnUnfinishedLastLineIsDroppedOnReopenAndLaterEpochsOnTruncation) {
    const fs::path file = dir / "steps.jsonl";
    std::ofstream(file) << "{\"step\": 1, \"epoch\": 1}\n{\"step\": 2, \"epoch\": 2}\n{\"step\": 3, \"ep";
    StepLog(file, kStepKeys).append({{"step", 3}, {"epoch", 2}});
    EXPECT_EQ(StepLog::read(file).size(), 3u);
    std::ofstream(file, std::ios::app) << "{\"step\": 4, \"epoch\": 3}\n{\"step\": 5, \"ep";
    StepLog::truncate_after_epoch(file, 1);
    EXPECT_EQ(read_file(file), "{\"step\": 1, \"epoch\": 1}\n");
    StepLog::truncate_after_epoch(dir / "absent.jsonl", 3);  // nothing to do
    EXPECT_FALSE(fs::exists(dir / "absent.jsonl"));
}

TEST_F(Steps, MalformedLinesNameTheFileAndLine) {
    const fs::path file = dir / "steps.jsonl";
    std::ofstream(file) << "{\"step\": 1}\n\n[1, 2]\n";
    try {
        StepLog::read(file);
        FAIL() << "expected weft::Error";
    } catch (const weft::Error& e) {
        EXPECT_EQ(std::string(e.what()), file.string() + ":3: not a JSON object");
    }
    std::ofstream(file) << "{\"step\": \"one\"}\n";
    EXPECT_THROW(StepLog(file, kStepKeys), weft::Error);
}

}  // namespace
