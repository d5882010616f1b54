// Choosing L and M under a parameter budget (paper Section 3.2): for each number of primary
// partitions L, the M whose block best fits a budget T, the block's width L·M, and the width of a
// regular convolution with the same budget. `weft design` prints these; the tests check them
// against Tables 1 and 8.
#pragma once

#include <cstdint>
#include <vector>

namespace weft::design {

enum class BlockKind {
    igc,  // primary S-kernel group conv (L groups) + secondary 1×1 group conv (M groups), Eq. 7
    gpc,  // primary S-kernel group conv (L groups) + dense 1×1 conv (appendix, Table 8)
};

// Parameters of one block of width L·M at one spatial position.
// IGC (Eq. 7): S·L·M² + M·L². GPC: S·L·M² + (L·M)².
std::int64_t block_params(BlockKind kind, std::int64_t kernel_area, std::int64_t L, std::int64_t M);

// The M >= 1 minimising |block_params - budget| (the smaller M on a tie). This rule reproduces
// every (L, M) column of Table 1 and all of Table 8 except (i) L = 3, where the paper has M = 12.
std::int64_t best_secondary(BlockKind kind, std::int64_t kernel_area, std::int64_t L, std::int64_t budget);

// The L whose M = 1 block (S·L + L², the same for both kinds) is nearest the budget: the
// channel-wise extreme, and the last row of Tables 1 and 8.
std::int64_t max_partitions(std::int64_t kernel_area, std::int64_t budget);

// C = sqrt(T / S) (Eq. 8): a regular convolution's width for the budget.
double regular_width(std::int64_t kernel_area, std::int64_t budget);

// Eq. 15: G <= (T / (2·sqrt(S)))^(2/3), reached when L = M·S (IGC blocks only).
double width_bound(std::int64_t kernel_area, std::int64_t budget);

struct BlockDesign {
    std::int64_t L = 0;
    std::int64_t M = 0;
    std::int64_t params = 0;
    std::int64_t width = 0;       // L·M
    bool within_tolerance = false;
    bool widest = false;
};

struct DesignTable {
    BlockKind kind = BlockKind::igc;
    std::int64_t budget = 0;
    std::int64_t kernel_area = 9;
    double tolerance = 0.025;
    std::vector<BlockDesign> rows;
};

// One row per L (`partitions`; empty: 1 .. max_partitions), each with its best M. The widest
// row among those within ±tolerance·T of the budget is marked: with the default 2.5 % that is
// Table 1's L = 28, M = 3 (width 84) and L = 41, M = 5 (width 205).
DesignTable design_blocks(BlockKind kind, std::int64_t budget, std::int64_t kernel_area,
                          std::vector<std::int64_t> partitions = {}, double tolerance = 0.025);

}  // namespace weft::design
