#include "cli_harness.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

namespace fs = std::filesystem;

namespace weft::testing {

ScratchDirectory::ScratchDirectory(const std::string& name)
    : path_(fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
}

ScratchDirectory::~ScratchDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string shell_quote(const std::string& s) {
    std::string quoted = "'";
    for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

namespace {

std::optional<std::string> python_importing(const std::string& modules) {
    std::vector<std::string> candidates;
    if (const char* chosen = std::getenv("WEFT_TORCH_PYTHON")) candidates.emplace_back(chosen);
    candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
    for (const std::string& python : candidates) {
        const std::string probe = shell_quote(python) + " -c 'import " + modules + "' >/dev/null 2>&1";
        if (std::system(probe.c_str()) == 0) return python;
    }
    return std::nullopt;
}

}  // namespace

const std::optional<std::string>& torch_python() {
    static const std::optional<std::string> found = python_importing("numpy, torch");
    return found;
}

const std::optional<std::string>& onnx_python() {
    // onnx.checker, not onnx: in the build tree a directory named onnx/ imports as a package.
    static const std::optional<std::string> found = python_importing("onnx.checker");
    return found;
}

std::string weft_binary() { return (fs::path(WEFT_TEST_BINARY_DIR) / "bin/weft").string(); }

CommandResult run_weft(const std::string& args, const fs::path& scratch, const WeftCommand& how) {
    const fs::path out = scratch / "weft_stdout.txt", err = scratch / "weft_stderr.txt";
    const std::string cd = how.directory.empty() ? "" : "cd " + shell_quote(how.directory.string()) + " && ";
    std::string cmd = cd + how.env + " timeout " + std::to_string(how.timeout_seconds) + " " + weft_binary() + " " + args +
                      " >" + out.string();
    cmd += how.streams == Streams::merged ? " 2>&1" : " 2>" + err.string();
    cmd += " </dev/null";
    const int raw = std::system(cmd.c_str());
    CommandResult result{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_text(out), {}};
    if (how.streams == Streams::separate) result.err = read_text(err);
    return result;
}

}  // namespace weft::testing
