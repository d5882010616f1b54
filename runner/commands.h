// Each `weft` subcommand registers itself on the app; the callbacks do the work.
#pragma once

#include <CLI/CLI.hpp>

namespace weft::runner {

void add_run_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_init_command(CLI::App& app);
void add_plugins_command(CLI::App& app);
void add_ops_command(CLI::App& app);
void add_stats_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_viz_command(CLI::App& app);
void add_zoo_command(CLI::App& app);
void add_design_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_curves_command(CLI::App& app);
void add_export_command(CLI::App& app);

}  // namespace weft::runner
