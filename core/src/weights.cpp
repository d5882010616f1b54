#include "weft/weights.h"

#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "finite_values.h"
#include "weft/error.h"

namespace weft {
namespace {

// SplitMix64: a tiny, well-mixed generator whose output is the same on every platform (unlike
// std::normal_distribution), so a seed names the same weights everywhere.
struct SplitMix64 {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double normal() {                                        // Box-Muller
        double u1 = uniform(), u2 = uniform();
        if (u1 < 1e-300) u1 = 1e-300;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }
};

std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

void fill(Tensor& t, const ParamSpec& spec, SplitMix64& rng) {
    float* p = t.as<float>();
    const std::int64_t n = t.numel();
    const double fan_in = static_cast<double>(std::max<std::int64_t>(spec.fan_in, 1));
    switch (spec.init) {
        case ParamInit::he_normal: {
            const double std_dev = std::sqrt(2.0 / fan_in);
            for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(rng.normal() * std_dev);
            break;
        }
        case ParamInit::fan_in_uniform: {
            const double bound = 1.0 / std::sqrt(fan_in);
            for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<float>((2 * rng.uniform() - 1) * bound);
            break;
        }
        case ParamInit::zeros:
            for (std::int64_t i = 0; i < n; ++i) p[i] = 0.f;
            break;
        case ParamInit::ones:
            for (std::int64_t i = 0; i < n; ++i) p[i] = 1.f;
            break;
    }
}

// A parameter its schema declares non-negative (a running variance): the first negative value.
void check_non_negative(const std::string& name, const Tensor& tensor) {
    const float* values = tensor.as<float>();
    for (std::int64_t i = 0; i < tensor.numel(); ++i)
        if (values[i] < 0.f)
            throw Error(fmt::format("weights: tensor '{}': {}, but its operator needs every value >= 0 (a variance)",
                                    name, detail::describe_element(tensor.shape(), i, values[i])));
}

}  // namespace

Tensor random_normal(const TensorDesc& desc, std::uint64_t seed) {
    Tensor t(desc);
    SplitMix64 rng{seed};
    float* p = t.as<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(rng.normal());
    return t;
}

WeightMap init_weights(const Graph& graph, std::uint64_t seed) {
    WeightMap out;
    for (const Node& node : graph.nodes)
        for (const ParamSpec& spec : node.params) {
            const std::string name = node.name + "." + spec.name;
            SplitMix64 rng{seed ^ fnv1a(name)};
            Tensor t(spec.desc);
            fill(t, spec, rng);
            out.emplace(name, std::move(t));
        }
    return out;
}

void check_weights(const Graph& graph, const WeightMap& weights) {
    std::size_t expected = 0;
    for (const Node& node : graph.nodes)
        for (const ParamSpec& spec : node.params) {
            ++expected;
            const std::string name = node.name + "." + spec.name;
            auto it = weights.find(name);
            if (it == weights.end()) throw Error(fmt::format("weights: tensor '{}' ({}) is missing", name, spec.desc.str()));
            if (it->second.desc().dtype != spec.desc.dtype || it->second.shape() != spec.desc.shape)
                throw Error(fmt::format("weights: tensor '{}' is {}, the graph needs {}", name, it->second.desc().str(),
                                        spec.desc.str()));
            if (spec.non_negative) check_non_negative(name, it->second);
        }
    if (weights.size() != expected)
        for (const auto& [name, t] : weights) {
            const auto dot = name.rfind('.');
            const int n = dot == std::string::npos ? -1 : graph.find_node(name.substr(0, dot));
            bool known = false;
            if (n >= 0)
                for (const ParamSpec& spec : graph.nodes[n].params) known |= spec.name == name.substr(dot + 1);
            if (!known) throw Error(fmt::format("weights: tensor '{}' does not belong to any node of the graph", name));
        }
}

}  // namespace weft
