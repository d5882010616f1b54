#include "run_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "weft/error.h"
#include "weft/output_file.h"

namespace weft::training {
namespace fs = std::filesystem;

namespace {

constexpr const char* kCheckpoint = "checkpoint.safetensors";

bool holds_anything(const fs::path& dir) {
    std::error_code ec;
    return fs::directory_iterator(dir, ec) != fs::directory_iterator();
}

}  // namespace

RunDirectory::RunDirectory(fs::path dir, bool was_ours) : dir_(std::move(dir)) {
    const fs::path marker = dir_ / kMarker;
    lock_fd_ = ::open(marker.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (lock_fd_ < 0)
        throw Error(fmt::format("{}: cannot create: {}", marker.string(), std::strerror(errno)));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(lock_fd_);
        lock_fd_ = -1;
        if (err == EWOULDBLOCK)
            throw Error(
                fmt::format("{}: another weft train is writing to this run directory; wait for it to end or "
                            "choose another --out",
                            dir_.string()));
        throw Error(fmt::format("{}: cannot lock: {}", marker.string(), std::strerror(err)));
    }
    // The marker's text is for a person who wonders what the file is; its existence is what counts.
    static constexpr std::string_view kText =
        "a weft training run directory, locked while weft train writes to it\n";
    if (::lseek(lock_fd_, 0, SEEK_END) == 0 && !write_all(lock_fd_, kText.data(), kText.size())) {
        const int err = errno;
        ::close(lock_fd_);
        throw Error(fmt::format("{}: cannot write: {}", marker.string(), std::strerror(err)));
    }
    try {
        sync_parent_directory(marker);
    } catch (...) {
        ::close(lock_fd_);
        throw;
    }
    // A run killed while writing leaves its temporary file behind (the real file is whole: the old
    // version or the new); only in a directory that was weft's already are such names weft's.
    if (!was_ours) return;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec))
        if (entry.path().filename().string().find(".tmp-") != std::string::npos) fs::remove(entry.path(), ec);
}

RunDirectory RunDirectory::for_new_run(const fs::path& dir, bool force) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(fmt::format("{}: cannot create: {}", dir.string(), ec.message()));
    const bool ours = fs::exists(dir / kMarker);
    if (!ours && holds_anything(dir) && !force)
        throw Error(
            fmt::format("{}: not empty and not a weft run directory (no {}); choose another --out, or add "
                        "--force to train into it anyway (its files of the names weft writes are replaced)",
                        dir.string(), kMarker));
    RunDirectory run(dir, ours);
    if (fs::exists(dir / kCheckpoint))
        throw Error(
            fmt::format("{} already holds a run ({}); resume it with --resume {} or choose another --out",
                        dir.string(), kCheckpoint, dir.string()));
    return run;
}

RunDirectory RunDirectory::for_resume(const fs::path& dir) {
    if (!fs::exists(dir / kCheckpoint))
        throw Error(fmt::format(
            "--resume {}: no {} there, so nothing to resume (the run stopped before its first checkpoint); "
            "start it again with --out {}",
            dir.string(), kCheckpoint, dir.string()));
    return RunDirectory(dir, true);
}

RunDirectory::~RunDirectory() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the flock
}

RunDirectory::RunDirectory(RunDirectory&& other) noexcept
    : dir_(std::move(other.dir_)), lock_fd_(std::exchange(other.lock_fd_, -1)) {}

}  // namespace weft::training
