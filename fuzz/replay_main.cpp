// The harnesses without libFuzzer: runs LLVMFuzzerTestOneInput once on each file named on the
// command line (directories: every file in them, sorted), so the seed corpus and every crash
// reproducer stay regression tests in the ordinary build (ctest fuzz_regressions.*). A harness
// that finds a problem aborts (uncaught exception or sanitizer report), which fails the test.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace fs = std::filesystem;

namespace {
// README files and dot files document the folders; they are not inputs.
bool is_input(const fs::path& file) {
    const std::string name = file.filename().string();
    return !name.empty() && name[0] != '.' && name != "README.md";
}

std::vector<fs::path> inputs_in(const std::vector<fs::path>& arguments) {
    std::vector<fs::path> files;
    for (const fs::path& argument : arguments) {
        if (!fs::is_directory(argument)) {
            files.push_back(argument);
            continue;
        }
        std::vector<fs::path> entries;
        for (const auto& entry : fs::directory_iterator(argument))
            if (entry.is_regular_file() && is_input(entry.path())) entries.push_back(entry.path());
        std::sort(entries.begin(), entries.end());
        files.insert(files.end(), entries.begin(), entries.end());
    }
    return files;
}
}  // namespace

int main(int argc, char** argv) {
    LLVMFuzzerInitialize(&argc, &argv);
    const std::vector<fs::path> files = inputs_in(std::vector<fs::path>(argv + 1, argv + argc));
    for (const fs::path& file : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "%s: cannot read\n", file.c_str());
            return 1;
        }
        const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
        std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.c_str(), bytes.size());
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    }
    std::fprintf(stderr, "replayed %zu inputs\n", files.size());
    return 0;
}
