#pragma once

// The enrolment inventory: an SQLite file recording which card was enrolled for whom, with which
// keys (CKA_ID, type, SPKI SHA-256), requests and certificates, and every change of state with
// who, when and why. Events are append-only (triggers refuse UPDATE and DELETE).
//
// The file identifies itself in a `meta` table (application = attache-inventory,
// schema_version). Opening refuses a file that is not SQLite, an SQLite file that is not an
// Attache inventory, and an inventory of a newer schema than this build understands.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/admin/card_state.h"
#include "cli/admin/sqlite.h"
#include "pkcs11/result.h"

namespace attache::cli::admin {

struct Operator {
    std::int64_t uid = 0;
    std::string name;  // login name; "root (sudo by alice)" under sudo
    static Operator current();
};

struct CertificateRecord {
    std::string serial;  // hex
    std::string issuer;  // RFC 2253
    std::string not_after;
    std::string sha256;  // of the DER certificate
};

struct KeyRecord {
    std::string role;    // authentication | encryption | card-auth
    std::string key_id;  // CKA_ID, hex
    std::string label;
    std::string key_type;  // ec-p256, rsa-2048, ...
    std::string spki_sha256;
    std::string csr_path;
    std::optional<CertificateRecord> certificate;
    std::optional<std::string> certificate_imported_at;
};

struct Event {
    std::int64_t id = 0;
    std::string at;
    Operator by;
    std::optional<std::string> from_state;
    std::string to_state;
    std::string reason;
};

// One entry of a card's history that is not a change of its record's state: a PIN changed or
// reset, an SO PIN rejected. Never a PIN.
struct CardEvent {
    std::int64_t id = 0;
    std::string token_serial;
    std::optional<std::int64_t> record;  // the card's open record at the time, if any
    std::string at;
    Operator by;
    std::string event;  // user-pin-changed, user-pin-reset, so-pin-changed, so-pin-rejected
    std::string reason;
};

struct Enrolment {
    std::int64_t id = 0;
    std::string token_serial;
    std::string token_model;
    std::string token_manufacturer;
    std::string token_label;
    std::string holder;
    std::string subject;
    std::optional<std::string> email;
    CardState state = CardState::awaiting_certificate;
    Operator enrolled_by;
    std::string created_at;
    std::string updated_at;
    std::vector<KeyRecord> keys;
    std::vector<Event> events;           // oldest first
    std::vector<CardEvent> card_events;  // PIN events while this record was open, oldest first

    const KeyRecord* key(const std::string& key_id) const;
};

struct EnrolmentFilter {
    std::optional<std::string> state;
    std::optional<std::string> holder;
    std::optional<std::string> token_serial;
};

class Inventory {
  public:
    // 1: records, keys, events. 2: card_events. 3: the key role card-auth. Opening an older
    // file for writing upgrades it.
    static constexpr int kSchemaVersion = 3;
    static constexpr const char* kApplication = "attache-inventory";

    // An existing inventory; read_only opens it so.
    static Result<Inventory> open(const std::string& path, bool read_only);
    // Like open(), but creates the file (and its directory) when missing.
    static Result<Inventory> open_or_create(const std::string& path);
    // Whether open_or_create() and a write would succeed, changing nothing: an existing file is
    // checked as open() does, then written in a transaction that is rolled back; for a missing
    // one, a file is created and removed in its nearest existing directory.
    static Status check_usable(const std::string& path);

    // Records a new enrolment (state awaiting-certificate) and its first event (`reason`);
    // returns its id.
    Result<std::int64_t> add_enrolment(const Enrolment& enrolment, const Operator& by,
                                       const std::string& now,
                                       const std::string& reason = "enrolled");
    Result<std::optional<Enrolment>> get(std::int64_t id);
    Result<std::vector<Enrolment>> list(const EnrolmentFilter& filter);
    // The newest record of this card that is not retired.
    Result<std::optional<Enrolment>> open_enrolment(const std::string& token_serial);

    // Moves a record to `to` and appends the event (no transition check: callers decide).
    Status change_state(std::int64_t id, CardState to, const std::string& reason,
                        const Operator& by, const std::string& now);
    // Stores a key's certificate; when every key of the record then has one and the record
    // awaits certificates, activates it. Appends the events. Returns the record's new state.
    Result<CardState> record_certificate(std::int64_t id, const std::string& key_id,
                                         const CertificateRecord& certificate, const Operator& by,
                                         const std::string& now);

    // Appends to the card history.
    Status add_card_event(const CardEvent& event);
    // The card history: of one record, or (nullopt) all of it, oldest first.
    Result<std::vector<CardEvent>> card_events(std::optional<std::int64_t> record);

    const std::string& path() const { return db_.path(); }

  private:
    explicit Inventory(Database db) : db_(std::move(db)) {}
    Status load_details(Enrolment& e);
    Status append_event(std::int64_t id, const std::optional<std::string>& from,
                        const std::string& to, const std::string& reason, const Operator& by,
                        const std::string& now);

    Database db_;
};

}  // namespace attache::cli::admin
