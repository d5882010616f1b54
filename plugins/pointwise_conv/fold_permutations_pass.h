// The pass that turns the permutations around a pointwise_conv into its channel maps
// (fold_permutations_pass.cpp).
#pragma once

#include "weft/graph_pass.h"

namespace weft::pointwise {

GraphPass fold_permutations_pass();

}  // namespace weft::pointwise
