// One source, several fixture libraries (chosen by a FIXTURE_* define), for plugin-host tests.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "weft/error.h"
#include "weft/plugin.h"

namespace {

// test_scale: y = factor * x, the simplest operator with an attribute and a kernel.
weft::OpSchema scale_schema() {
    weft::OpSchema s;
    s.name = "test_scale";
    s.doc = "y = factor * x";
    s.attrs = {weft::AttrSpec{"factor", weft::AttrType::real, weft::AttrValue{2.0}, "multiplier", {}, {}, {}}};
    s.infer = [](const weft::InferContext& c) { return weft::NodeSignature{{c.inputs[0]}, {}, 0}; };
    s.inplace_input = 0;
    return s;
}

class ScaleKernel final : public weft::Kernel {
public:
    explicit ScaleKernel(float factor) : factor_(factor) {}
    void forward(const weft::ForwardArgs& a) override {
        const float* x = a.inputs[0].as<float>();
        float* y = a.outputs[0].as<float>();
        std::transform(x, x + a.inputs[0].numel(), y, [this](float v) { return v * factor_; });
    }

private:
    float factor_;
};

// Adds 1 after scaling, so a test can tell from the output which kernel ran.
class MarkedScaleKernel final : public weft::Kernel {
public:
    explicit MarkedScaleKernel(float factor) : factor_(factor) {}
    void forward(const weft::ForwardArgs& a) override {
        const float* x = a.inputs[0].as<float>();
        float* y = a.outputs[0].as<float>();
        std::transform(x, x + a.inputs[0].numel(), y, [this](float v) { return v * factor_ + 1.0f; });
    }

private:
    float factor_;
};

class MarkedScaleKernelFromConfig final : public weft::Kernel {
public:
    explicit MarkedScaleKernelFromConfig(const weft::KernelConfig& c)
        : kernel_(static_cast<float>(c.attrs.get_real("factor"))) {}
    void forward(const weft::ForwardArgs& a) override { kernel_.forward(a); }

private:
    MarkedScaleKernel kernel_;
};

class ThrowingKernel final : public weft::Kernel {
public:
    void forward(const weft::ForwardArgs&) override { throw weft::Error("fixture kernel failure"); }
};

[[maybe_unused]] weft::KernelFactory scale_kernel(const char* name, int priority) {
    return weft::KernelFactory{"test_scale", "cpu", name, priority, {}, {}, [](const weft::KernelConfig& c) {
                                   return std::make_unique<ScaleKernel>(static_cast<float>(c.attrs.get_real("factor")));
                               }};
}

}  // namespace

#if defined(FIXTURE_GOOD)
WEFT_PLUGIN("fixture_good", "1.0") {
    registrar.add_op(scale_schema());
    registrar.add_kernel(scale_kernel("reference", 0));
}
#elif defined(FIXTURE_DUPLICATE)
WEFT_PLUGIN("fixture_duplicate", "1.0") { registrar.add_op(scale_schema()); }
#elif defined(FIXTURE_OVERRIDE)
// A faster (pretend) kernel for an op another library defines, with a higher priority.
WEFT_PLUGIN("fixture_override", "1.0") { registrar.add_kernel(scale_kernel("override", 10)); }
#elif defined(FIXTURE_PICKY)
// A kernel that outranks the others but takes only nodes with factor 2: the registry must give
// every other node to the next kernel, per node, and say why this one passed.
WEFT_PLUGIN("fixture_picky", "1.0") {
    registrar.add_kernel(weft::kernel_factory<MarkedScaleKernelFromConfig>(
        "test_scale", "cpu", "picky", 20, [](const weft::KernelConfig& c) -> std::string {
            return c.attrs.get_real("factor") == 2.0 ? "" : "only factor 2";
        }));
}
#elif defined(FIXTURE_MARKED)
// An override whose output differs (factor * x + 1), to see through `weft run` which kernel ran.
WEFT_PLUGIN("fixture_marked", "1.0") {
    registrar.add_kernel(weft::KernelFactory{"test_scale", "cpu", "marked", 5, {}, {}, [](const weft::KernelConfig& c) {
        return std::make_unique<MarkedScaleKernel>(static_cast<float>(c.attrs.get_real("factor")));
    }});
}
#elif defined(FIXTURE_THROWING)
WEFT_PLUGIN("fixture_throwing", "1.0") {
    weft::OpSchema s = scale_schema();
    s.name = "test_throw";
    registrar.add_op(s);
    registrar.add_kernel(weft::KernelFactory{"test_throw", "cpu", "throwing", 0, {}, {},
                                             [](const weft::KernelConfig&) { return std::make_unique<ThrowingKernel>(); }});
}
#elif defined(FIXTURE_BAD_SHAPE)
// A schema whose shape rule answers nonsense (a negative extent): core must refuse it, naming the
// plugin and the node, before anything is allocated from it.
WEFT_PLUGIN("fixture_bad_shape", "1.0") {
    weft::OpSchema s = scale_schema();
    s.name = "test_bad_shape";
    s.infer = [](const weft::InferContext& c) {
        weft::TensorDesc out = c.inputs[0];
        out.shape.back() = -3;
        return weft::NodeSignature{{out}, {}, 0};
    };
    registrar.add_op(s);
}
#elif defined(FIXTURE_WRONG_ABI)
static void register_nothing(weft::PluginRegistrar&) {}
extern "C" __attribute__((visibility("default"))) const weft::PluginDescriptor* weft_plugin_entry() {
    static const weft::PluginDescriptor d{weft::kPluginAbiVersion + 98, "fixture_wrong_abi", "1.0", &register_nothing};
    return &d;
}
#elif defined(FIXTURE_OLD_ABI)
// A library from the previous plugin ABI: refused by name and version, nothing else disturbed.
static void register_nothing(weft::PluginRegistrar&) {}
extern "C" __attribute__((visibility("default"))) const weft::PluginDescriptor* weft_plugin_entry() {
    static const weft::PluginDescriptor d{weft::kPluginAbiVersion - 1, "fixture_old_abi", "1.0", &register_nothing};
    return &d;
}
#elif defined(FIXTURE_PERMUTATION)
// A stranger's channel permutation, declared only through the trait: reverses the channel order.
// Passes and tools that read the trait (batch-norm folding, ReLU fusion, the channel view) must
// treat it exactly as they treat channel_permute.
class ReverseChannels final : public weft::Kernel {
public:
    explicit ReverseChannels(const weft::KernelConfig& c)
        : batch_(c.inputs[0].shape[0]), channels_(c.inputs[0].shape[1]),
          plane_(c.inputs[0].numel() / (batch_ * channels_)) {}
    void forward(const weft::ForwardArgs& a) override {
        const float* x = a.inputs[0].as<float>();
        float* y = a.outputs[0].as<float>();
        for (std::int64_t n = 0; n < batch_; ++n)
            for (std::int64_t c = 0; c < channels_; ++c)
                std::copy_n(x + (n * channels_ + c) * plane_, plane_, y + (n * channels_ + channels_ - 1 - c) * plane_);
    }

private:
    std::int64_t batch_, channels_, plane_;
};

WEFT_PLUGIN("fixture_permutation", "1.0") {
    weft::OpSchema s;
    s.name = "test_reverse_channels";
    s.doc = "reverses the order of the channels";
    s.infer = [](const weft::InferContext& c) { return weft::NodeSignature{{c.inputs[0]}, {}, 0}; };
    s.traits.channel_permutation = [](const weft::Attributes&, std::int64_t channels) {
        std::vector<std::int64_t> destination(static_cast<std::size_t>(channels));
        for (std::int64_t c = 0; c < channels; ++c) destination[c] = channels - 1 - c;
        return destination;
    };
    registrar.add_op(s);
    registrar.add_kernel(weft::kernel_factory<ReverseChannels>("test_reverse_channels", "cpu", "loops"));
}
#elif defined(FIXTURE_SCALE_GRADIENTS)
// Two trainable test_scale kernels for the testing library's own tests: `right` has the backward
// dL/dx = factor·dL/dy, `wrong` forgets the factor. A gradient check must pass one and fail the other.
template <bool Right>
class TrainableScale final : public weft::Kernel {
public:
    explicit TrainableScale(const weft::KernelConfig& c) : factor_(static_cast<float>(c.attrs.get_real("factor"))) {}
    void forward(const weft::ForwardArgs& a) override { scale(a.inputs[0], a.outputs[0], factor_); }
    bool has_backward() const override { return true; }
    void backward(const weft::BackwardArgs& a) override { scale(a.grad_outputs[0], a.grad_inputs[0], Right ? factor_ : 1.f); }

private:
    static void scale(const weft::TensorView& from, const weft::TensorView& to, float by) {
        const float* x = from.as<const float>();
        std::transform(x, x + from.numel(), to.as<float>(), [by](float v) { return v * by; });
    }
    float factor_;
};

WEFT_PLUGIN("fixture_scale_gradients", "1.0") {
    registrar.add_kernel(weft::kernel_factory<TrainableScale<true>>("test_scale", "cpu", "right", 1));
    registrar.add_kernel(weft::kernel_factory<TrainableScale<false>>("test_scale", "cpu", "wrong"));
}
#elif defined(FIXTURE_THROWS_INT_IN_REGISTRATION)
// Strangers' code may throw anything: the host must refuse the library, not die of it.
WEFT_PLUGIN("fixture_throws_int_in_registration", "1.0") {
    registrar.add_op(scale_schema());
    throw 42;
}
#elif defined(FIXTURE_FAULTY)
// test_fault: y = weight · x with one learnable weight, failing on request where the attribute
// `fail_in` says (infer, create, forward, backward) by throwing an int, or dying of the signal
// `crash_signal` in forward — every way a plugin kernel can go wrong, for the host to report.
void fail_here(const weft::Attributes& attrs, const char* stage) {
    if (attrs.get_string("fail_in") == stage) throw 42;
}

// Not instrumented by UBSan: in the sanitizer build its null-pointer check would report the store
// and exit instead of letting it fault, and the fault is what the test is about.
[[noreturn]] __attribute__((no_sanitize("undefined"))) void crash(int signal_number) {
    if (signal_number == SIGSEGV) {
        int* volatile nowhere = nullptr;  // volatile: the compiler may not turn the store into a trap
        *nowhere = 1;                     // a real bad pointer, not a raise(): what a buggy kernel does
    }
    std::raise(signal_number);
    std::abort();
}

class FaultyKernel final : public weft::Kernel {
public:
    explicit FaultyKernel(const weft::KernelConfig& c)
        : attrs_(c.attrs), crash_signal_(static_cast<int>(c.attrs.get_int("crash_signal"))) {
        fail_here(attrs_, "create");
    }
    void forward(const weft::ForwardArgs& a) override {
        fail_here(attrs_, "forward");
        if (crash_signal_ != 0) crash(crash_signal_);
        const float w = *a.params[0].as<float>();
        const float* x = a.inputs[0].as<float>();
        std::transform(x, x + a.inputs[0].numel(), a.outputs[0].as<float>(), [w](float v) { return w * v; });
    }
    bool has_backward() const override { return true; }
    void backward(const weft::BackwardArgs& a) override {
        fail_here(attrs_, "backward");
        const float w = *a.params[0].as<float>();
        const float *x = a.inputs[0].as<float>(), *dy = a.grad_outputs[0].as<float>();
        float* dx = a.grad_inputs[0].as<float>();
        float dw = 0.f;
        for (std::int64_t i = 0; i < a.inputs[0].numel(); ++i) dx[i] = w * dy[i], dw += x[i] * dy[i];
        *a.grad_params[0].as<float>() = dw;
    }

private:
    weft::Attributes attrs_;
    int crash_signal_;
};

WEFT_PLUGIN("fixture_faulty", "1.0") {
    weft::OpSchema s;
    s.name = "test_fault";
    s.doc = "y = weight * x, failing where asked";
    s.attrs = {weft::AttrSpec{"fail_in", weft::AttrType::string, weft::AttrValue{std::string("nowhere")},
                              "infer | create | forward | backward | nowhere", {}, {}, {}},
               weft::AttrSpec{"crash_signal", weft::AttrType::integer, weft::AttrValue{std::int64_t{0}},
                              "die of this signal in forward (0: none)", {}, {}, {}}};
    s.infer = [](const weft::InferContext& c) {
        fail_here(c.attrs, "infer");
        weft::ParamSpec weight;
        weight.name = "weight";
        weight.desc = weft::TensorDesc{weft::DType::f32, {1}, weft::Layout::row_major};
        weight.init = weft::ParamInit::ones;
        return weft::NodeSignature{{c.inputs[0]}, {weight}, 0};
    };
    registrar.add_op(s);
    registrar.add_kernel(weft::kernel_factory<FaultyKernel>("test_fault", "cpu", "faulty"));
}
#elif defined(FIXTURE_NO_ENTRY)
extern "C" __attribute__((visibility("default"))) int some_other_symbol() { return 42; }
#elif defined(FIXTURE_BACKEND_FAKE)
// A backend of another kind than cpu, by its library's name (libweft_backend_fake.so): a host
// that does not ask for it must leave it and its kernel libraries (*_fake.so) unopened.
WEFT_PLUGIN("fixture_backend_fake", "1.0") {
    registrar.add_backend(weft::BackendFactory{"fake", {}, [](const weft::DeviceOptions&) -> std::unique_ptr<weft::Device> {
        throw weft::Error("the fixture backend makes no devices");
    }});
}
#elif defined(FIXTURE_SCALE_FAKE)
WEFT_PLUGIN("fixture_scale_fake", "1.0") {
    weft::KernelFactory kernel = scale_kernel("fake_scale", 0);
    kernel.backend = "fake";
    registrar.add_kernel(kernel);
}
#elif defined(FIXTURE_ABSENT_DEPENDENCY)
// Linked by fixture plugins under a soname no file has (libweft_fixture_absent.so): a runtime
// library missing where the plugin is loaded, as cuDNN is on a machine without it.
extern "C" __attribute__((visibility("default"))) int weft_fixture_absent_dependency() { return 7; }
#elif defined(FIXTURE_NEEDS_ABSENT)
// A cuda kernel library whose runtime is missing here: loading it must be a refusal, not a crash.
extern "C" int weft_fixture_absent_dependency();
WEFT_PLUGIN("fixture_orphan_cuda", "1.0") {
    if (weft_fixture_absent_dependency() != 7) throw weft::Error("unreachable: the dependency cannot load");
    weft::KernelFactory kernel = scale_kernel("orphan", 0);
    kernel.backend = "cuda";
    registrar.add_kernel(kernel);
}
#endif
