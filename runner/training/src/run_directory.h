// A training run's directory is weft's own: a marker file (.weft-run) that weft created says so,
// and a lock on it (flock), held for the whole run, keeps a second writer out. Without these a
// run into a user's folder replaced their files of the same names, and two runs into one
// directory interleaved their metrics rows.
#pragma once

#include <filesystem>

namespace weft::training {

class RunDirectory {
public:
    static constexpr const char* kMarker = ".weft-run";

    // For a new run (--out): creates the directory when missing. A non-empty directory without
    // the marker is refused unless `force`; one holding a checkpoint is refused, pointing at
    // --resume. Every refusal is a weft::Error naming the directory.
    static RunDirectory for_new_run(const std::filesystem::path& dir, bool force);
    // For --resume: the directory must hold a checkpoint (a run whose first epoch never
    // finished has nothing to resume). A run from before the marker existed gains one.
    static RunDirectory for_resume(const std::filesystem::path& dir);

    ~RunDirectory();  // releases the lock
    RunDirectory(RunDirectory&& other) noexcept;
    RunDirectory& operator=(RunDirectory&&) = delete;
    RunDirectory(const RunDirectory&) = delete;
    RunDirectory& operator=(const RunDirectory&) = delete;

    const std::filesystem::path& path() const { return dir_; }

private:
    RunDirectory(std::filesystem::path dir, bool was_ours);

    std::filesystem::path dir_;
    int lock_fd_ = -1;
};

}  // namespace weft::training
