// `weft train` and `weft eval` on an ImageNet-style tree (imagenet:DIR): images of assorted
// sizes and colour kinds, streamed through the decoding workers, with the network's input size.
#include <filesystem>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_harness.h"
#include "image_files.h"

namespace fs = std::filesystem;
using weft::testing::read_text;

namespace {

const fs::path& work_dir() {
    static const weft::testing::ScratchDirectory dir("weft_image_tree_cli_test");
    return dir.path();
}

weft::testing::CommandResult weft_cli(const std::string& args) {
    return weft::testing::run_weft(args, work_dir(), {.timeout_seconds = 300});
}

// Three classes told apart by colour, JPEG and PNG, colour, gray and CMYK, 20 to 90 pixels a side.
fs::path tiny_tree() {
    static const fs::path root = [] {
        const fs::path dir = work_dir() / "tree";
        std::mt19937 random(5);
        std::uniform_int_distribution<int> side(20, 90);
        int n = 0;
        for (const char* split : {"train", "val"})
            for (int label = 0; label < 3; ++label)
                for (int i = 0; i < (split[0] == 't' ? 8 : 4); ++i, ++n) {
                    const int w = side(random), h = side(random);
                    weft::datasets::testing::Bytes rgb(std::size_t(w) * h * 3);
                    for (std::size_t p = 0; p < rgb.size(); ++p)
                        rgb[p] = std::uint8_t(p % 3 == std::size_t(label) ? 200 : 40 + random() % 30);
                    const fs::path file = dir / split / fmt::format("class{}", label) / fmt::format("{:03}", n);
                    if (n % 5 == 3) {
                        weft::datasets::testing::write_png(fs::path(file) += ".png", w, h, PNG_FORMAT_RGB, rgb.data());
                    } else if (n % 5 == 4) {
                        weft::datasets::testing::Bytes cmyk;  // Adobe's convention: 255 = no ink
                        for (std::size_t p = 0; p < rgb.size(); p += 3)
                            cmyk.insert(cmyk.end(), {rgb[p], rgb[p + 1], rgb[p + 2], 255});
                        weft::datasets::testing::write_jpeg(fs::path(file) += ".jpg", w, h, 4, cmyk);
                    } else {
                        weft::datasets::testing::write_jpeg(fs::path(file) += ".jpg", w, h, 3, rgb);
                    }
                }
        return dir;
    }();
    return root;
}

std::string train_args(const std::string& out, const std::string& extra = "", int epochs = 2) {
    return fmt::format("train imagenet-resnet18-c64 --set size=32 --set classes=3 --set width=8 --data imagenet:{} "
                       "--epochs {} --batch 4 --lr 0.05 --quiet --out {} {}",
                       tiny_tree().string(), epochs, (work_dir() / out).string(), extra);
}

TEST(ImageTreeCli, TrainsAndEvaluatesAResNetOnATreeOfImagesOfAnySize) {
    const auto r = weft_cli(train_args("run"));
    ASSERT_EQ(r.status, 0) << r.err;
    const auto run = nlohmann::json::parse(read_text(work_dir() / "run" / "run.json"));
    EXPECT_EQ(run["crop_scale"], nlohmann::json({0.08, 1.0}));
    EXPECT_EQ(run["centre_crop"], 0.875);
    for (const char* file : {"metrics.csv", "curves.svg", "best.safetensors", "checkpoint.safetensors"})
        EXPECT_TRUE(fs::exists(work_dir() / "run" / file)) << file;
    const auto e = weft_cli(fmt::format("eval --weights {} --batch 5 --json", (work_dir() / "run/last.safetensors").string()));
    ASSERT_EQ(e.status, 0) << e.err;
    const auto j = nlohmann::json::parse(e.out);
    EXPECT_EQ(j["images"], 12);
    EXPECT_EQ(j["class_names"], nlohmann::json({"class0", "class1", "class2"}));
}

TEST(ImageTreeCli, TheNumberOfLoaderThreadsDoesNotChangeTheRun) {
    ASSERT_EQ(weft_cli(train_args("one", "--loader-threads 1", 1)).status, 0);
    ASSERT_EQ(weft_cli(train_args("four", "--loader-threads 4", 1)).status, 0);
    EXPECT_EQ(read_text(work_dir() / "one/last.safetensors"), read_text(work_dir() / "four/last.safetensors"));
}

TEST(ImageTreeCli, BadCropSettingsAndChannelCountsAreOneLineRefusals) {
    for (const auto& [extra, message] : std::vector<std::pair<std::string, std::string>>{
             {"--crop-scale 0.9,0.1", "crop scale range 0.9,0.1"},
             {"--crop-ratio 2,1", "crop ratio range 2,1"},
             {"--set in_channels=1", "images are made RGB"}}) {
        const auto r = weft_cli(train_args("refused", extra));
        EXPECT_EQ(r.status, 2) << extra;
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(work_dir() / "refused" / "run.json")) << extra;
    }
}

}  // namespace
