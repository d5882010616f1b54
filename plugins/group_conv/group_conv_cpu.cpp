// group_conv on the CPU: the backend's one oneDNN convolution, built when the graph is compiled.
#include <memory>
#include <utility>

#include "group_conv_geometry.h"
#include "weft/cpu/onednn_convolution.h"
#include "weft/plugin.h"

namespace {

class GroupConvOnednn final : public weft::Kernel {
public:
    explicit GroupConvOnednn(const weft::KernelConfig& config)
        : convolution_(weft::group_conv::group_conv_geometry(config),
                       weft::cpu::cpu_device(config.device), config.training) {
        // The schema and this kernel must agree on what the node computes.
        weft::group_conv::check_group_conv_shapes(convolution_.geometry(), config);
    }

    std::size_t workspace_bytes() const override { return convolution_.workspace_bytes(); }

    void forward(const weft::ForwardArgs& args) override {
        const float* bias =
            convolution_.geometry().bias ? args.params[1].as<const float>() : nullptr;
        convolution_.forward(args.inputs[0].as<const float>(), args.params[0].as<const float>(),
                             bias, args.outputs[0].as<float>(), args.workspace);
    }

    bool has_backward() const override { return convolution_.has_backward(); }

    void backward(const weft::BackwardArgs& args) override {
        const float* grad_output = args.grad_outputs[0].as<const float>();
        float* grad_bias = convolution_.geometry().bias ? args.grad_params[1].as<float>() : nullptr;
        convolution_.backward_data(grad_output, args.params[0].as<const float>(),
                                   args.grad_inputs[0].as<float>(), args.workspace);
        convolution_.backward_weights(args.inputs[0].as<const float>(), grad_output,
                                      args.grad_params[0].as<float>(), grad_bias, args.workspace);
    }

private:
    weft::cpu::OnednnConvolution convolution_;
};

}  // namespace

WEFT_PLUGIN("group_conv_cpu", "0.1.0") {
    weft::KernelFactory factory;
    factory.op = "group_conv";
    factory.backend = "cpu";
    factory.name = "onednn";
    factory.priority = 0;
    factory.create = [](const weft::KernelConfig& config) -> std::unique_ptr<weft::Kernel> {
        return std::make_unique<GroupConvOnednn>(config);
    };
    registrar.add_kernel(std::move(factory));
}
