// Numbers from outside: attribute values that overflow 64-bit arithmetic in a shape rule, NaN and
// infinity in weights and inputs, a variance below zero, hyperparameters that are not numbers,
// and a node that turns finite inputs into infinity (found by --check-numerics). Each is one line
// naming the place and exit status 2 for the command, or a weft::Error naming the tensor.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_harness.h"
#include "weft/error.h"
#include "weft/npy.h"
#include "weft/weights.h"

namespace fs = std::filesystem;
using weft::testing::CommandResult;

namespace {

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_numerics_test");
    return dir.path();
}

fs::path write_file(const std::string& name, const std::string& text) {
    const fs::path p = work_dir() / name;
    std::ofstream(p) << text;
    return p;
}

CommandResult weft_cli(const std::string& args) { return weft::testing::run_weft(args, work_dir()); }

// Status 2 and exactly one line on stderr holding every one of `parts`.
::testing::AssertionResult one_line_error(const CommandResult& r, std::initializer_list<std::string> parts) {
    if (r.status != 2) return ::testing::AssertionFailure() << "exit status " << r.status << ", stderr: " << r.err;
    if (r.err.empty() || r.err.find('\n') != r.err.size() - 1)
        return ::testing::AssertionFailure() << "stderr is not exactly one line: [" << r.err << "]";
    for (const std::string& part : parts)
        if (r.err.find(part) == std::string::npos)
            return ::testing::AssertionFailure() << "stderr lacks [" << part << "]: " << r.err;
    return ::testing::AssertionSuccess();
}

// A graph of one input [N, 4, 8, 8] and the given nodes.
fs::path graph_file(const std::string& name, const std::string& nodes) {
    return write_file(name, "family: numbers\ninputs:\n  - {name: data, shape: [4, 8, 8]}\ngraph:\n" + nodes);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const weft::Error& e) {
        return e.what();
    }
    return "(no error)";
}

weft::Tensor filled(const weft::Shape& shape, float value) {
    weft::Tensor t(weft::TensorDesc{weft::DType::f32, shape, weft::Layout::row_major});
    std::fill_n(t.as<float>(), t.numel(), value);
    return t;
}

}  // namespace

// ---- shape rules: attribute values that overflow ---------------------------------------------

// `padding: 9223372036854775807` is valid YAML and a valid integer attribute; doubled in the
// output-size rule it wraps. Every schema computes through checked arithmetic and says so.
TEST(Arithmetic, AttributeValuesThatOverflowAShapeRuleAreOneLineErrorsNamingTheNode) {
    const std::string max = std::to_string(std::numeric_limits<std::int64_t>::max());
    const struct {
        std::string name, node;
    } cases[] = {
        {"conv_padding", "  - {op: group_conv, name: wide, out_channels: 4, kernel: 3, padding: " + max + "}\n"},
        {"conv_dilation", "  - {op: group_conv, name: wide, out_channels: 4, kernel: 3, dilation: " + max + "}\n"},
        {"conv_kernel", "  - {op: group_conv, name: wide, out_channels: 4, kernel: " + max + ", padding: " + max +
                            "}\n"},
        {"pool_padding", "  - {op: pool, name: wide, mode: max, kernel: " + max + ", padding: " +
                             std::to_string(std::numeric_limits<std::int64_t>::max() - 1) + "}\n"},
        {"pointwise_channels", "  - {op: pointwise_conv, name: wide, out_channels: " + max + "}\n"},
        {"fc_features", "  - {op: fc, name: wide, out_features: " + max + "}\n"},
    };
    for (const auto& c : cases) {
        const CommandResult r = weft_cli("check " + graph_file(c.name + ".yaml", c.node).string());
        EXPECT_TRUE(one_line_error(r, {"node 'wide'"})) << c.name;
        EXPECT_TRUE(r.err.find("overflows 64-bit arithmetic") != std::string::npos ||
                    r.err.find("more elements than can be counted") != std::string::npos ||
                    r.err.find("too large") != std::string::npos)
            << c.name << ": " << r.err;
    }
}

// ---- NaN and infinity in what weft reads --------------------------------------------------------

TEST(NonFinite, WeightsHoldingNanOrInfinityAreRefusedAtLoadNamingTheTensor) {
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
        weft::WeightMap weights;
        weights.emplace("good", filled({3}, 1.f));
        weft::Tensor poisoned = filled({2, 3}, 0.5f);
        poisoned.as<float>()[4] = bad;
        weights.emplace("conv.weight", std::move(poisoned));
        const fs::path file = work_dir() / "poisoned.safetensors";
        weft::save_safetensors(file, weights, {});
        const std::string e = error_of([&] { weft::load_safetensors(file); });
        EXPECT_NE(e.find("poisoned.safetensors: tensor 'conv.weight': element [1, 1] is"), std::string::npos) << e;
        EXPECT_NE(e.find("finite"), std::string::npos) << e;
    }
}

TEST(NonFinite, NpyInputsHoldingNanOrInfinityAreRefusedNamingTheElement) {
    weft::Tensor t = filled({2, 2}, 1.f);
    t.as<float>()[3] = std::numeric_limits<float>::infinity();
    const fs::path file = work_dir() / "inf.npy";
    weft::save_npy(file, t);
    const std::string e = error_of([&] { weft::load_npy(file); });
    EXPECT_NE(e.find("inf.npy: element [1, 1] is inf"), std::string::npos) << e;
}

// 1/sqrt(var + eps) of a negative variance is NaN in every output after it: refused at load.
TEST(NonFinite, ANegativeRunningVarianceIsRefusedNamingTheTensor) {
    const fs::path graph = graph_file("bn.yaml", "  - {op: batch_norm, name: bn}\n");
    const fs::path weights = work_dir() / "bn.safetensors";
    ASSERT_EQ(weft_cli("init " + graph.string() + " -o " + weights.string()).status, 0);
    ASSERT_EQ(weft_cli("run " + graph.string() + " --weights " + weights.string()).status, 0);
    weft::WeightMap w = weft::load_safetensors(weights);
    ASSERT_EQ(w.count("bn.running_var"), 1u);
    w.at("bn.running_var").as<float>()[2] = -0.25f;
    weft::save_safetensors(weights, w, {});
    EXPECT_TRUE(one_line_error(weft_cli("run " + graph.string() + " --weights " + weights.string()),
                               {"tensor 'bn.running_var'", "element [2] is -0.25", ">= 0"}));
}

// x + x of finite inputs near float32's largest is infinite: --check-numerics names the node that
// made it, without the flag the run goes on (the flag is what finds it).
TEST(NonFinite, CheckNumericsNamesTheFirstNodeProducingANonFiniteValue) {
    const fs::path graph = write_file("overflow.yaml",
                                      "family: overflow\ninputs:\n  - {name: data, shape: [4]}\ngraph:\n"
                                      "  - {op: relu, name: first}\n"
                                      "  - {op: add, name: doubled, inputs: [first, first]}\n"
                                      "  - {op: relu, name: last}\n");
    const fs::path input = work_dir() / "large.npy";
    weft::save_npy(input, filled({1, 4}, 3e38f));
    const std::string run = "run " + graph.string() + " --input " + input.string();
    EXPECT_EQ(weft_cli(run).status, 0);
    EXPECT_TRUE(one_line_error(weft_cli(run + " --check-numerics"),
                               {"--check-numerics", "node 'doubled'", "op 'add'", "is inf"}));
}

// CLI11's range checks compare, and NaN compares false with everything: each hyperparameter is
// checked to be a finite number while parsing, before data or graphs are loaded.
TEST(NonFinite, HyperparametersThatAreNoFiniteNumbersAreRefusedWhileParsing) {
    for (const std::string option : {"--lr nan", "--lr inf", "--weight-decay nan", "--momentum nan",
                                     "--warmup nan", "--label-smoothing nan"}) {
        const CommandResult r = weft_cli("train igc-l24m2-d8 --data cifar10:/nonexistent --out " +
                                         (work_dir() / "never").string() + " " + option);
        EXPECT_TRUE(one_line_error(r, {option.substr(0, option.find(' ')), "is not a finite number"})) << option;
        EXPECT_FALSE(fs::exists(work_dir() / "never")) << option;
    }
}
