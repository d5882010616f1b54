#pragma once

#include "weft/graph_pass.h"

namespace weft::relu {

// fuse_relu: see fuse_relu_pass.cpp.
GraphPass fuse_relu_pass();

}  // namespace weft::relu
