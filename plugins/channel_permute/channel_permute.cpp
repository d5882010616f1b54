// channel_permute {groups}: the channel permutation of an IGC block (Eq. 2 and Eq. 4).
//
// The C channels are viewed as a (groups, C/groups) matrix and transposed to (C/groups, groups):
// input channel i·(C/g)+j moves to output position j·g+i. With g = L this is P^T of Eq. 2 (the
// m-th secondary partition gathers the m-th channel of every primary partition); with g = M it is
// P of Eq. 4 (back to primary order). Permuting by g and then by C/g is the identity.
#include <fmt/format.h>

#include "weft/channel_permutation.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

weft::NodeSignature infer_channel_permute(const weft::InferContext& ctx) {
    const weft::TensorDesc& x = ctx.inputs[0];
    if (x.rank() < 2)
        throw weft::Error(fmt::format(
            "channel_permute: expected an input [N, C, ...] of rank 2 or more, got {}", x.str()));
    const std::int64_t groups = ctx.attrs.get_int("groups");
    const std::int64_t channels = x.shape[1];
    if (channels % groups != 0)
        throw weft::Error(fmt::format(
            "channel_permute: groups = {} must divide the channel count (dimension 1) of {}",
            groups, x.str()));
    // A pure data movement: no parameters and, as in the paper's counts, no multiply-adds.
    weft::NodeSignature signature;
    signature.outputs = {x};
    return signature;
}

weft::OpSchema channel_permute_schema() {
    weft::OpSchema schema;
    schema.name = "channel_permute";
    schema.doc =
        "Channel permutation P / P^T of an IGC block (Eq. 2, 4): view the C channels as "
        "a (groups, C/groups) matrix and transpose it; channel i*(C/g)+j moves to j*g+i.";
    weft::AttrSpec groups;
    groups.name = "groups";
    groups.type = weft::AttrType::integer;
    groups.doc = "g, the rows of the channel matrix: L for P^T (Eq. 2), M for P (Eq. 4)";
    groups.min = 1;
    schema.attrs.push_back(std::move(groups));
    schema.infer = infer_channel_permute;
    // The gather reads input channels after other outputs are written, so never in place.
    schema.inplace_input = std::nullopt;
    // Backward is the inverse permutation (groups C/g) of the output gradient alone.
    schema.backward_needs.inputs = false;
    schema.backward_needs.outputs = false;
    // It only moves channels: batch norm folds and ReLU fuses across it, and `weft viz
    // --channels` follows channels through it.
    schema.traits.channel_permutation = [](const weft::Attributes& attrs, std::int64_t channels) {
        return weft::channel_permutation::shuffle(channels, attrs.get_int("groups"));
    };
    // Inference computes every sample from that sample alone (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes&) { return true; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("channel_permute", "1.0") { registrar.add_op(channel_permute_schema()); }
