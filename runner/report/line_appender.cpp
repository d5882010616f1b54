#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "posix_file.h"
#include "weft/error.h"
#include "weft/report/files.h"

namespace weft::report {

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const char* what, int err) {
    throw Error(fmt::format("{}: {}: {}", path.string(), what, std::strerror(err)));
}

}  // namespace

LineAppender::LineAppender(std::filesystem::path path) : path_(std::move(path)) {
    check_output_target(path_);  // a FIFO or device here would block or swallow the records
    created_ = !std::filesystem::exists(path_);
    // No link followed: a log is the run directory's own file.
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd_ < 0) fail(path_, "cannot open", errno);
    try {
        existing_ = read_whole_file(path_);
        const std::size_t keep = existing_.ends_with('\n') ? existing_.size() : existing_.rfind('\n') + 1;  // npos + 1 == 0
        if (keep != existing_.size()) {
            if (::ftruncate(fd_, static_cast<off_t>(keep)) != 0) fail(path_, "cannot cut an unfinished last line", errno);
            existing_.resize(keep);
        }
        if (created_) sync_parent_directory(path_);
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

LineAppender::~LineAppender() {
    if (fd_ >= 0) ::close(fd_);
}

LineAppender::LineAppender(LineAppender&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      created_(other.created_),
      existing_(std::move(other.existing_)) {}

LineAppender& LineAppender::operator=(LineAppender&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        path_ = std::move(other.path_);
        fd_ = std::exchange(other.fd_, -1);
        created_ = other.created_;
        existing_ = std::move(other.existing_);
    }
    return *this;
}

void LineAppender::append(std::string_view lines, bool sync) {
    if (fd_ < 0) throw Error(fmt::format("{}: append after the file was moved away", path_.string()));
    if (!write_all(fd_, lines) || (sync && ::fsync(fd_) != 0)) fail(path_, "cannot append", errno);
}

void LineAppender::sync() {
    if (fd_ >= 0 && ::fsync(fd_) != 0) fail(path_, "cannot sync", errno);
}

}  // namespace weft::report
