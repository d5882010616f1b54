// The inference pass that makes igc_block nodes (fuse_igc_block_pass.cpp).
#pragma once

#include "weft/graph_pass.h"

namespace weft::igc_block {

GraphPass fuse_igc_block_pass();

}  // namespace weft::igc_block
