// The `weft` command as a user meets it: bad input of every kind gives one line on stderr that
// names the place, and exit status 2 — never a crash or a hang.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <numeric>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include "cli_harness.h"
#include "weft/npy.h"
#include "weft/plugin.h"
#include "weft/weights.h"

namespace fs = std::filesystem;

namespace {

using Result = weft::testing::CommandResult;

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_cli_test");
    return dir.path();
}

using weft::testing::read_text;

// Runs bin/weft with `args` (shell words), a 120 s limit so a hang fails instead of blocking.
Result weft_cli(const std::string& args, const std::string& env = "") {
    return weft::testing::run_weft(args, work_dir(), {.env = env});
}

fs::path write_file(const std::string& name, const std::string& text) {
    const fs::path p = work_dir() / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

// A tiny family file whose body is `layers` (YAML list items, indented two spaces).
fs::path graph_file(const std::string& name, const std::string& layers) {
    return write_file(name, "family: tiny\ninputs:\n  - {name: data, shape: [4, 8, 8]}\ngraph:\n" + layers);
}

::testing::AssertionResult one_line_error(const Result& r, const std::string& must_contain) {
    if (r.status != 2) return ::testing::AssertionFailure() << "exit status " << r.status << ", stderr: " << r.err;
    if (r.err.empty() || r.err.find('\n') != r.err.size() - 1)
        return ::testing::AssertionFailure() << "stderr is not exactly one line: [" << r.err << "]";
    if (r.err.rfind("weft: error: ", 0) != 0) return ::testing::AssertionFailure() << "unexpected prefix: " << r.err;
    if (r.err.find(must_contain) == std::string::npos)
        return ::testing::AssertionFailure() << "stderr lacks [" << must_contain << "]: " << r.err;
    return ::testing::AssertionSuccess();
}

}  // namespace

TEST(Cli, RunsTheDefaultIgcNetworkAndReportsShapeAndTime) {
    const Result r = weft_cli("run igc-l24m2-d8 --batch 2");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("output head.prob: f32[2, 10]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ms per batch"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("top-5"), std::string::npos) << r.out;
}

TEST(Cli, EverySubcommandHasHelp) {
    for (const char* cmd : {"run", "check", "init", "plugins", "stats", "bench"}) {
        const Result r = weft_cli(std::string(cmd) + " --help");
        EXPECT_EQ(r.status, 0) << cmd;
        EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd << ": " << r.out;
    }
}

TEST(Cli, VersionNamesTheProjectVersionAndThePluginAbi) {
    const Result r = weft_cli("--version");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, fmt::format("weft {} (plugin ABI {})\n", WEFT_TEST_PROJECT_VERSION, weft::kPluginAbiVersion));
}

// Every command that reports has --json, and then stdout is one JSON object and nothing else.
TEST(Cli, EveryReportingCommandGivesJsonOnStdout) {
    const fs::path runs = write_file("json-run.csv", "epoch,lr,train_loss,test_accuracy\n1,0.1,1.5,0.5\n");
    const std::string d8 = "igc-l24m2-d8 --set L=2 --set M=2";
    const std::vector<std::string> commands = {
        "run " + d8 + " --threads 1", "check " + d8, "init " + d8 + " -o " + (work_dir() / "json.safetensors").string(),
        "stats " + d8, "bench " + d8 + " --batch 2 --iterations 2 --seconds 0 --threads 1",
        "viz " + d8 + " -o " + (work_dir() / "json.svg").string(),
        "curves " + runs.string() + " -o " + (work_dir() / "json-curves.svg").string(), "zoo", "design --params 4672",
        "plugins"};
    for (const std::string& args : commands) {
        const Result r = weft_cli(args + " --json");
        ASSERT_EQ(r.status, 0) << args << ": " << r.err;
        const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << args << ": stdout is not JSON: " << r.out.substr(0, 500);
        EXPECT_TRUE(j.is_object() || j.is_array()) << args;
    }
}

// viz says what it wrote: the path, the format and the bytes that are really in the file.
TEST(Cli, VizSaysWhatItWrote) {
    const fs::path svg = work_dir() / "said.svg", png = work_dir() / "said.png";
    const Result text = weft_cli("viz igc-l24m2-d8 -o " + svg.string());
    ASSERT_EQ(text.status, 0) << text.err;
    EXPECT_EQ(text.out, fmt::format("wrote {} (svg, {} bytes)\n", svg.string(), fs::file_size(svg)));
    const Result json = weft_cli("viz igc-l24m2-d8 --json -o " + png.string());
    ASSERT_EQ(json.status, 0) << json.err;
    const nlohmann::json j = nlohmann::json::parse(json.out);
    EXPECT_EQ(j.at("path"), png.string());
    EXPECT_EQ(j.at("format"), "png");
    EXPECT_EQ(j.at("bytes"), fs::file_size(png));
    EXPECT_TRUE(one_line_error(weft_cli("viz igc-l24m2-d8 --json -o -"), "--json"));
}

TEST(Cli, PluginsListsTheGraphPasses) {
    const Result r = weft_cli("plugins");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("fold_batch_norm  libweft_batch_norm.so"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fuse_relu        libweft_relu.so"), std::string::npos) << r.out;
}

TEST(Cli, MalformedYamlNamesFileLineAndColumn) {
    const fs::path f = write_file("malformed.yaml", "family: tiny\ngraph:\n  - {op: relu, name: [unclosed\n");
    EXPECT_TRUE(one_line_error(weft_cli("check " + f.string()), f.string() + ":"));
}

TEST(Cli, UnknownOpNamesTheNodeAndPlace) {
    const fs::path f = graph_file("unknown_op.yaml", "  - {op: frobnicate, name: x}\n");
    const Result r = weft_cli("check " + f.string());
    EXPECT_TRUE(one_line_error(r, f.string() + ":5:5"));
    EXPECT_TRUE(one_line_error(r, "unknown op 'frobnicate'"));
}

TEST(Cli, WrongAttributeTypeSaysWhatWasExpected) {
    const fs::path f = graph_file("wrong_type.yaml", "  - {op: group_conv, name: c, out_channels: many, kernel: 3}\n");
    const Result r = weft_cli("check " + f.string());
    EXPECT_TRUE(one_line_error(r, f.string() + ":5:5"));
    EXPECT_TRUE(one_line_error(r, "attribute 'out_channels' should be an integer"));
}

TEST(Cli, ShapeMismatchNamesTheNode) {
    const fs::path f = graph_file("mismatch.yaml",
                                  "  - {op: group_conv, name: a, out_channels: 6, kernel: 3, padding: 1}\n"
                                  "  - {op: group_conv, name: b, out_channels: 4, kernel: 3, padding: 1, inputs: [data]}\n"
                                  "  - {op: add, name: sum, inputs: [a, b]}\n");
    const Result r = weft_cli("check " + f.string());
    EXPECT_TRUE(one_line_error(r, "node 'sum'"));
    EXPECT_TRUE(one_line_error(r, f.string() + ":7:5"));
}

TEST(Cli, ChannelsNotDivisibleByGroupsIsExplained) {
    const fs::path f = graph_file("groups.yaml", "  - {op: group_conv, name: c, out_channels: 6, kernel: 3, groups: 3}\n");
    const Result r = weft_cli("check " + f.string());
    EXPECT_TRUE(one_line_error(r, "node 'c'"));
    EXPECT_TRUE(one_line_error(r, "divisible"));
}

TEST(Cli, MissingPluginDirectoryIsNamed) {
    EXPECT_TRUE(one_line_error(weft_cli("check igc-l24m2-d8 --plugin-path /nonexistent/plugins"), "'/nonexistent/plugins'"));
    EXPECT_TRUE(one_line_error(weft_cli("plugins", "WEFT_PLUGIN_PATH=/nonexistent/env"), "'/nonexistent/env'"));
}

TEST(Cli, CorruptSafetensorsIsNamed) {
    const fs::path f = write_file("corrupt.safetensors", std::string("\x10\0\0\0\0\0\0\0{not json at all", 24));
    EXPECT_TRUE(one_line_error(weft_cli("run igc-l24m2-d8 --weights " + f.string()), f.string() + ": corrupt safetensors header"));
}

TEST(Cli, WeightsOfAnotherGraphAreRefused) {
    const fs::path w = work_dir() / "regconv.safetensors";
    ASSERT_EQ(weft_cli("init regconv-w16-d8 -o " + w.string()).status, 0);
    EXPECT_TRUE(one_line_error(weft_cli("run igc-l24m2-d8 --weights " + w.string()), w.string() + ": weights: tensor"));
}

TEST(Cli, InitThenRunWithWeightsMatchesSeededRun) {
    const fs::path w = work_dir() / "igc.safetensors", a = work_dir() / "a.npy", b = work_dir() / "b.npy";
    ASSERT_EQ(weft_cli("init igc-l24m2-d8 --seed 4 -o " + w.string()).status, 0);
    ASSERT_EQ(weft_cli("run igc-l24m2-d8 --seed 4 --batch 3 --output " + a.string()).status, 0);
    ASSERT_EQ(weft_cli("run igc-l24m2-d8 --seed 4 --batch 3 --weights " + w.string() + " --output " + b.string()).status, 0);
    EXPECT_EQ(read_text(a), read_text(b));
    // And the output file feeds back in as an input of the right shape is refused clearly.
    EXPECT_TRUE(one_line_error(weft_cli("run igc-l24m2-d8 --input " + a.string()), "the graph expects"));
}

TEST(Cli, UnknownGraphAndBadSetAreOneLineErrors) {
    EXPECT_TRUE(one_line_error(weft_cli("check no-such-net"), "'no-such-net'"));
    EXPECT_TRUE(one_line_error(weft_cli("check igc-l24m2-d8 --set nonsense"), "expected KEY=VALUE"));
    EXPECT_TRUE(one_line_error(weft_cli("run igc-l24m2-d8 --kernel group_conv=nowhere"), "--kernel group_conv=nowhere"));
}

// A batch whose buffers exceed the machine's memory is refused before anything is allocated
// (Linux would overcommit and kill the process later), for inference and training alike.
TEST(Cli, BuffersLargerThanMemoryAreRefusedBeforeAllocating) {
    // The whole batch at once: its activations (about 350 GB) are refused.
    EXPECT_TRUE(one_line_error(weft_cli("run igc-l24m2-d20 --batch 900000 --slice 0"),
                               "of memory (try a smaller --batch)"));
    // (In slices, the default, the activations are a slice's: sample_slices_test checks that a
    // batch whose inputs alone are too large is refused before they are made.)
    EXPECT_TRUE(one_line_error(weft_cli("bench igc-l24m2-d20 --train --batch 900000"), "of memory (try a smaller --batch)"));
}

// Shapes whose element count overflows 64 bits, or whose bytes do, are refused at shape time.
TEST(Cli, ShapeProductsThatOverflowAreRefused) {
    const fs::path huge = write_file("huge.yaml",
                                     "family: huge\ninputs:\n  - {name: data, shape: [4000000000, 4000000000, 4000000000]}\n"
                                     "graph:\n  - {op: relu}\n");
    EXPECT_TRUE(one_line_error(weft_cli("check " + huge.string()), "has more elements than can be counted"));
}

// ---- weft run: what it writes and what it reads ---------------------------------------------

// A .npy file of any element type (`descr` as numpy spells it) holding `data`'s bytes.
fs::path write_npy(const std::string& name, const std::string& descr, const std::vector<std::int64_t>& shape,
                   const void* data, std::size_t bytes) {
    std::string dims;
    for (std::int64_t d : shape) dims += std::to_string(d) + ", ";
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string file("\x93NUMPY\x01\x00", 8);
    file += static_cast<char>(header.size() & 0xff);
    file += static_cast<char>(header.size() >> 8);
    file += header;
    file.append(static_cast<const char*>(data), bytes);
    return write_file(name, file);
}

std::vector<float> values_of(const fs::path& npy) {
    const weft::Tensor t = weft::load_npy(npy);
    return std::vector<float>(t.as<float>(), t.as<float>() + t.numel());
}

TEST(Cli, RunNamesWhatItsOutputHoldsAndGivesLogitsOnRequest) {
    const fs::path probabilities = work_dir() / "p.npy", logits = work_dir() / "l.npy";
    const Result p = weft_cli("run igc-l24m2-d8 --batch 3 --seed 2 --output " + probabilities.string());
    ASSERT_EQ(p.status, 0) << p.err;
    EXPECT_NE(p.out.find("output head.prob: f32[3, 10], probabilities"), std::string::npos) << p.out;
    EXPECT_NE(p.out.find("wrote " + probabilities.string() + ": probabilities f32[3, 10]"), std::string::npos) << p.out;
    const Result l = weft_cli("run igc-l24m2-d8 --batch 3 --seed 2 --output-kind logits --json --output " + logits.string());
    ASSERT_EQ(l.status, 0) << l.err;
    const nlohmann::json j = nlohmann::json::parse(l.out);
    EXPECT_EQ(j.at("output").at("kind"), "logits");
    EXPECT_EQ(j.at("output").at("name"), "head.fc");
    EXPECT_EQ(j.at("output").at("dropped_node"), "head.prob");
    EXPECT_EQ(j.at("top").size(), 3u);
    // The logits are what the softmax turned into the probabilities.
    const std::vector<float> prob = values_of(probabilities), logit = values_of(logits);
    ASSERT_EQ(prob.size(), 30u);
    ASSERT_EQ(logit.size(), 30u);
    for (int image = 0; image < 3; ++image) {
        const float* z = logit.data() + image * 10;
        const float top = *std::max_element(z, z + 10);
        double sum = 0;
        for (int c = 0; c < 10; ++c) sum += std::exp(double(z[c]) - top);
        for (int c = 0; c < 10; ++c) EXPECT_NEAR(std::exp(double(z[c]) - top) / sum, prob[image * 10 + c], 1e-5);
        EXPECT_GT(std::abs(std::accumulate(z, z + 10, 0.0) - 1.0), 1e-3) << "logits that sum to 1 look like probabilities";
    }
}

TEST(Cli, RunRefusesAnOutputKindTheGraphCannotGiveAndAnOutputThatIsNoNpy) {
    const fs::path plain = graph_file("no_softmax.yaml", "  - {op: group_conv, name: c, out_channels: 4, kernel: 3, padding: 1}\n");
    EXPECT_TRUE(one_line_error(weft_cli("run " + plain.string() + " --output-kind probabilities"), "ends in no op"));
    const Result r = weft_cli("run " + plain.string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("logits: the graph's output; it ends in no probabilities op"), std::string::npos) << r.out;
    EXPECT_TRUE(one_line_error(weft_cli("run igc-l24m2-d8 --output " + (work_dir() / "out.txt").string()), "name a .npy file"));
    EXPECT_FALSE(fs::exists(work_dir() / "out.txt"));
}

// Outputs go through weft/output_file.h: a planted link at the old fixed temporary name is never
// followed, and a device, FIFO or directory at the output is refused before anything runs.
TEST(Cli, InitNeverWritesThroughALinkPlantedAtTheTemporaryName) {
    const fs::path dir = work_dir() / "planted";
    fs::create_directories(dir);
    const fs::path victim = write_file("planted/victim.txt", "precious");
    fs::create_symlink(victim, dir / "w.safetensors.tmp");
    const Result r = weft_cli("init igc-l24m2-d8 -o " + (dir / "w.safetensors").string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(read_text(victim), "precious");
    EXPECT_TRUE(fs::is_symlink(dir / "w.safetensors.tmp"));
    EXPECT_GT(fs::file_size(dir / "w.safetensors"), 1000u);
}

TEST(Cli, RunAndInitRefuseADeviceFifoOrDirectoryAtTheOutput) {
    const fs::path dir = work_dir() / "special";
    fs::create_directories(dir / "folder.npy");
    ASSERT_EQ(::mkfifo((dir / "fifo.npy").c_str(), 0644), 0);
    fs::create_symlink("/dev/full", dir / "full.npy");
    fs::create_symlink("/dev/full", dir / "full.safetensors");
    for (const char* name : {"folder.npy", "fifo.npy", "full.npy"})
        EXPECT_TRUE(one_line_error(weft_cli("run igc-l24m2-d8 --batch 1 --output " + (dir / name).string()),
                                   (dir / name).string() + ": exists and is "));
    EXPECT_TRUE(one_line_error(weft_cli("init igc-l24m2-d8 -o " + (dir / "full.safetensors").string()),
                               (dir / "full.safetensors").string() + ": exists and is a character device"));
    EXPECT_TRUE(one_line_error(weft_cli("init igc-l24m2-d8 -o /dev/full"), "/dev/full: exists and is a character device"));
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{"fifo.npy", "folder.npy", "full.npy", "full.safetensors"}));
}

TEST(Cli, AResultThatCannotBeWrittenToStandardOutputIsAFailure) {
    const fs::path err = work_dir() / "full-stdout.err";
    const std::string cmd = "timeout 60 " + weft::testing::weft_binary() + " check igc-l24m2-d8 >/dev/full 2>" + err.string();
    const int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 2) << read_text(err);
    EXPECT_EQ(read_text(err), "weft: error: standard output: cannot write: No space left on device\n");
}

// uint8 pixels are normalised with the weights' own statistics, NHWC is transposed and float64
// narrowed: each gives exactly what the equivalent float32 NCHW input gives, and says so.
TEST(Cli, RunConvertsNpyPixelsLayoutAndPrecisionAndSaysWhatItDid) {
    const std::string weights = (fs::path(WEFT_TEST_SOURCE_DIR) / "models" / "fashion-mnist-igc-l24m2-d8.safetensors").string();
    std::map<std::string, std::string> meta;
    weft::load_safetensors(weights, &meta);
    const float mean = nlohmann::json::parse(meta.at("weft.mean")).at(0), deviation = nlohmann::json::parse(meta.at("weft.std")).at(0);
    constexpr int kImages = 2, kSide = 28, kPixels = kImages * kSide * kSide;
    std::vector<std::uint8_t> pixels(kPixels);
    for (int i = 0; i < kPixels; ++i) pixels[i] = static_cast<std::uint8_t>((i * 37 + i / 97) % 256);
    std::vector<float> normalised(kPixels);
    std::vector<double> wide(kPixels);
    for (int i = 0; i < kPixels; ++i) normalised[i] = (pixels[i] / 255.f - mean) / deviation, wide[i] = normalised[i];
    // One channel: [N, H, W, 1] is NHWC (the last dimension is the channel count, the first image one is not).
    const fs::path u8 = write_npy("pixels.npy", "|u1", {kImages, kSide, kSide, 1}, pixels.data(), pixels.size());
    const fs::path f32 = write_npy("normalised.npy", "<f4", {kImages, 1, kSide, kSide}, normalised.data(), kPixels * 4);
    const fs::path f64 = write_npy("normalised64.npy", "<f8", {kImages, 1, kSide, kSide}, wide.data(), kPixels * 8);
    const auto run_on = [&](const fs::path& input, const std::string& out) {
        const Result r = weft_cli("run --weights " + weights + " --threads 1 --input " + input.string() + " --output " +
                                  (work_dir() / out).string());
        EXPECT_EQ(r.status, 0) << r.err;
        return std::make_pair(r.out, values_of(work_dir() / out));
    };
    const auto [reference_text, reference] = run_on(f32, "from-f32.npy");
    const auto [u8_text, from_u8] = run_on(u8, "from-u8.npy");
    const auto [f64_text, from_f64] = run_on(f64, "from-f64.npy");
    EXPECT_NE(reference_text.find("float values used as given, not normalised"), std::string::npos) << reference_text;
    EXPECT_NE(u8_text.find("NHWC transposed to NCHW (detected"), std::string::npos) << u8_text;
    EXPECT_NE(u8_text.find("uint8 pixels normalised as the weights were trained"), std::string::npos) << u8_text;
    EXPECT_NE(f64_text.find("float64 narrowed to float32"), std::string::npos) << f64_text;
    EXPECT_EQ(from_f64, reference);
    ASSERT_EQ(from_u8.size(), reference.size());
    for (std::size_t i = 0; i < reference.size(); ++i) EXPECT_NEAR(from_u8[i], reference[i], 1e-6) << i;
    // An explicit layout wins over detection; a shape that fits neither layout, or another element
    // type, is refused naming the file.
    EXPECT_TRUE(one_line_error(weft_cli("run --weights " + weights + " --input " + u8.string() + " --input-layout nchw"),
                               "(NHWC)"));
    const std::vector<std::int64_t> longs(kSide * kSide, 0);
    const fs::path i64 = write_npy("longs.npy", "<i8", {1, 1, kSide, kSide}, longs.data(), longs.size() * 8);
    EXPECT_TRUE(one_line_error(weft_cli("run --weights " + weights + " --input " + i64.string()), "dtype '<i8'"));
}

// ---- weft bench ----------------------------------------------------------------------------

// Progress goes to stderr, so --json's stdout stays one JSON document; every profile row, per node
// and per op, is a median with its p10 and p90, like the headline.
TEST(Cli, BenchShowsProgressOnStderrAndProfilesMediansWithTheirSpread) {
    const std::string args = "bench igc-l24m2-d8 --set L=2 --set M=2 --batch 2 --warmup 1 --iterations 5 --seconds 0 "
                             "--threads 1 --profile";
    const Result r = weft_cli(args + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("warm-up: done 1 runs"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("timing: done 5 runs"), std::string::npos) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("iterations"), 5);
    EXPECT_LE(j.at("ms_p10").get<double>(), j.at("ms_per_batch").get<double>());
    EXPECT_LE(j.at("ms_per_batch").get<double>(), j.at("ms_p90").get<double>());
    std::size_t nodes = 0;
    double shares = 0;
    for (const auto& op : j.at("profile_ops")) {
        EXPECT_LE(op.at("ms_p10").get<double>(), op.at("ms").get<double>()) << op;
        EXPECT_LE(op.at("ms").get<double>(), op.at("ms_p90").get<double>()) << op;
        nodes += op.at("nodes").get<std::size_t>();
        shares += op.at("share").get<double>();
    }
    EXPECT_EQ(nodes, j.at("profile").size());
    EXPECT_NEAR(shares, 1.0, 1e-9);
    for (const auto& node : j.at("profile")) {
        EXPECT_LE(node.at("ms_p10").get<double>(), node.at("ms").get<double>()) << node;
        EXPECT_LE(node.at("ms").get<double>(), node.at("ms_p90").get<double>()) << node;
    }
    const Result text = weft_cli(args + " --quiet");
    ASSERT_EQ(text.status, 0) << text.err;
    EXPECT_EQ(text.err, "");
    EXPECT_NE(text.out.find("median of 5 runs with p10 and p90"), std::string::npos) << text.out;
}

// --threads N is the most a kernel uses, sized to the cores other processes leave free, unless
// --fixed-threads; the device line says which. (What the team does under load: cpu_threads_test.)
TEST(Cli, BenchSaysWhetherItsThreadsAdaptToTheFreeCores) {
    const std::string args = "bench igc-l24m2-d8 --set L=2 --set M=2 --batch 2 --warmup 1 --iterations 2 --seconds 0 "
                             "--json --quiet --threads 2";
    const Result adapting = weft_cli(args);
    ASSERT_EQ(adapting.status, 0) << adapting.err;
    const std::string device = nlohmann::json::parse(adapting.out).at("device").get<std::string>();
    EXPECT_NE(device.find("up to 2 threads as cores are free"), std::string::npos) << device;
    const Result fixed = weft_cli(args + " --fixed-threads");
    ASSERT_EQ(fixed.status, 0) << fixed.err;
    const std::string fixed_device = nlohmann::json::parse(fixed.out).at("device").get<std::string>();
    EXPECT_NE(fixed_device.find("cpu (2 threads,"), std::string::npos) << fixed_device;
}

// ---- weft curves ----------------------------------------------------------------------------

TEST(Cli, CurvesComparesRunsInATableAndOnePicture) {
    const std::string header = "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy\n";
    fs::create_directories(work_dir() / "run_a");
    write_file("run_a/metrics.csv", header + "1,0.1,1.5,0.45,1.3,0.54\n2,0.05,1.1,0.60,1.0,0.66\n3,0,0.9,0.70,0.95,0.64\n");
    const fs::path b = write_file("torch-b.csv", header + "1,0.1,1.4,0.47,1.2,0.58\n2,0,1.0,0.62,0.9,0.69\n");
    const fs::path svg = work_dir() / "compare.svg";
    const Result r = weft_cli("curves " + (work_dir() / "run_a").string() + " other=" + b.string() + " -o " +
                              svg.string() + " --title 'a & b'");
    ASSERT_EQ(r.status, 0) << r.err;
    // Each run's epochs, last and best test accuracy with its epoch, and last train accuracy.
    const auto words_of_row = [&](const std::string& label) {
        std::istringstream lines(r.out);
        for (std::string line; std::getline(lines, line);)
            if (line.rfind(label + " ", 0) == 0) {
                std::istringstream words(line);
                std::vector<std::string> out;
                for (std::string w; words >> w;) out.push_back(w);
                return out;
            }
        return std::vector<std::string>{};
    };
    EXPECT_EQ(words_of_row("run_a"), (std::vector<std::string>{"run_a", "3", "64.00%", "66.00%", "(2)", "70.00%"}))
        << r.out;
    EXPECT_EQ(words_of_row("other"), (std::vector<std::string>{"other", "2", "69.00%", "69.00%", "(2)", "62.00%"}))
        << r.out;
    const std::string picture = read_text(svg);
    EXPECT_NE(picture.find("a &amp; b"), std::string::npos);
    for (const char* name : {">run_a test<", ">run_a train<", ">other test<", ">other train<"})
        EXPECT_NE(picture.find(name), std::string::npos) << name;
}

TEST(Cli, CurvesRefusesMissingOrBrokenRunsAndOtherPictureFormats) {
    const fs::path good = write_file("good.csv", "epoch,test_accuracy\n1,0.5\n");
    const std::string out = " -o " + (work_dir() / "never.svg").string();
    EXPECT_TRUE(one_line_error(weft_cli("curves " + (work_dir() / "no_such_run").string() + out), "no_such_run"));
    const fs::path broken = write_file("broken.csv", "epoch,test_accuracy\n1,not-a-number\n");
    EXPECT_TRUE(one_line_error(weft_cli("curves " + good.string() + " " + broken.string() + out), "broken.csv"));
    EXPECT_TRUE(one_line_error(weft_cli("curves =" + good.string() + out), "expected LABEL=PATH"));
    EXPECT_TRUE(one_line_error(weft_cli("curves " + good.string() + " -o " + (work_dir() / "never.pdf").string()),
                               "pictures are written as .svg or .png"));
    EXPECT_FALSE(fs::exists(work_dir() / "never.svg"));
    EXPECT_FALSE(fs::exists(work_dir() / "never.pdf"));
}

TEST(Cli, CurvesWritesARealPngForAPngName) {
    const fs::path run = write_file("png-run.csv", "epoch,train_loss,test_accuracy\n1,1.5,0.5\n2,1.1,0.6\n");
    const fs::path png = work_dir() / "compare.png";
    const Result r = weft_cli("curves " + run.string() + " -o " + png.string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(read_text(png).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}
