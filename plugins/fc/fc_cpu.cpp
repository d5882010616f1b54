// fc on the CPU: oneDNN's inner product, built when the graph is compiled. The weights stay in
// their stored [out, F] layout (oneDNN's GEMM path reads it directly), so nothing is reordered.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "weft/cpu/cpu_device.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// The primitives of one thread team, their memory objects and arguments (FcOnednn keeps one per team).
class FcPrimitives {
public:
    explicit FcPrimitives(const weft::KernelConfig& config)
        : device_(weft::cpu::cpu_device(config.device)), stream_(device_.stream()) {
        const weft::TensorDesc& input = config.inputs.at(0);
        if (input.dtype != weft::DType::f32 || input.layout != weft::Layout::row_major) {
            throw weft::Error(
                fmt::format("the cpu fc reads f32 row-major input only, got {}", input.str()));
        }
        const std::int64_t batch = input.shape.at(0);
        const std::int64_t features = input.numel() / batch;
        const std::int64_t out_features = config.attrs.get_int("out_features");
        has_bias_ = config.attrs.get_bool("bias");
        try {
            build(config.device, batch, features, out_features, config.training);
        } catch (const dnnl::error& e) {
            throw weft::Error(fmt::format("oneDNN cannot build fc [{}, {}] -> {}: {}", batch,
                                          features, out_features, e.what()));
        }
    }

    std::size_t workspace_bytes() const { return scratchpad_bytes_; }

    // oneDNN memory has no read-only handle; the const_casts hand it buffers it only reads.
    void forward(const weft::ForwardArgs& args) {
        input_.set_data_handle(const_cast<void*>(args.inputs[0].data));
        weight_.set_data_handle(const_cast<void*>(args.params[0].data));
        if (has_bias_) bias_.set_data_handle(const_cast<void*>(args.params[1].data));
        output_.set_data_handle(args.outputs[0].data);
        if (scratchpad_bytes_ > 0) scratchpad_.set_data_handle(args.workspace);
        primitive_.execute(stream_, args_);
    }

    bool has_backward() const { return training_; }

    // dx = dy W, dW = dy^T x, db = Σ_n dy: oneDNN's backward-data and backward-weights passes.
    void backward(const weft::BackwardArgs& args) {
        input_.set_data_handle(const_cast<void*>(args.inputs[0].data));
        weight_.set_data_handle(const_cast<void*>(args.params[0].data));
        diff_output_.set_data_handle(const_cast<void*>(args.grad_outputs[0].data));
        diff_input_.set_data_handle(args.grad_inputs[0].data);
        diff_weight_.set_data_handle(args.grad_params[0].data);
        if (has_bias_) diff_bias_.set_data_handle(args.grad_params[1].data);
        if (scratchpad_bytes_ > 0) scratchpad_.set_data_handle(args.workspace);
        backward_data_.execute(stream_, backward_data_args_);
        backward_weights_.execute(stream_, backward_weights_args_);
        stream_.wait();
    }

private:
    void build(weft::Device& device, std::int64_t batch, std::int64_t features,
               std::int64_t out_features, bool training) {
        const dnnl::engine& engine = weft::cpu::cpu_device(device).engine();
        const auto f32 = memory::data_type::f32;
        const memory::desc input_md({batch, features}, f32, Tag::nc);
        const memory::desc weight_md({out_features, features}, f32, Tag::oi);
        const memory::desc bias_md({out_features}, f32, Tag::x);
        const memory::desc output_md({batch, out_features}, f32, Tag::nc);
        const auto kind =
            training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
        const auto desc =
            has_bias_
                ? dnnl::inner_product_forward::desc(kind, input_md, weight_md, bias_md, output_md)
                : dnnl::inner_product_forward::desc(kind, input_md, weight_md, output_md);
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // scratch from our workspace
        const dnnl::inner_product_forward::primitive_desc primitive_desc(desc, attr, engine);
        primitive_ = dnnl::inner_product_forward(primitive_desc);

        // Memory objects are made once; forward only points them at this batch's buffers.
        input_ = memory(input_md, engine, DNNL_MEMORY_NONE);
        weight_ = memory(weight_md, engine, DNNL_MEMORY_NONE);
        output_ = memory(output_md, engine, DNNL_MEMORY_NONE);
        args_ = {{DNNL_ARG_SRC, input_}, {DNNL_ARG_WEIGHTS, weight_}, {DNNL_ARG_DST, output_}};
        if (has_bias_) {
            bias_ = memory(bias_md, engine, DNNL_MEMORY_NONE);
            args_.emplace(DNNL_ARG_BIAS, bias_);
        }
        memory::desc scratchpad_md = primitive_desc.scratchpad_desc();
        if (training) scratchpad_md = build_backward(engine, primitive_desc, attr, scratchpad_md);
        scratchpad_bytes_ = scratchpad_md.get_size();
        if (scratchpad_bytes_ > 0) {
            // One scratchpad, sized for the largest pass, serves all three (they run in turn).
            scratchpad_ = memory(scratchpad_md, engine, DNNL_MEMORY_NONE);
            args_.emplace(DNNL_ARG_SCRATCHPAD, scratchpad_);
            backward_data_args_.emplace(DNNL_ARG_SCRATCHPAD, scratchpad_);
            backward_weights_args_.emplace(DNNL_ARG_SCRATCHPAD, scratchpad_);
        }
    }

    // Builds both backward passes with the forward as their hint; returns the largest scratchpad.
    memory::desc build_backward(const dnnl::engine& engine,
                                const dnnl::inner_product_forward::primitive_desc& forward_pd,
                                const dnnl::primitive_attr& attr, memory::desc scratchpad_md) {
        training_ = true;
        const memory::desc& input_md = input_.get_desc();
        const memory::desc& weight_md = weight_.get_desc();
        const memory::desc& output_md = output_.get_desc();
        const dnnl::inner_product_backward_data::primitive_desc data_pd(
            dnnl::inner_product_backward_data::desc(input_md, weight_md, output_md), attr, engine,
            forward_pd);
        const memory::desc bias_md({weight_md.dims()[0]}, memory::data_type::f32, Tag::x);
        const auto weights_desc =
            has_bias_ ? dnnl::inner_product_backward_weights::desc(input_md, weight_md, bias_md,
                                                                   output_md)
                      : dnnl::inner_product_backward_weights::desc(input_md, weight_md, output_md);
        const dnnl::inner_product_backward_weights::primitive_desc weights_pd(weights_desc, attr,
                                                                              engine, forward_pd);
        backward_data_ = dnnl::inner_product_backward_data(data_pd);
        backward_weights_ = dnnl::inner_product_backward_weights(weights_pd);

        diff_input_ = memory(input_md, engine, DNNL_MEMORY_NONE);
        diff_weight_ = memory(weight_md, engine, DNNL_MEMORY_NONE);
        diff_output_ = memory(output_md, engine, DNNL_MEMORY_NONE);
        backward_data_args_ = {{DNNL_ARG_DIFF_DST, diff_output_},
                               {DNNL_ARG_WEIGHTS, weight_},
                               {DNNL_ARG_DIFF_SRC, diff_input_}};
        backward_weights_args_ = {{DNNL_ARG_SRC, input_},
                                  {DNNL_ARG_DIFF_DST, diff_output_},
                                  {DNNL_ARG_DIFF_WEIGHTS, diff_weight_}};
        if (has_bias_) {
            diff_bias_ = memory(bias_md, engine, DNNL_MEMORY_NONE);
            backward_weights_args_.emplace(DNNL_ARG_DIFF_BIAS, diff_bias_);
        }
        for (const memory::desc& md : {data_pd.scratchpad_desc(), weights_pd.scratchpad_desc()})
            if (md.get_size() > scratchpad_md.get_size()) scratchpad_md = md;
        return scratchpad_md;
    }

    weft::cpu::CpuDevice& device_;
    dnnl::stream stream_;
    dnnl::inner_product_forward primitive_;
    memory input_, weight_, bias_, output_, scratchpad_;
    std::unordered_map<int, memory> args_;
    std::size_t scratchpad_bytes_ = 0;
    bool has_bias_ = false;
    bool training_ = false;
    // Training only: the backward passes and the gradients' memory objects.
    dnnl::inner_product_backward_data backward_data_;
    dnnl::inner_product_backward_weights backward_weights_;
    memory diff_input_, diff_weight_, diff_bias_, diff_output_;
    std::unordered_map<int, memory> backward_data_args_, backward_weights_args_;
};

// oneDNN's inner product keeps the thread count it was built for, so each thread team gets its
// own (weft::cpu::PerTeam; the workspace is the full team's scratchpad).
class FcOnednn final : public weft::Kernel {
public:
    explicit FcOnednn(const weft::KernelConfig& config)
        : teams_(
              weft::cpu::cpu_device(config.device), [config] { return std::make_shared<FcPrimitives>(config); },
              [](const std::shared_ptr<FcPrimitives>& built) { return built->workspace_bytes(); }) {}

    std::size_t workspace_bytes() const override { return teams_.most()->workspace_bytes(); }
    void forward(const weft::ForwardArgs& args) override { teams_.now()->forward(args); }
    bool has_backward() const override { return teams_.most()->has_backward(); }
    void backward(const weft::BackwardArgs& args) override { teams_.now()->backward(args); }

private:
    weft::cpu::PerTeam<std::shared_ptr<FcPrimitives>> teams_;
};

}  // namespace

WEFT_PLUGIN("fc_cpu", "0.1.0") {
    registrar.add_kernel(weft::kernel_factory<FcOnednn>("fc", "cpu", "onednn"));
}
