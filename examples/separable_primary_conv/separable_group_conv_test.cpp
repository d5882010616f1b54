// separable_group_conv with weft's installed testing library: the schema's shapes and cost, and
// the onednn kernel against the reference kernel (the definition as loops) on the IGC shapes and
// on odd geometries. Both kernels are inference only (no backward), so there is no gradient check.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "weft/testing/gtest.h"
#include "weft/testing/op_check.h"

namespace {

using weft::testing::OpCall;
using weft::testing::PluginSet;

// weft's own plugins (the cpu backend) and the two libraries of this folder.
const PluginSet& plugins() {
    static const PluginSet set({weft::testing::weft_plugin_directory(), SEPARABLE_PLUGIN_DIR});
    return set;
}

struct Geometry {
    std::int64_t batch, channels, height, width, out_channels, groups, stride_h, stride_w, padding_h, padding_w;
};

OpCall separable(const Geometry& g, std::uint64_t seed) {
    OpCall call;
    call.op = "separable_group_conv";
    call.attrs.set("out_channels", g.out_channels);
    call.attrs.set("groups", g.groups);
    call.attrs.set("stride", std::vector<std::int64_t>{g.stride_h, g.stride_w});
    call.attrs.set("padding", std::vector<std::int64_t>{g.padding_h, g.padding_w});
    call.inputs = {weft::testing::random_tensor({g.batch, g.channels, g.height, g.width}, seed)};
    call.seed = seed;  // both weights initialised from it, the same for both kernels
    return call;
}

TEST(SeparableGroupConv, LoadsBesideWeftsPlugins) { EXPECT_TRUE(plugins().refused().empty()); }

TEST(SeparableGroupConv, TheSchemaGivesBothWeightsAndTheCostOfBothStages) {
    const weft::NodeSignature signature = weft::testing::infer_op(
        plugins(), "separable_group_conv", separable({2, 4, 7, 9, 6, 2, 2, 1, 1, 1}, 1).attrs,
        {weft::testing::f32({2, 4, 7, 9})});
    ASSERT_EQ(signature.params.size(), 2u);
    EXPECT_EQ(signature.params[0].name, "weight_v");
    EXPECT_EQ(signature.params[0].desc.shape, (weft::Shape{6, 2, 3, 1}));
    EXPECT_EQ(signature.params[1].name, "weight_h");
    EXPECT_EQ(signature.params[1].desc.shape, (weft::Shape{6, 3, 1, 3}));
    EXPECT_EQ(signature.outputs.at(0).shape, (weft::Shape{2, 6, 4, 9}));  // rows strided by 2
    // 3×1 over every column of the strided rows, then 1×3: N·out·Ho·W·3·C/G + N·out·Ho·Wo·3·out/G.
    EXPECT_EQ(signature.macs, 2 * 6 * 4 * 9 * 3 * 2 + 2 * 6 * 4 * 9 * 3 * 3);
}

TEST(SeparableGroupConv, TheOnednnKernelIsWhatWeftChooses) {
    EXPECT_EQ(weft::testing::chosen_kernel(plugins(), separable({1, 4, 5, 5, 4, 2, 1, 1, 1, 1}, 1)),
              "onednn (libweft_separable_group_conv_cpu.so)");
}

TEST(SeparableGroupConv, OnednnComputesWhatTheReferenceLoopsCompute) {
    const std::vector<Geometry> geometries{
        {2, 48, 16, 16, 48, 24, 1, 1, 1, 1},  // an IGC-L24M2 block's primary convolution
        {2, 48, 16, 16, 96, 24, 2, 2, 1, 1},  // the first block of a stage: wider, strided
        {2, 4, 7, 9, 6, 2, 1, 1, 1, 1},       // partitions, same size
        {1, 6, 8, 7, 9, 3, 2, 2, 1, 1},       // stride 2, odd width
        {1, 4, 6, 6, 8, 1, 1, 2, 0, 1},       // one partition, no row padding, strided columns
    };
    std::uint64_t seed = 10;
    for (const Geometry& g : geometries) {
        const OpCall call = separable(g, ++seed);
        SCOPED_TRACE(weft::shape_str(call.inputs[0].shape()));
        EXPECT_TRUE(weft::testing::as_assertion(
            weft::testing::check_against_reference(plugins(), call, "reference", {1e-4, 1e-5})));
    }
}

}  // namespace
