// Accuracy of a classifier over a dataset: top-1, top-5, mean loss and the confusion matrix.
#pragma once

#include <cstdint>
#include <vector>

#include "weft/datasets/dataset.h"
#include "weft/datasets/loader.h"
#include "weft/executor.h"

namespace weft::training {

struct Evaluation {
    std::int64_t count = 0;
    double loss = 0;  // mean cross-entropy of the predicted probabilities
    double top1 = 0, top5 = 0;
    std::vector<std::vector<std::int64_t>> confusion;  // [true][predicted]
    double seconds = 0;
    std::vector<double> class_accuracy() const;  // recall per true class (NaN without samples)
};

// How a streamed set's images are made for evaluation: the threads that decode them, and the
// fraction of the resized shorter side that the centre crop keeps (0.875: 224 of 256).
struct EvaluationView {
    int workers = 1;
    double centre_fraction = 0.875;
};

// Loader threads for `data`: `requested` when positive; else every hardware thread for a streamed
// set (decoding is the work) and one for a set in memory (copying is).
int loader_workers(const datasets::Dataset& data, int requested);

// Runs `executor` (an inference graph whose single output holds per-class scores: softmax
// probabilities or logits, `outputs_are_probabilities` says which) over every image of `data`
// in order, normalised as given. The executor's batch may be anything; the last batch is
// padded and the padding ignored. Shows a progress bar when `progress`.
//
// With `average_mirrored` each image is also run mirrored left to right and the two views'
// probabilities are averaged before ranking (test-time augmentation with the same flip the
// training augmentation uses; twice the compute). Off, the result is the plain single view.
Evaluation evaluate(Executor& executor, const datasets::Dataset& data, const datasets::Normalization& normalization,
                    bool outputs_are_probabilities, bool progress, const char* label = "eval",
                    bool average_mirrored = false, const EvaluationView& view = {});

// Mirrors a batch of NCHW float images left to right in place (reverses the last axis).
void mirror_width(Tensor& images);

}  // namespace weft::training
