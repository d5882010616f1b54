#include "fuzz_support.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "weft/registry.h"

namespace weft::fuzz {
namespace fs = std::filesystem;

namespace {
fs::path make_scratch_directory() {
    std::string pattern = (fs::temp_directory_path() / "weft-fuzz-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a scratch directory in " + pattern);
    return pattern;
}
}  // namespace

const fs::path& scratch_directory() {
    static const fs::path dir = make_scratch_directory();
    // libFuzzer ends some runs with _exit (a crash, -max_total_time), so a directory may be left
    // behind then; a normal exit (ctest replay, -runs=N) cleans up.
    static const bool cleanup = [] {
        return std::atexit([] {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }) == 0;
    }();
    (void)cleanup;
    return dir;
}

void write_bytes(const fs::path& path, const std::uint8_t* data, std::size_t size) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

const Registry& plugin_registry() {
    static Registry registry;
    static const bool loaded = [] {
        registry.load_directory(WEFT_FUZZ_PLUGIN_DIR);
        return true;
    }();
    (void)loaded;
    return registry;
}

fs::path graph_directory() { return WEFT_FUZZ_GRAPH_DIR; }

}  // namespace weft::fuzz
