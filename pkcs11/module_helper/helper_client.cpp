#include "pkcs11/module_helper/helper_client.h"

#include "pkcs11/module_helper/client/client_calls.h"
#include "pkcs11/module_helper/client/function_tables.h"
#include "pkcs11/module_helper/client/helper_connection.h"

namespace attache::p11::module_helper {

Result<std::unique_ptr<HelperClient>> HelperClient::start(const std::string& module_path,
                                                          const HelperOptions& options) {
    if (options.helper_path.empty())
        return Error("cannot start a helper for " + module_path + ": no helper path given");
    ATTACHE_TRY(std::shared_ptr<HelperConnection> connection,
                HelperConnection::start(module_path, options));
    auto slot = claim_function_table(connection);
    if (!slot) {
        connection->close();
        return Error("cannot start a helper for " + module_path + ": " +
                     std::to_string(kMaxHelpers) +
                     " module helpers are running already, the most one process can have");
    }
    std::unique_ptr<HelperClient> client(new HelperClient);
    client->connection_ = std::move(connection);
    client->table_slot_ = *slot;
    client->functions_ = function_table(*slot);
    return client;
}

HelperClient::~HelperClient() {
    if (!connection_)
        return;
    release_function_table(table_slot_);  // later calls: CKR_DEVICE_ERROR
    connection_->close();                 // ends running calls, ends and reaps the helper
}

bool HelperClient::alive() const {
    return connection_ && connection_->alive();
}

std::string HelperClient::stop_reason() const {
    return connection_ ? connection_->stop_reason() : std::string("no helper");
}

void HelperClient::on_stop(std::function<void(const std::string& reason)> callback) const {
    if (connection_)
        connection_->on_stop(std::move(callback));
}

pid_t HelperClient::pid() const {
    return connection_ ? connection_->pid() : 0;
}

std::map<std::string, std::uint64_t> HelperClient::call_counts() const {
    return connection_ ? connection_->call_counts() : std::map<std::string, std::uint64_t>();
}

CK_RV HelperClient::sign_init_and_sign(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                                       CK_OBJECT_HANDLE key, CK_BYTE_PTR data, CK_ULONG length,
                                       CK_BYTE_PTR out, CK_ULONG_PTR out_length,
                                       CallStage* stage) const {
    return client_calls::sign_init_and_sign(*connection_, session, mechanism, key, data, length,
                                            out, out_length, stage);
}

CK_RV HelperClient::decrypt_init_and_decrypt(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                                             CK_OBJECT_HANDLE key, CK_BYTE_PTR data,
                                             CK_ULONG length, CK_BYTE_PTR out,
                                             CK_ULONG_PTR out_length, CallStage* stage) const {
    return client_calls::decrypt_init_and_decrypt(*connection_, session, mechanism, key, data,
                                                  length, out, out_length, stage);
}

}  // namespace attache::p11::module_helper
