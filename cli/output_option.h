#pragma once

// A command's --out option, on top of output_file.h: the destination is checked (and the
// temporary file made) by prepare_output() before the card is asked for anything, and written
// by commit_output() afterwards. A destination refused by prepare_output() exits kUsage; a
// failed write, kFailure.

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>

#include "cli/output_file.h"

namespace attache::cli {

// --out PATH, with `what` as the start of its help text ("Signature file").
void add_out_option(CLI::App& command, std::string& path, const std::string& what);

OutputFile prepare_output(const std::string& path, OutputRules rules = {});
void commit_output(OutputFile& out, std::string_view data);

}  // namespace attache::cli
