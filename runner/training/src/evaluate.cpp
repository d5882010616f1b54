#include "weft/training/evaluate.h"

#include <algorithm>
#include <thread>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "weft/error.h"
#include "weft/report/progress.h"

namespace weft::training {

std::vector<double> Evaluation::class_accuracy() const {
    std::vector<double> out;
    for (std::size_t c = 0; c < confusion.size(); ++c) {
        const auto total = std::accumulate(confusion[c].begin(), confusion[c].end(), std::int64_t{0});
        out.push_back(total ? double(confusion[c][c]) / double(total) : std::nan(""));
    }
    return out;
}

void mirror_width(Tensor& images) {
    const Shape& shape = images.desc().shape;
    if (shape.size() != 4) throw Error(fmt::format("mirroring needs NCHW images, got {}", shape_str(shape)));
    const std::int64_t width = shape[3];
    const std::int64_t rows = shape[0] * shape[1] * shape[2];
    float* p = images.as<float>();
    for (std::int64_t r = 0; r < rows; ++r) std::reverse(p + r * width, p + (r + 1) * width);
}

namespace {

// Turns one row of scores into probabilities in place (a numerically stable softmax for logits).
void to_probabilities(float* s, std::int64_t classes, bool already) {
    if (already) return;
    const float m = *std::max_element(s, s + classes);
    double z = 0;
    for (std::int64_t c = 0; c < classes; ++c) z += std::exp(double(s[c]) - m);
    for (std::int64_t c = 0; c < classes; ++c) s[c] = static_cast<float>(std::exp(double(s[c]) - m) / z);
}

}  // namespace

int loader_workers(const datasets::Dataset& data, int requested) {
    if (requested > 0) return requested;
    return data.streamed() ? static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 64u)) : 1;
}

Evaluation evaluate(Executor& executor, const datasets::Dataset& data, const datasets::Normalization& normalization,
                    bool outputs_are_probabilities, bool progress, const char* label, bool average_mirrored,
                    const EvaluationView& view) {
    const Graph& graph = executor.graph();
    const TensorDesc& in = graph.values[graph.inputs.at(0)].desc;
    const std::int64_t batch = in.shape.at(0);
    const TensorDesc& out = graph.values[graph.outputs.at(0)].desc;
    const std::int64_t classes = out.numel() / batch;
    if (static_cast<std::int64_t>(data.class_names.size()) > classes)
        throw Error(fmt::format("the data has {} classes but the graph '{}' outputs {} (try --set classes={})",
                                data.class_names.size(), graph.name, classes, data.class_names.size()));

    datasets::LoaderOptions options;
    options.batch = batch;
    options.normalization = normalization;
    options.workers = view.workers;
    options.augment.centre_fraction = view.centre_fraction;
    datasets::BatchLoader loader(data, options, 0);
    Evaluation e;
    e.confusion.assign(classes, std::vector<std::int64_t>(classes, 0));
    std::vector<Tensor> outputs = executor.make_outputs();
    Tensor images, labels;
    std::int64_t count = 0, top5 = 0, top1 = 0;
    double loss = 0;
    report::ProgressBar bar(label, data.size(), "img", progress ? stderr : nullptr);
    const auto start = std::chrono::steady_clock::now();
    std::vector<float> probabilities;  // when the outputs are logits, or two views are averaged
    while (loader.next(images, labels, count)) {
        executor.run(std::span<const Tensor>(&images, 1), outputs);
        const float* scores = outputs[0].as<float>();
        if (!outputs_are_probabilities || average_mirrored) {
            probabilities.assign(scores, scores + count * classes);
            for (std::int64_t i = 0; i < count; ++i)
                to_probabilities(probabilities.data() + i * classes, classes, outputs_are_probabilities);
            if (average_mirrored) {
                mirror_width(images);
                executor.run(std::span<const Tensor>(&images, 1), outputs);
                float* second = outputs[0].as<float>();
                for (std::int64_t i = 0; i < count; ++i) {
                    to_probabilities(second + i * classes, classes, outputs_are_probabilities);
                    for (std::int64_t c = 0; c < classes; ++c)
                        probabilities[i * classes + c] = 0.5f * (probabilities[i * classes + c] + second[i * classes + c]);
                }
            }
            scores = probabilities.data();
        }
        const std::int32_t* y = labels.as<std::int32_t>();
        for (std::int64_t i = 0; i < count; ++i) {
            const float* s = scores + i * classes;
            const int truth = y[i];
            const int predicted = static_cast<int>(std::max_element(s, s + classes) - s);
            ++e.confusion[truth][predicted];
            top1 += predicted == truth;
            int above = 0;
            for (std::int64_t c = 0; c < classes; ++c) above += s[c] > s[truth];
            top5 += above < 5;
            const double p = std::max<double>(s[truth], 1e-12);
            loss -= std::log(p);
        }
        e.count += count;
        bar.update(e.count, {{"acc", fmt::format("{:.2f}%", 100.0 * double(top1) / double(e.count))}});
    }
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bar.finish({{"acc", fmt::format("{:.2f}%", e.count ? 100.0 * double(top1) / double(e.count) : 0.0)}});
    if (e.count) {
        e.loss = loss / double(e.count);
        e.top1 = double(top1) / double(e.count);
        e.top5 = double(top5) / double(e.count);
    }
    return e;
}

}  // namespace weft::training
