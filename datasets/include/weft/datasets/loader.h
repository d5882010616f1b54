// Batches for training and evaluation: shuffling, the paper's augmentation (zero-pad 4, random
// 32x32 crop, horizontal flip) for sets held in memory, the ImageNet recipe (random-resized crop
// and flip; resize and centre crop to evaluate) for streamed sets, and per-channel normalisation,
// prepared on background threads.
#pragma once

#include <weft/datasets/dataset.h>
#include <weft/datasets/transforms.h>
#include <weft/tensor.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace weft::datasets {

// Per channel, in pixel units scaled to [0, 1]. Empty vectors mean mean 0, std 1.
struct Normalization {
    std::vector<float> mean, std;
};

// Mean and (population) standard deviation of each channel over the whole set; a constant
// channel gets std 1 so that normalising never divides by zero. A streamed set is estimated from
// up to `streamed_sample` of its images (a seeded choice), each seen as evaluation sees it.
Normalization channel_statistics(const Dataset& data, std::int64_t streamed_sample = 512);

struct Augmentation {
    // Both kinds of set (the first three in the order brace-initialisers have always used):
    int pad = 0;                   // in memory: zero pixels added on every side before cropping
    bool random_crop = false;      // in memory: crop H x W at a random offset in the padded image (else centred)
    bool horizontal_flip = false;  // mirror with probability 1/2
    // Streamed: a random-resized crop when set, else evaluation's resize and centre crop, which
    // keeps `centre_fraction` of the shorter side (0.875: 224 of 256).
    bool random_resized_crop = false;
    RandomResizedCrop crop = {};
    double centre_fraction = 0.875;
    // Decode a JPEG at 1/2, 1/4 or 1/8 of its size when the crop still has the output's pixels
    // there, and only the rows and columns the crop's filter reads (off: every pixel, for
    // measuring what each saves; the part alone gives the same sample bit for bit).
    bool scaled_decode = true;
    bool partial_decode = true;
};

struct LoaderOptions {
    std::int64_t batch = 64;
    bool shuffle = false;
    bool drop_last = false;
    Augmentation augment;
    Normalization normalization;
    std::uint64_t seed = 0;
    int prefetch = 3;               // batches prepared ahead of next()
    std::int64_t first_batch = 0;   // resume an epoch part-way: batches before it are skipped
    // Threads that make samples (decode a streamed set's files); batches are the same whatever
    // the number, since every sample draws from its own stream.
    int workers = 1;
    // Data-parallel training: each batch of `batch` positions is cut into `shard_count` equal
    // parts and this loader hands out part `shard_index` only (batch / shard_count rows, with
    // drop_last). Order and augmentation stay those of the positions, so the shards of all ranks
    // together are exactly the batches one loader would give.
    std::int64_t shard_index = 0, shard_count = 1;
};

// One epoch of batches. Order and augmentation depend only on (seed, epoch, position in the
// epoch), with a platform-independent generator, so a run can be reproduced and resumed. Workers
// take samples one at a time, in order, for as many batches ahead as there are slots; next()
// hands batches out in order. The dataset must outlive the loader.
class BatchLoader {
public:
    BatchLoader(const Dataset& data, LoaderOptions options, std::uint64_t epoch);
    ~BatchLoader();  // stops and joins the threads promptly, even mid-epoch
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    std::int64_t batches() const { return batches_; }
    std::int64_t rows() const { return rows_; }  // per batch handed out: batch / shard_count

    // Fills `images` (f32 [batch, C, H, W], normalised) and `labels` (i32 [batch]), allocating
    // them only when empty or of another shape; returns false after the last batch. A final
    // partial batch repeats its last sample and `count` says how many rows are real. An
    // exception on a worker thread is rethrown here.
    bool next(weft::Tensor& images, weft::Tensor& labels, std::int64_t& count);

    // The dataset index at each position of this epoch (the shuffled order).
    const std::vector<std::int64_t>& order() const { return order_; }

private:
    struct Slot {
        enum class State { free, filling, ready };
        std::vector<float> images;
        std::vector<std::int32_t> labels;
        State state = State::free;
        std::int64_t batch = -1;  // the batch it holds or is being filled with
        std::int64_t count = 0;   // real rows
        std::int64_t rows_done = 0;
    };

    void work();
    void fill_row(std::int64_t batch, std::int64_t row, Slot& slot) const;
    void pad_batch(Slot& slot) const;
    void augment_sample(std::int64_t position, const std::uint8_t* source, float* out) const;

    const Dataset& data_;
    LoaderOptions options_;
    std::uint64_t epoch_;
    std::int64_t batches_ = 0;
    std::int64_t rows_ = 0;
    std::vector<std::int64_t> order_;
    std::vector<float> lut_;           // in memory: per channel, the normalised value of each byte
    std::vector<float> scale_, shift_;  // streamed: normalised = resampled * scale[c] + shift[c]

    std::vector<Slot> slots_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::int64_t next_batch_ = 0;                      // the batch next() hands out
    std::int64_t task_batch_ = 0, task_row_ = 0;       // the next sample a worker takes
    bool stop_ = false;
    std::exception_ptr error_;
    std::vector<std::thread> workers_;
};

}  // namespace weft::datasets
