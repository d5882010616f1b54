// weft design: pick L and M for a block under a parameter budget T (paper Section 3.2) — per
// number of primary partitions L the best-fitting M, its params and width L·M, the width C of a
// regular convolution with the same budget, the widest block and Eq. 15's bound; optionally a
// ready variant for the partition-study families (graphs/six_igc_cifar.yaml, six_gpc_cifar.yaml).
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "weft/design.h"
#include "weft/error.h"

namespace weft::runner {
namespace {

struct DesignOptions {
    std::int64_t budget = 0;
    std::string kernel = "3x3";
    bool gpc = false;
    std::vector<std::int64_t> partitions;
    double tolerance_percent = 2.5;
    std::string emit_yaml;  // "L,M" or "L"
    bool json = false;
};

std::vector<std::int64_t> parse_ints(const std::string& text, char separator, const std::string& what) {
    std::vector<std::int64_t> values;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find(separator, start), text.size());
        std::int64_t v = 0;
        const auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + end, v);
        if (ec != std::errc() || ptr != text.data() + end || v < 1)
            throw Error(fmt::format("{} '{}': expected positive integers separated by '{}'", what, text, separator));
        values.push_back(v);
        start = end + 1;
    }
    return values;
}

std::int64_t kernel_area(const std::string& kernel) {
    const std::vector<std::int64_t> hw = parse_ints(kernel, 'x', "--kernel");
    if (hw.size() != 2) throw Error(fmt::format("--kernel '{}': expected HxW, e.g. 3x3", kernel));
    return hw[0] * hw[1];
}

std::string with_commas(std::int64_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

void print_table(const design::DesignTable& t, const std::string& kernel) {
    const bool igc = t.kind == design::BlockKind::igc;
    fmt::print("{} blocks with ≈ {} parameters, {} kernel (S = {})\n", igc ? "IGC" : "GPC", with_commas(t.budget),
               kernel, t.kernel_area);
    fmt::print("  block params: {}\n", igc ? "S·L·M² + M·L² (Eq. 7)" : "S·L·M² + (L·M)²");
    fmt::print("  M per L: the one minimising |params - T|; widest: the widest block within ±{:g}% of T\n",
               t.tolerance * 100);
    fmt::print("  regular convolution with the same budget: C = sqrt(T/S) = {:.1f}\n",
               design::regular_width(t.kernel_area, t.budget));
    if (igc)
        fmt::print("  Eq. 15 bound on the width: G <= (T / 2·sqrt(S))^(2/3) = {:.1f}, reached when L = M·S\n",
                   design::width_bound(t.kernel_area, t.budget));
    fmt::print("\n{:>6} {:>6} {:>10} {:>8} {:>7}\n", "L", "M", "#params", "vs T", "width");
    for (const design::BlockDesign& r : t.rows) {
        std::string note;
        if (r.widest) note = fmt::format("  <- widest (L/M = {:.1f}, S = {})", double(r.L) / double(r.M), t.kernel_area);
        else if (!r.within_tolerance) note = "  (outside the tolerance)";
        fmt::print("{:>6} {:>6} {:>10} {:>+7.1f}% {:>7}{}\n", r.L, r.M, with_commas(r.params),
                   100.0 * double(r.params - t.budget) / double(t.budget), r.width, note);
    }
}

nlohmann::json table_json(const design::DesignTable& t) {
    nlohmann::json rows = nlohmann::json::array();
    for (const design::BlockDesign& r : t.rows)
        rows.push_back({{"L", r.L}, {"M", r.M}, {"params", r.params}, {"width", r.width},
                        {"within_tolerance", r.within_tolerance}, {"widest", r.widest}});
    nlohmann::json j = {{"block", t.kind == design::BlockKind::igc ? "igc" : "gpc"},
                        {"budget", t.budget},
                        {"kernel_area", t.kernel_area},
                        {"tolerance", t.tolerance},
                        {"regular_width", design::regular_width(t.kernel_area, t.budget)},
                        {"rows", rows}};
    j["width_bound"] = t.kind == design::BlockKind::igc ? nlohmann::json(design::width_bound(t.kernel_area, t.budget))
                                                        : nlohmann::json(nullptr);
    return j;
}

// One variant line for graphs/six_igc_cifar.yaml (or six_gpc_cifar.yaml with --gpc).
void print_variant(const DesignOptions& o, std::int64_t S) {
    if (S != 9) throw Error("--emit-yaml: the six-block families use 3x3 primary kernels (--kernel 3x3)");
    const design::BlockKind kind = o.gpc ? design::BlockKind::gpc : design::BlockKind::igc;
    const std::vector<std::int64_t> lm = parse_ints(o.emit_yaml, ',', "--emit-yaml");
    if (lm.size() > 2) throw Error(fmt::format("--emit-yaml '{}': expected L,M or L", o.emit_yaml));
    const std::int64_t L = lm[0];
    const std::int64_t M = lm.size() == 2 ? lm[1] : design::best_secondary(kind, S, L, o.budget);
    const char* family = o.gpc ? "gpc" : "igc";
    fmt::print("# for graphs/six_{}_cifar.yaml: six blocks of {} parameters each, width {}\n", family,
               with_commas(design::block_params(kind, S, L, M)), L * M);
    fmt::print("- {{id: six-{}-l{}m{}, paper: \"weft design --params {}{}\", params: {{L: {}, M: {}}}}}\n", family, L, M,
               o.budget, o.gpc ? " --gpc" : "", L, M);
}

}  // namespace

void add_design_command(CLI::App& app) {
    auto o = std::make_shared<DesignOptions>();
    CLI::App* cmd = app.add_subcommand("design", "choose L and M for an IGC (or GPC) block under a parameter budget");
    cmd->add_option("--params", o->budget, "the block's parameter budget T")
        ->required()->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000'000'000}));
    cmd->add_option("--kernel", o->kernel, "primary kernel HxW (S = H·W)")->capture_default_str();
    cmd->add_flag("--gpc", o->gpc, "GPC blocks (Table 8): primary group conv, then a dense 1x1 conv");
    cmd->add_option("--partitions", o->partitions, "the L values to list (default: 1 up to the M = 1 extreme)")
        ->delimiter(',')->check(CLI::PositiveNumber);
    cmd->add_option("--tolerance", o->tolerance_percent, "how far from T (percent) the widest block may be")
        ->check(CLI::Range(0.0, 100.0))->capture_default_str();
    cmd->add_option("--emit-yaml", o->emit_yaml, "print a six-block family variant for L,M (or L: its best M)");
    cmd->add_flag("--json", o->json, "machine-readable output");
    cmd->callback([o] {
        const std::int64_t S = kernel_area(o->kernel);
        if (!o->emit_yaml.empty()) return print_variant(*o, S);
        const auto kind = o->gpc ? design::BlockKind::gpc : design::BlockKind::igc;
        if (o->partitions.empty() && design::max_partitions(S, o->budget) > 4096)
            throw Error(fmt::format("--params {}: more than 4096 values of L; name the ones to list with --partitions",
                                    o->budget));
        const design::DesignTable t = design::design_blocks(kind, o->budget, S, o->partitions, o->tolerance_percent / 100);
        if (o->json)
            fmt::print("{}\n", table_json(t).dump(2));
        else
            print_table(t, o->kernel);
    });
}

}  // namespace weft::runner
