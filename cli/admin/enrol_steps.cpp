#include "cli/admin/enrol_steps.h"

#include <ctime>

#include "cli/admin/csr.h"
#include "cli/admin/failure.h"
#include "cli/admin/inventory.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/registration.h"
#include "pkcs11/names.h"
#include "pkcs11/uri.h"

namespace attache::cli::admin {
namespace {

nlohmann::json key_json(const EnrolledKey& k, const SelectedToken& token) {
    nlohmann::json j = {
        {"role", role_name(k.plan.role)},
        {"label", k.plan.label},
        {"key_id", hex(k.id)},
        {"key_type", p11::key_algorithm_name(k.plan.algorithm)},
        {"spki_sha256", k.spki_sha256},
        {"csr", k.csr_path.empty() ? nlohmann::json() : nlohmann::json(k.csr_path)},
        {"uri", p11::Uri::for_object(token.info, CKO_PRIVATE_KEY, k.id, k.plan.label)}};
    if (k.piv_slot)
        j["piv_slot"] = *k.piv_slot;
    if (!k.certificate.empty())
        j["certificate_sha256"] = sha256_hex(k.certificate);
    return j;
}

}  // namespace

void write_requests(std::vector<EnrolledKey>& keys, const EnrolPlan& plan,
                    const std::function<CardSigner(const EnrolledKey&)>& signer,
                    WrittenFiles& written, const StopFn& stop,
                    const std::function<void()>& checkpoint) {
    for (EnrolledKey& k : keys) {
        if (!k.certificate.empty())
            continue;  // the card-auth key: its certificate is on the card already
        CsrContent content{plan.subject.get(), plan.email, k.plan.role};
        auto pem = make_signed_csr(signer(k), k.public_key.get(), content);
        if (!pem)
            stop(exit_code_for(pem.error()), pem.error().message());
        if (Status s = write_new_file(k.csr_path, *pem, 0644); !s)
            stop(kFailure, s.error().message());
        written.add(k.csr_path);
        checkpoint();
    }
}

Report record_enrolment(const EnrolOptions& o, const EnrolPlan& plan,
                        const std::vector<EnrolledKey>& keys, const std::string& how,
                        bool initialised, const StopFn& stop,
                        const std::function<void()>& committed) {
    const SelectedToken& token = plan.token;
    Enrolment record;
    record.token_serial = token.info.serial;
    record.token_model = token.info.model;
    record.token_manufacturer = token.info.manufacturer;
    record.token_label = token.info.label;
    record.holder = o.holder;
    record.subject = name_string(plan.subject.get());
    record.email = plan.email;
    const std::string now = time_string(std::time(nullptr));
    for (const EnrolledKey& k : keys) {
        record.keys.push_back({std::string(role_name(k.plan.role)), hex(k.id), k.plan.label,
                               std::string(p11::key_algorithm_name(k.plan.algorithm)),
                               k.spki_sha256, k.csr_path, std::nullopt, std::nullopt});
        if (k.certificate.empty())
            continue;
        const unsigned char* p = k.certificate.data();
        X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(k.certificate.size())));
        if (!cert)
            stop(kFailure, "the certificate of the " + std::string(role_name(k.plan.role)) +
                               " key does not parse " + openssl_errors());
        record.keys.back().certificate = certificate_record(cert.get(), k.certificate);
        record.keys.back().certificate_imported_at = now;
    }
    auto inventory = Inventory::open_or_create(o.inventory);
    if (!inventory)
        stop(kInventory, inventory.error().message());
    auto id = inventory->add_enrolment(record, Operator::current(), now, how);
    if (!id)
        stop(kInventory, "recording the enrolment: " + id.error().message());
    committed();

    Report report;
    report.json = {{"record", *id},
                   {"state", state_name(CardState::awaiting_certificate)},
                   {"inventory", absolute_path(o.inventory)},
                   {"initialised", initialised},
                   {"new_so_pin", initialised && !o.new_so_pin_source.empty()},
                   {"holder", o.holder},
                   {"subject", record.subject},
                   {"email", plan.email ? nlohmann::json(*plan.email) : nlohmann::json()},
                   {"key_origin", how},
                   {"token",
                    {{"uri", p11::Uri::for_token(token.info)},
                     {"label", token.info.label},
                     {"serial", token.info.serial},
                     {"model", token.info.model}}},
                   {"keys", nlohmann::json::array()}};
    std::string text = "Enrolled " + o.holder + " on token " + token.describe() +
                       " (inventory record " + std::to_string(*id) +
                       ", state awaiting-certificate).\n";
    for (const EnrolledKey& k : keys) {
        report.json["keys"].push_back(key_json(k, token));
        text += "  " + std::string(role_name(k.plan.role)) + " key '" + k.plan.label + "' " +
                std::string(p11::key_algorithm_name(k.plan.algorithm)) +
                (k.piv_slot ? ", PIV slot " + *k.piv_slot : std::string()) + ", CKA_ID " +
                hex(k.id) + "\n    SPKI SHA-256 " + k.spki_sha256 +
                (k.certificate.empty() ? "\n    request " + k.csr_path
                                       : std::string("\n    self-signed certificate written to "
                                                     "the card (no request)")) +
                "\n";
    }
    text += "Send the requests to the CA, then store the certificates with `attache cert import`.";
    report.text = text;
    return report;
}

}  // namespace attache::cli::admin
