#pragma once

#include "weft/graph_pass.h"

namespace weft::batch_norm {

// fold_batch_norm: see fold_batch_norm_pass.cpp.
GraphPass fold_batch_norm_pass();
// fuse_batch_norm_relu: see fuse_batch_norm_relu_pass.cpp.
GraphPass fuse_batch_norm_relu_pass();

}  // namespace weft::batch_norm
