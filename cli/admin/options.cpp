#include "cli/admin/options.h"

#include "cli/secret_source.h"

namespace attache::cli::admin {

void add_module_option(CLI::App& command, std::string& module) {
    module = p11::kP11KitProxy;
    command
        .add_option("--module", module,
                    "PKCS#11 module: a path, a file in p11-kit's module directory, or a "
                    "p11-kit module name")
        ->capture_default_str();
}

void add_token_option(CLI::App& command, std::string& token, bool required) {
    auto* opt = command.add_option("--token", token,
                                   "the token, as a PKCS#11 URI (pkcs11:serial=...); it must "
                                   "match exactly one token");
    if (required)
        opt->required();
}

void add_inventory_option(CLI::App& command, std::string& path) {
    path = kDefaultInventory;
    command.add_option("--inventory", path, "the enrolment inventory (SQLite)")
        ->capture_default_str();
}

namespace {

CLI::Option* secret_source_option(CLI::App& command, const std::string& flag, std::string& source,
                                  const std::string& what) {
    return command
        .add_option(flag, source,
                    "where the " + what + " comes from: " + std::string(kSecretSourceHelp))
        ->check(CLI::Validator(
            [](std::string& value) -> std::string {
                return valid_secret_source(value)
                           ? std::string()
                           : "expected " + std::string(kSecretSourceHelp) +
                                 " (a PIN is never given on the command line)";
            },
            "SOURCE"));
}

}  // namespace

void add_secret_source_option(CLI::App& command, const std::string& flag, std::string& source,
                              const std::string& what) {
    source = "prompt";
    secret_source_option(command, flag, source, what)->capture_default_str();
}

CLI::Option* add_optional_secret_source_option(CLI::App& command, const std::string& flag,
                                               std::string& source, const std::string& what) {
    source.clear();
    return secret_source_option(command, flag, source, what);
}

}  // namespace attache::cli::admin
