#include "posix_file.h"

#include <cstdint>

#include "weft/input_file.h"

namespace weft::report {

std::string read_whole_file(const std::filesystem::path& path) {
    // A log grows by a line per step: 256 MiB holds two million steps, more than any run writes,
    // and keeps a file that claims to be a log from taking all memory (only regular files are
    // read, so /dev/zero or a FIFO is refused before this bound matters).
    constexpr std::uint64_t kMaxLogBytes = 256ull << 20;
    return weft::read_whole_file(path, kMaxLogBytes, "a training log");
}

}  // namespace weft::report
