// Test support for running the `weft` command as a user would: one scratch directory per test
// process, the command under a time limit (a hang fails the test instead of blocking ctest),
// stdin closed, and its exit status and output captured.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace weft::testing {

// A fresh directory under the system's temporary directory, named for the test program and its
// process id, removed with everything in it when the object is destroyed (program exit for a
// function-local static).
class ScratchDirectory {
public:
    explicit ScratchDirectory(const std::string& name);
    ~ScratchDirectory();
    ScratchDirectory(const ScratchDirectory&) = delete;
    ScratchDirectory& operator=(const ScratchDirectory&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::filesystem::path& child) const { return path_ / child; }

private:
    std::filesystem::path path_;
};

struct CommandResult {
    int status = -1;  // exit status; -1 when killed by a signal
    std::string out;  // stdout (and stderr too with Streams::merged)
    std::string err;
};

enum class Streams { separate, merged };

struct WeftCommand {
    std::string env;          // prefix such as "WEFT_GRAPH_PATH=dir" (shell words)
    int timeout_seconds = 120;
    Streams streams = Streams::separate;
    std::filesystem::path directory;  // the working directory to run in; empty: the test's own
};

std::string read_text(const std::filesystem::path& path);

// The runner built beside the tests (bin/weft in the build tree).
std::string weft_binary();

// Runs bin/weft with `args` (shell words); its output goes through files in `scratch`.
CommandResult run_weft(const std::string& args, const std::filesystem::path& scratch, const WeftCommand& how = {});

// `s` as one single-quoted shell word.
std::string shell_quote(const std::string& s);

// The first Python interpreter that imports numpy and torch, for the cross-checks against
// PyTorch: WEFT_TORCH_PYTHON if set, then `python3` on PATH (which may be a virtual environment
// without torch), then the distribution's /usr/bin/python3. Empty where none does.
const std::optional<std::string>& torch_python();
// The same for the ONNX checker: the first of those interpreters that imports onnx.
const std::optional<std::string>& onnx_python();

}  // namespace weft::testing
