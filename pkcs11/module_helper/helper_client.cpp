#include "pkcs11/module_helper/helper_client.h"

namespace attache::p11::module_helper {

Result<std::unique_ptr<HelperClient>> HelperClient::start(const std::string& module_path,
                                                          const HelperOptions&) {
    return Error("cannot start a helper for " + module_path + ": not built yet");
}

HelperClient::~HelperClient() = default;

bool HelperClient::alive() const {
    return false;
}

std::string HelperClient::stop_reason() const {
    return "not built yet";
}

void HelperClient::on_stop(std::function<void(const std::string& reason)> callback) const {
    callback(stop_reason());
}

pid_t HelperClient::pid() const {
    return 0;
}

}  // namespace attache::p11::module_helper
