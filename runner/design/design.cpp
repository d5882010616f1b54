#include "weft/design.h"

#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace weft::design {

std::int64_t block_params(BlockKind kind, std::int64_t S, std::int64_t L, std::int64_t M) {
    const std::int64_t primary = S * L * M * M;  // L partitions, each (S·M)·M
    const std::int64_t secondary = kind == BlockKind::igc ? M * L * L : (L * M) * (L * M);
    return primary + secondary;
}

std::int64_t best_secondary(BlockKind kind, std::int64_t S, std::int64_t L, std::int64_t budget) {
    if (S < 1 || L < 1 || budget < 1) throw std::invalid_argument("kernel area, L and the budget must be positive");
    // block_params grows with M: walk up to the first M at or over the budget, then compare
    // it with the one below.
    std::int64_t M = 1;
    while (block_params(kind, S, L, M) < budget) ++M;
    if (M > 1 && budget - block_params(kind, S, L, M - 1) <= block_params(kind, S, L, M) - budget) return M - 1;
    return M;
}

std::int64_t max_partitions(std::int64_t S, std::int64_t budget) {
    std::int64_t L = 1;
    const auto at = [&](std::int64_t l) { return S * l + l * l; };
    while (at(L) < budget) ++L;
    if (L > 1 && budget - at(L - 1) <= at(L) - budget) return L - 1;
    return L;
}

double regular_width(std::int64_t S, std::int64_t budget) { return std::sqrt(double(budget) / double(S)); }

double width_bound(std::int64_t S, std::int64_t budget) {
    return std::pow(double(budget) / (2.0 * std::sqrt(double(S))), 2.0 / 3.0);
}

DesignTable design_blocks(BlockKind kind, std::int64_t budget, std::int64_t S, std::vector<std::int64_t> partitions,
                          double tolerance) {
    DesignTable table{kind, budget, S, tolerance, {}};
    if (partitions.empty())
        for (std::int64_t L = 1; L <= max_partitions(S, budget); ++L) partitions.push_back(L);
    BlockDesign* widest = nullptr;
    for (std::int64_t L : partitions) {
        BlockDesign row;
        row.L = L;
        row.M = best_secondary(kind, S, L, budget);
        row.params = block_params(kind, S, L, row.M);
        row.width = L * row.M;
        row.within_tolerance = std::abs(double(row.params - budget)) <= tolerance * double(budget);
        table.rows.push_back(row);
    }
    for (BlockDesign& row : table.rows) {
        if (!row.within_tolerance) continue;
        if (!widest || row.width > widest->width ||
            (row.width == widest->width && std::abs(row.params - budget) < std::abs(widest->params - budget)))
            widest = &row;
    }
    if (widest) widest->widest = true;
    return table;
}

}  // namespace weft::design
