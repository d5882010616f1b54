#pragma once

#include "weft/graph_pass.h"

namespace weft::batch_norm {

// fold_batch_norm: see fold_batch_norm_pass.cpp.
GraphPass fold_batch_norm_pass();

}  // namespace weft::batch_norm
