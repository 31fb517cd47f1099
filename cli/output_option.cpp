#include "cli/output_option.h"

#include "cli/command_output.h"

namespace attache::cli {

void add_out_option(CLI::App& command, std::string& path, const std::string& what) {
    command.add_option("--out", path,
                       what +
                           ". Default: standard output. A new or regular file is replaced whole "
                           "(mode 0600); a device or FIFO is written in place; a symbolic link "
                           "is refused");
}

OutputFile prepare_output(const std::string& path, OutputRules rules) {
    auto out = OutputFile::prepare(path, rules);
    if (!out)
        fail(kUsage, "--out: " + out.error().message() + "; nothing was done");
    return std::move(*out);
}

void commit_output(OutputFile& out, std::string_view data) {
    Status s = out.write(data);
    if (s)
        s = out.commit();
    if (!s)
        fail(kFailure, s.error().message());
}

}  // namespace attache::cli
