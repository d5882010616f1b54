// One reader per file format; load_dataset (dataset.cpp) picks one from the spec.
#pragma once

#include <weft/datasets/dataset.h>

#include <filesystem>
#include <string>
#include <vector>

namespace weft::datasets {

Dataset load_cifar10(const std::filesystem::path& dir, Split split);
Dataset load_cifar100(const std::filesystem::path& dir, Split split);
// MNIST and Fashion-MNIST share the IDX format and differ only in their class names.
Dataset load_idx(const std::filesystem::path& dir, Split split, std::string name,
                 std::vector<std::string> class_names);
Dataset load_folder(const std::filesystem::path& dir, Split split);
// Lists the files only: nothing is decoded until the loader needs it.
Dataset load_image_tree(const std::filesystem::path& dir, Split split);

// The file `stem` in dir, or stem + ".xz" / ".gz" (whichever of `suffixes` exists); an error
// naming what was expected when none does.
std::filesystem::path find_data_file(const std::filesystem::path& dir, const std::string& stem,
                                     const std::vector<std::string>& suffixes);
void require_directory(const std::filesystem::path& dir);

}  // namespace weft::datasets
