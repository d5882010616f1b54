// weft: run, inspect and benchmark interleaved-group-convolution networks.
// Every user-facing failure is one line on stderr and exit status 2.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands.h"
#include "stop_signals.h"
#include "weft/error.h"
#include "weft/plugin.h"
#include "weft/fatal_signal.h"

int main(int argc, char** argv) {
    // A plugin kernel that crashes the process names its node, op and library on the way out.
    weft::install_fatal_signal_report();
    CLI::App app{"weft — build, run and study interleaved group convolution networks"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "help for every subcommand");
    // WEFT_VERSION is the CMake project version; plugins must be built for this ABI.
    app.set_version_flag("--version", fmt::format("weft {} (plugin ABI {})", WEFT_VERSION, weft::kPluginAbiVersion),
                         "the weft version and the plugin ABI it loads");
    weft::runner::add_run_command(app);
    weft::runner::add_check_command(app);
    weft::runner::add_init_command(app);
    weft::runner::add_plugins_command(app);
    weft::runner::add_ops_command(app);
    weft::runner::add_stats_command(app);
    weft::runner::add_bench_command(app);
    weft::runner::add_train_command(app);
    weft::runner::add_eval_command(app);
    weft::runner::add_curves_command(app);
    weft::runner::add_viz_command(app);
    weft::runner::add_export_command(app);
    weft::runner::add_zoo_command(app);
    weft::runner::add_design_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const weft::runner::ExitStatus& e) {
        return e.status;  // the command has said why
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "weft: error: {}\n", e.what());
        return 2;
    } catch (const weft::Error& e) {
        fmt::print(stderr, "weft: error: {}\n", e.what());
        return 2;
    } catch (const std::bad_alloc&) {
        fmt::print(stderr, "weft: error: out of memory\n");
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "weft: internal error: {}\n", e.what());
        return 1;
    } catch (...) {
        fmt::print(stderr, "weft: internal error: an exception that is not a std::exception\n");
        return 1;
    }
    // What a command printed is its result: stdout on a full disk or /dev/full is a failure, not success.
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        fmt::print(stderr, "weft: error: standard output: cannot write: {}\n", std::strerror(errno));
        return 2;
    }
    return 0;
}
