// The launch geometry of the CUDA kernels (weft/cuda/launch_geometry.h), on the host: blocks of
// whole warps, grids within the hardware's limits, and a grid-stride walk of planes and items
// that visits every item of every plane exactly once.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "weft/cuda/launch_geometry.h"

namespace {

using weft::cuda::PlaneGrid;
using weft::cuda::plane_grid;

// How often each (plane, item) is visited by the loops of a plane_grid kernel
// (first_plane/plane_stride along y, first_item/item_stride along x).
std::vector<int> visits(const PlaneGrid& g, std::int64_t planes, std::int64_t items) {
    std::vector<int> count(static_cast<std::size_t>(planes * items), 0);
    for (std::int64_t by = 0; by < g.grid_y; ++by)
        for (std::int64_t ty = 0; ty < g.block_y; ++ty)
            for (std::int64_t p = by * g.block_y + ty; p < planes; p += std::int64_t{g.grid_y} * g.block_y)
                for (std::int64_t bx = 0; bx < g.grid_x; ++bx)
                    for (std::int64_t tx = 0; tx < g.block_x; ++tx)
                        for (std::int64_t i = bx * g.block_x + tx; i < items; i += std::int64_t{g.grid_x} * g.block_x)
                            ++count[static_cast<std::size_t>(p * items + i)];
    return count;
}

TEST(CudaLaunchGeometry, PlaneBlocksAre256ThreadsOfWholeWarpsWithAPlaneAlongX) {
    for (std::int64_t items : {1, 2, 3, 16, 31, 32, 33, 64, 100, 255, 256, 257, 1024, 100000}) {
        SCOPED_TRACE(items);
        const PlaneGrid g = weft::cuda::plane_block(items);
        EXPECT_EQ(g.block_x * g.block_y, 256u);
        EXPECT_EQ(g.block_x & (g.block_x - 1), 0u);  // a power of two
        EXPECT_GE(std::int64_t{g.block_x}, std::min<std::int64_t>(items, 256));
        EXPECT_LT(std::int64_t{g.block_x}, 2 * std::max<std::int64_t>(items, 1));
    }
}

TEST(CudaLaunchGeometry, PlaneGridsStayWithinTheHardwareLimitsAndHaveNoIdleBlocks) {
    for (int multiprocessors : {1, 132})
        for (std::int64_t planes : {std::int64_t{1}, std::int64_t{7}, std::int64_t{48}, std::int64_t{256 * 192},
                                    std::int64_t{1} << 26})
            for (std::int64_t items : {1, 5, 64, 256, 1024, 50176}) {
                SCOPED_TRACE(testing::Message() << planes << " planes of " << items << " on " << multiprocessors);
                const PlaneGrid g = plane_grid(planes, items, multiprocessors);
                EXPECT_GE(g.grid_x, 1u);
                EXPECT_GE(g.grid_y, 1u);
                EXPECT_LE(std::int64_t{g.grid_y}, weft::cuda::kMaxGridY);
                EXPECT_LT(std::int64_t{g.grid_x - 1} * g.block_x, items);
                EXPECT_LT(std::int64_t{g.grid_y - 1} * g.block_y, planes);
                EXPECT_LT(std::int64_t{g.grid_x} * g.grid_y, std::int64_t{8} * multiprocessors + g.grid_x);
            }
}

TEST(CudaLaunchGeometry, AGridStrideWalkVisitsEveryItemOfEveryPlaneOnce) {
    for (int multiprocessors : {1, 2, 132})
        for (std::int64_t planes : {1, 3, 48, 1000})
            for (std::int64_t items : {1, 3, 64, 300, 1030}) {
                SCOPED_TRACE(testing::Message() << planes << " planes of " << items << " on " << multiprocessors);
                const std::vector<int> count = visits(plane_grid(planes, items, multiprocessors), planes, items);
                EXPECT_EQ(std::count(count.begin(), count.end(), 1), static_cast<std::ptrdiff_t>(count.size()));
            }
}

}  // namespace
