// Files weft reads from outside (graph files, weights, inputs, datasets, run settings) are opened
// through these, so that none of them can hang weft or take memory without bound: a FIFO blocks
// an open() until someone writes, /dev/zero never ends, and a 10 GB "text" file is not text.
// Only regular files are read, and text only up to a stated size.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace weft {

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// `path` (symlinks followed) opened for reading, and its size. It is opened with O_NONBLOCK, so a
// FIFO or a device cannot make the open wait, then examined with fstat on that same descriptor —
// what is checked is what is read, however the name changes meanwhile — and only then switched
// to blocking reads. Throws weft::Error naming the file when it is missing, cannot be opened, or
// is something else: "<file>: is a FIFO, not a regular file".
FilePtr open_regular_file(const std::filesystem::path& path, std::uint64_t* size);

// The whole of `path` (a regular file) as bytes, refusing one larger than `max_bytes` before
// reading it: "<file>: 3000000 bytes, more than the 1048576 allowed for <what>".
std::string read_whole_file(const std::filesystem::path& path, std::uint64_t max_bytes, std::string_view what);

}  // namespace weft
