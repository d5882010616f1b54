// fc: the schema's shapes, parameters, cost and errors, and the CPU kernel against a naive
// matrix product written here.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/error.h"

namespace {

using weft::Attributes;
using weft::Shape;
using weft::Tensor;
using weft::TensorDesc;
using weft::testing::all_close;
using weft::testing::infer_op;
using weft::testing::random_tensor;
using weft::testing::numeric_gradient;
using weft::testing::run_op;
using weft::testing::run_op_backward;
using weft::testing::weighted_sum;

TensorDesc f32(Shape shape) { return TensorDesc{weft::DType::f32, std::move(shape)}; }

Attributes fc_attrs(std::int64_t out_features, bool bias) {
    Attributes attrs;
    attrs.set("out_features", out_features);
    attrs.set("bias", bias);
    return attrs;
}

// y[n][o] = b[o] + sum_f x[n][f] W[o][f], reading x row-major as [N, F]. Sums in double.
Tensor reference_fc(const Tensor& input, const Tensor& weight, const Tensor* bias) {
    const std::int64_t batch = input.shape()[0];
    const std::int64_t features = input.numel() / batch;
    const std::int64_t out_features = weight.shape()[0];
    Tensor output(f32({batch, out_features}));
    for (std::int64_t n = 0; n < batch; ++n) {
        for (std::int64_t o = 0; o < out_features; ++o) {
            double sum = bias ? bias->as<float>()[o] : 0.0;
            for (std::int64_t f = 0; f < features; ++f) {
                sum += double(input.as<float>()[n * features + f]) *
                       double(weight.as<float>()[o * features + f]);
            }
            output.as<float>()[n * out_features + o] = float(sum);
        }
    }
    return output;
}

std::string inference_error(const Attributes& attrs, const Shape& input_shape) {
    try {
        infer_op("fc", attrs, {f32(input_shape)});
    } catch (const weft::Error& e) {
        return e.what();
    }
    return "(no error)";
}

::testing::AssertionResult mentions(const std::string& message, const std::string& expected) {
    if (message.find(expected) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "\"" << message << "\" does not mention \"" << expected << "\"";
}

// ---- schema ----

TEST(FcSchema, FlattensThePooledFeaturesOfTheCifarHead) {
    Attributes attrs;
    attrs.set("out_features", std::int64_t{10});  // bias defaults to true, like PyTorch's Linear
    const weft::NodeSignature signature = infer_op("fc", attrs, {f32({64, 192, 1, 1})});
    ASSERT_EQ(signature.outputs.size(), 1u);
    EXPECT_EQ(signature.outputs[0].shape, (Shape{64, 10}));
    ASSERT_EQ(signature.params.size(), 2u);
    EXPECT_EQ(signature.params[0].name, "weight");
    EXPECT_EQ(signature.params[0].desc.shape, (Shape{10, 192}));
    EXPECT_EQ(signature.params[1].name, "bias");
    EXPECT_EQ(signature.params[1].desc.shape, (Shape{10}));
    for (const weft::ParamSpec& param : signature.params) {
        EXPECT_EQ(param.init, weft::ParamInit::fan_in_uniform) << param.name;
        EXPECT_EQ(param.fan_in, 192) << param.name;
        EXPECT_TRUE(param.counted) << param.name;
    }
    EXPECT_EQ(signature.macs, std::int64_t{64} * 192 * 10);
}

TEST(FcSchema, FeaturesAreTheProductOfAllButTheBatchExtent) {
    const weft::NodeSignature signature = infer_op("fc", fc_attrs(7, false), {f32({3, 4, 5, 6})});
    EXPECT_EQ(signature.outputs[0].shape, (Shape{3, 7}));
    ASSERT_EQ(signature.params.size(), 1u);  // no bias
    EXPECT_EQ(signature.params[0].desc.shape, (Shape{7, 120}));
    EXPECT_EQ(signature.macs, std::int64_t{3} * 120 * 7);
}

TEST(FcSchema, RejectsAnInputWithoutFeatures) {
    EXPECT_TRUE(mentions(inference_error(fc_attrs(10, true), {64}),
                         "expects an input [N, features...] of rank 2 or more, got f32[64]"));
    EXPECT_TRUE(mentions(inference_error(fc_attrs(10, true), {64, 0}),
                         "expects at least one feature per sample"));
}

TEST(FcSchema, RejectsZeroOutputFeaturesAndRequiresThem) {
    EXPECT_TRUE(mentions(inference_error(fc_attrs(0, true), {2, 3}),
                         "attribute 'out_features' = 0 is out of range"));
    EXPECT_TRUE(mentions(inference_error(Attributes(), {2, 3}), "needs attribute 'out_features'"));
}

// ---- CPU kernel ----

TEST(FcCpu, MatchesTheReferenceOnRandomShapes) {
    std::mt19937_64 rng(2017);
    const auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    for (int trial = 0; trial < 30; ++trial) {
        Shape input_shape{pick(1, 5), pick(1, 40)};
        if (trial % 2 == 1) input_shape.insert(input_shape.end(), {pick(1, 4), pick(1, 4)});
        const std::int64_t out_features = pick(1, 33);
        const bool bias = trial % 3 != 0;
        SCOPED_TRACE(fmt::format("input {} -> {} features, bias {}", weft::shape_str(input_shape),
                                 out_features, bias));
        const Tensor input = random_tensor(input_shape, 300 + trial);
        const std::int64_t features = input.numel() / input_shape[0];
        const Tensor weight = random_tensor({out_features, features}, 400 + trial);
        const Tensor bias_values = random_tensor({out_features}, 500 + trial);
        weft::WeightMap params{{"weight", weight}};
        if (bias) params["bias"] = bias_values;
        const Tensor output = run_op("fc", fc_attrs(out_features, bias), {input}, params)[0];
        EXPECT_TRUE(all_close(output, reference_fc(input, weight, bias ? &bias_values : nullptr)));
    }
}

TEST(FcCpu, ClassifiesTheCifarHeadLikeTheReference) {
    const Tensor input = random_tensor({64, 192, 1, 1}, 61);
    const Tensor weight = random_tensor({10, 192}, 62);
    const Tensor bias = random_tensor({10}, 63);
    const Tensor output =
        run_op("fc", fc_attrs(10, true), {input}, {{"weight", weight}, {"bias", bias}})[0];
    EXPECT_TRUE(all_close(output, reference_fc(input, weight, &bias)));
}

TEST(FcCpu, BackwardMatchesFiniteDifferencesForInputWeightAndBias) {
    for (const bool bias : {true, false}) {
        SCOPED_TRACE(bias ? "with bias" : "without bias");
        const Attributes attrs = fc_attrs(5, bias);
        const Tensor x = random_tensor({3, 2, 2, 2}, 80);
        weft::WeightMap params{{"weight", random_tensor({5, 8}, 81)}};
        if (bias) params.emplace("bias", random_tensor({5}, 82));
        const Tensor r = random_tensor({3, 5}, 83);
        const weft::testing::BackwardResult result = run_op_backward("fc", attrs, {x}, {r}, params);
        const auto loss = [&] { return weighted_sum(run_op("fc", attrs, {x}, params), {r}); };
        EXPECT_TRUE(all_close(result.grad_inputs.at(0), numeric_gradient(x, loss), 1e-2, 1e-3));
        ASSERT_EQ(result.grad_params.size(), bias ? 2u : 1u);
        EXPECT_TRUE(all_close(result.grad_params[0], numeric_gradient(params.at("weight"), loss), 1e-2, 1e-3));
        if (bias)
            EXPECT_TRUE(all_close(result.grad_params[1], numeric_gradient(params.at("bias"), loss), 1e-2, 1e-3));
    }
}

}  // namespace
