// Every file weft writes goes through here, so that a crash, a full disk or a second signal at any
// moment leaves the old file or the new one, never half of one, and never writes through a link or
// into something that is not a file.
//
// The bytes go to a temporary file beside the target, created exclusively under a random name
// (`TARGET.tmp-XXXXXXXXXXXX`, O_EXCL|O_NOFOLLOW: a link or file planted under a guessable name is
// never opened, let alone truncated), with mode 0666 less the umask. Every write, the fsync and
// the close are checked (ENOSPC, EIO, EFBIG); then the temporary is renamed over the target and
// the directory fsynced. On any error, or when the writer is destroyed uncommitted (an exception),
// the temporary is removed. A target that exists and is not a regular file (a device such as
// /dev/full, a FIFO, a directory, a link to one of those) is refused before anything is written.
// A link to a regular file is replaced by the new file; the file it pointed to is left alone.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace weft {

// Throws weft::Error ("PATH: exists and is not a regular file (a FIFO); weft writes only regular
// files") when `target` exists as anything but a regular file or a link to one.
void check_output_target(const std::filesystem::path& target);

class OutputFile {
public:
    // Checks the target and creates the temporary; weft::Error naming the target on failure.
    explicit OutputFile(std::filesystem::path target);
    ~OutputFile();  // removes the temporary unless committed
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    void write(const void* data, std::size_t bytes);
    void write(std::string_view text) { write(text.data(), text.size()); }
    // fsync, close, rename over the target, fsync the directory. After an error nothing is left.
    void commit();

    const std::filesystem::path& target() const { return target_; }
    const std::filesystem::path& temporary() const { return temporary_; }
    std::size_t bytes_written() const { return bytes_; }

private:
    [[noreturn]] void fail(const char* what, int err);

    std::filesystem::path target_, temporary_;
    int fd_ = -1;
    std::size_t bytes_ = 0;
    bool committed_ = false;
};

// The whole of `content` through an OutputFile.
void write_file_atomically(const std::filesystem::path& target, std::string_view content);

// fsyncs the directory holding `path`, so a file created or renamed there stays there after a
// power cut. File systems that cannot sync a directory (EINVAL) are let be.
void sync_parent_directory(const std::filesystem::path& path);

// Writes all of `data`, retrying after signals and short writes; false with errno set (a write
// that makes no progress is EIO).
bool write_all(int fd, const void* data, std::size_t bytes);

}  // namespace weft
