#pragma once

// `attache inventory export --manifest --signing-key KEY --out FILE`: the signed card manifest
// a managed workstation's broker serves cards by (pkcs11/card_manifest/). Writes FILE and its
// detached signature FILE.sig.

#include <string>

#include "cli/command_output.h"

namespace attache::cli::admin {

struct ManifestExportOptions {
    std::string inventory;
    std::string signing_key;  // PEM private key, Ed25519 or P-256
    std::string out;
};

Report export_manifest(const ManifestExportOptions& options);

}  // namespace attache::cli::admin
