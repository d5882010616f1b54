// How `weft train` finds the NCCL exchange: libweft_nccl beside libweft_core, loaded at run time
// only for the cuda backend. Runs without a GPU: the library loads, its entry is found, and what
// it refuses (here a cpu device) comes back as one weft::Error line.
#include <gtest/gtest.h>

#include "distributed.h"
#include "one_rank.h"
#include "op_harness.h"
#include "weft/error.h"

namespace weft {
namespace {

TEST(NcclLoader, OnlyTheCudaBackendAsksForIt) {
    std::string why_not;
    EXPECT_FALSE(runner::device_allreduce_for("cpu", why_not));
    EXPECT_EQ(why_not, "");
}

TEST(NcclLoader, TheLibraryLoadsAndItsRefusalsArriveAsErrors) {
    std::string why_not;
    const runner::DeviceAllreduceFactory make = runner::device_allreduce_for("cuda", why_not);
    ASSERT_TRUE(make) << why_not;
    EXPECT_EQ(why_not, "");
    const std::unique_ptr<Device> cpu = testing::build_registry().create_device("cpu", {});
    testing::OneRank ranks;
    EXPECT_TRUE(testing::throws_error_containing([&] { make(*cpu, ranks); },
                                                 "NCCL: a cuda kernel was given a 'cpu' device"));
}

}  // namespace
}  // namespace weft
