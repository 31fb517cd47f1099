#include "cli/admin/inventory.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/admin/write_probe.h"

namespace attache::cli::admin {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSchema = R"sql(
PRAGMA application_id = 1096041288;  -- 'ATCH'
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE enrolments (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  token_serial       TEXT NOT NULL,
  token_model        TEXT NOT NULL,
  token_manufacturer TEXT NOT NULL,
  token_label        TEXT NOT NULL,
  holder             TEXT NOT NULL,
  subject            TEXT NOT NULL,
  email              TEXT,
  state              TEXT NOT NULL CHECK (state IN ('awaiting-certificate', 'active',
                       'suspended', 'lost', 'damaged', 'retired')),
  operator_uid       INTEGER NOT NULL,
  operator_name      TEXT NOT NULL,
  created_at         TEXT NOT NULL,
  updated_at         TEXT NOT NULL
);
CREATE INDEX enrolments_by_serial ON enrolments (token_serial);
CREATE TABLE events (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  enrolment_id  INTEGER NOT NULL REFERENCES enrolments (id),
  at            TEXT NOT NULL,
  operator_uid  INTEGER NOT NULL,
  operator_name TEXT NOT NULL,
  from_state    TEXT,
  to_state      TEXT NOT NULL,
  reason        TEXT NOT NULL
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'inventory events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'inventory events are append-only'); END;
)sql";

// Schema 2: the card history (PIN changes and resets, rejected SO PINs), kept by card serial
// whether or not the card has a record; append-only like `events`.
constexpr const char* kCardEventsSchema = R"sql(
CREATE TABLE card_events (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  token_serial  TEXT NOT NULL,
  enrolment_id  INTEGER REFERENCES enrolments (id),
  at            TEXT NOT NULL,
  operator_uid  INTEGER NOT NULL,
  operator_name TEXT NOT NULL,
  event         TEXT NOT NULL,
  reason        TEXT NOT NULL
);
CREATE INDEX card_events_by_serial ON card_events (token_serial);
CREATE TRIGGER card_events_no_update BEFORE UPDATE ON card_events
  BEGIN SELECT RAISE(ABORT, 'inventory events are append-only'); END;
CREATE TRIGGER card_events_no_delete BEFORE DELETE ON card_events
  BEGIN SELECT RAISE(ABORT, 'inventory events are append-only'); END;
)sql";

// The keys of each record. Schema 3 added the role card-auth (a PIV card's 9E key); SQLite
// cannot change a CHECK constraint, so an older table is copied into a new one.
std::string enrolment_keys_schema(const std::string& table) {
    return "CREATE TABLE " + table + R"sql( (
  enrolment_id     INTEGER NOT NULL REFERENCES enrolments (id),
  role             TEXT NOT NULL CHECK (role IN ('authentication', 'encryption', 'card-auth')),
  key_id           TEXT NOT NULL,
  label            TEXT NOT NULL,
  key_type         TEXT NOT NULL,
  spki_sha256      TEXT NOT NULL,
  csr_path         TEXT NOT NULL,
  cert_serial      TEXT,
  cert_issuer      TEXT,
  cert_not_after   TEXT,
  cert_sha256      TEXT,
  cert_imported_at TEXT,
  PRIMARY KEY (enrolment_id, role),
  UNIQUE (enrolment_id, key_id)
);
)sql";
}

Status migrate_enrolment_keys(Database& db) {
    ATTACHE_CHECK(db.exec(enrolment_keys_schema("enrolment_keys_v3")));
    ATTACHE_CHECK(
        db.exec("INSERT INTO enrolment_keys_v3 SELECT * FROM enrolment_keys;"
                "DROP TABLE enrolment_keys;"
                "ALTER TABLE enrolment_keys_v3 RENAME TO enrolment_keys;"));
    return ok();
}

constexpr const char* kEnrolmentColumns =
    "id, token_serial, token_model, token_manufacturer, token_label, holder, subject, email, "
    "state, operator_uid, operator_name, created_at, updated_at";

enum class Shape { empty, attache };

struct FileShape {
    Shape shape = Shape::empty;
    long version = 0;  // of an Attache inventory
};

Error not_attache(const std::string& path, const std::string& why) {
    return Error(path + " is not an Attache inventory (" + why + ")");
}

// What the file holds: nothing yet, or an inventory this build understands.
Result<FileShape> inspect(Database& db) {
    const std::string& path = db.path();
    auto count = db.prepare("SELECT count(*) FROM sqlite_master");
    if (!count)
        return not_attache(path, count.error().message());
    auto row = count->step();
    if (!row || !*row)
        return not_attache(path, row ? "unreadable" : row.error().message());
    if (count->integer(0) == 0)
        return FileShape{};

    auto meta = db.prepare("SELECT value FROM meta WHERE key = ?1");
    if (!meta)
        return not_attache(path, "an SQLite database without Attache's meta table");
    meta->bind(1, std::string("application"));
    auto app = meta->step();
    if (!app || !*app || meta->text(0) != Inventory::kApplication)
        return not_attache(path, "its meta table does not name attache-inventory");

    auto version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'");
    if (!version)
        return not_attache(path, version.error().message());
    auto vrow = version->step();
    if (!vrow || !*vrow)
        return not_attache(path, "no schema_version");
    const std::string text = version->text(0);
    char* end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < 1)
        return Error(path + ": unknown inventory schema version '" + text + "'");
    if (v > Inventory::kSchemaVersion) {
        return Error(path + " has inventory schema version " + text + ", newer than the " +
                     std::to_string(Inventory::kSchemaVersion) +
                     " this attache understands; use a newer attache (nothing was changed)");
    }
    return FileShape{Shape::attache, v};
}

Status create_schema(Database& db) {
    ATTACHE_TRY(auto tx, Transaction::begin(db));
    ATTACHE_CHECK(db.exec(kSchema));
    ATTACHE_CHECK(db.exec(enrolment_keys_schema("enrolment_keys")));
    ATTACHE_CHECK(db.exec(kCardEventsSchema));
    ATTACHE_TRY(auto meta, db.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)"));
    meta.bind(1, std::string("application")).bind(2, std::string(Inventory::kApplication));
    ATTACHE_CHECK(meta.run());
    ATTACHE_TRY(auto version, db.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)"));
    version.bind(1, std::string("schema_version"))
        .bind(2, std::to_string(Inventory::kSchemaVersion));
    ATTACHE_CHECK(version.run());
    return tx.commit();
}

// Brings an inventory of an older schema up to this one, in one transaction.
Status migrate(Database& db, long version) {
    if (version >= Inventory::kSchemaVersion)
        return ok();
    ATTACHE_TRY(auto tx, Transaction::begin(db));
    if (version < 2)
        ATTACHE_CHECK(db.exec(kCardEventsSchema));
    if (version < 3)
        ATTACHE_CHECK(migrate_enrolment_keys(db));
    ATTACHE_TRY(auto s, db.prepare("UPDATE meta SET value = ?1 WHERE key = 'schema_version'"));
    s.bind(1, std::to_string(Inventory::kSchemaVersion));
    ATTACHE_CHECK(s.run());
    return tx.commit();
}

// Makes an opened inventory ready for writing: a read-only file is refused here rather than at
// the first write, an empty one gets the schema, an older schema is brought up to date.
Status make_writable(Database& db, const FileShape& shape) {
    if (db.read_only())
        return Error("the inventory " + db.path() + " is read-only for this user");
    if (shape.shape == Shape::empty)
        return create_schema(db);
    return migrate(db, shape.version);
}

Enrolment enrolment_from_row(const Statement& s) {
    Enrolment e;
    e.id = s.integer(0);
    e.token_serial = s.text(1);
    e.token_model = s.text(2);
    e.token_manufacturer = s.text(3);
    e.token_label = s.text(4);
    e.holder = s.text(5);
    e.subject = s.text(6);
    e.email = s.optional_text(7);
    e.state = state_from_name(s.text(8)).value_or(CardState::awaiting_certificate);
    e.enrolled_by.uid = s.integer(9);
    e.enrolled_by.name = s.text(10);
    e.created_at = s.text(11);
    e.updated_at = s.text(12);
    return e;
}

// The nearest existing directory at or above `dir`.
fs::path existing_ancestor(fs::path dir) {
    std::error_code ec;
    while (!dir.empty() && !fs::exists(dir, ec)) {
        if (dir == dir.parent_path())
            break;
        dir = dir.parent_path();
    }
    return dir.empty() ? fs::path(".") : dir;
}

}  // namespace

Operator Operator::current() {
    Operator op;
    op.uid = static_cast<std::int64_t>(getuid());
    passwd pw{};
    passwd* found = nullptr;
    char buf[4096];
    if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr)
        op.name = found->pw_name;
    else
        op.name = "uid " + std::to_string(op.uid);
    if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && op.uid == 0)
        op.name += std::string(" (sudo by ") + sudo + ")";
    return op;
}

const KeyRecord* Enrolment::key(const std::string& key_id) const {
    for (const KeyRecord& k : keys) {
        if (k.key_id == key_id)
            return &k;
    }
    return nullptr;
}

Result<Inventory> Inventory::open(const std::string& path, bool read_only) {
    std::error_code ec;
    if (!fs::exists(path, ec))
        return Error("no inventory at " + path + " (`attache enrol` creates it)");
    if (!fs::is_regular_file(path, ec))
        return not_attache(path, "not a regular file");
    ATTACHE_TRY(Database db,
                Database::open(path, read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE));
    ATTACHE_TRY(FileShape shape, inspect(db));
    if (shape.shape == Shape::empty)
        return not_attache(path, "an empty database");
    if (!read_only)
        ATTACHE_CHECK(make_writable(db, shape));
    return Inventory(std::move(db));
}

Result<Inventory> Inventory::open_or_create(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        fs::path dir = fs::path(path).parent_path();
        if (!dir.empty() && !fs::exists(dir, ec)) {
            fs::create_directories(dir, ec);
            if (ec)
                return Error("cannot create " + dir.string() + ": " + ec.message());
            fs::permissions(
                dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
        }
        // Holder names are personal data: owner and group only.
        int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640);
        if (fd < 0 && errno != EEXIST)
            return Error("cannot create the inventory " + path + ": " + std::strerror(errno));
        if (fd >= 0)
            ::close(fd);
    }
    if (!fs::is_regular_file(path, ec))
        return not_attache(path, "not a regular file");
    ATTACHE_TRY(Database db, Database::open(path, SQLITE_OPEN_READWRITE));
    ATTACHE_TRY(FileShape shape, inspect(db));
    ATTACHE_CHECK(make_writable(db, shape));
    return Inventory(std::move(db));
}

Status Inventory::check_usable(const std::string& path) {
    std::error_code ec;
    if (fs::exists(path, ec)) {
        if (!fs::is_regular_file(path, ec))
            return not_attache(path, "not a regular file");
        ATTACHE_TRY(Database db, Database::open(path, SQLITE_OPEN_READWRITE));
        ATTACHE_TRY(FileShape shape, inspect(db));
        (void)shape;
        if (db.read_only())
            return Error("the inventory " + path + " is read-only for this user");
        // A write in a transaction that is rolled back: the file, its directory (for SQLite's
        // journal) and its lock must all allow it. The file is left as it was.
        Status probe = [&]() -> Status {
            ATTACHE_TRY(auto tx, Transaction::begin(db));
            ATTACHE_TRY(auto s, db.prepare("INSERT INTO meta (key, value) VALUES "
                                           "('attache-write-probe', '')"));
            return s.run();
        }();
        if (!probe)
            return Error("the inventory " + path +
                         " cannot be written: " + probe.error().message());
        return ok();
    }
    fs::path dir = existing_ancestor(fs::path(path).parent_path());
    if (Status s = probe_directory(dir.string(), dir.string()); !s)
        return Error("cannot create the inventory " + path + ": " + s.error().message());
    return ok();
}

Status Inventory::append_event(std::int64_t id, const std::optional<std::string>& from,
                               const std::string& to, const std::string& reason, const Operator& by,
                               const std::string& now) {
    ATTACHE_TRY(auto s, db_.prepare("INSERT INTO events (enrolment_id, at, operator_uid, "
                                    "operator_name, from_state, to_state, reason) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    s.bind(1, id)
        .bind(2, now)
        .bind(3, by.uid)
        .bind(4, by.name)
        .bind(5, from)
        .bind(6, to)
        .bind(7, reason);
    return s.run();
}

Result<std::int64_t> Inventory::add_enrolment(const Enrolment& e, const Operator& by,
                                              const std::string& now, const std::string& reason) {
    ATTACHE_TRY(auto tx, Transaction::begin(db_));
    ATTACHE_TRY(auto s, db_.prepare("INSERT INTO enrolments (token_serial, token_model, "
                                    "token_manufacturer, token_label, holder, subject, email, "
                                    "state, operator_uid, operator_name, created_at, updated_at) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)"));
    const std::string state(state_name(CardState::awaiting_certificate));
    s.bind(1, e.token_serial)
        .bind(2, e.token_model)
        .bind(3, e.token_manufacturer)
        .bind(4, e.token_label)
        .bind(5, e.holder)
        .bind(6, e.subject)
        .bind(7, e.email)
        .bind(8, state)
        .bind(9, by.uid)
        .bind(10, by.name)
        .bind(11, now);
    ATTACHE_CHECK(s.run());
    const std::int64_t id = db_.last_insert_rowid();
    for (const KeyRecord& k : e.keys) {
        ATTACHE_TRY(auto ks,
                    db_.prepare("INSERT INTO enrolment_keys (enrolment_id, role, key_id, "
                                "label, key_type, spki_sha256, csr_path, cert_serial, cert_issuer, "
                                "cert_not_after, cert_sha256, cert_imported_at) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
        const std::optional<CertificateRecord>& c = k.certificate;
        auto field = [&](std::string CertificateRecord::*member) {
            return c ? std::optional<std::string>((*c).*member) : std::nullopt;
        };
        ks.bind(1, id)
            .bind(2, k.role)
            .bind(3, k.key_id)
            .bind(4, k.label)
            .bind(5, k.key_type)
            .bind(6, k.spki_sha256)
            .bind(7, k.csr_path)
            .bind(8, field(&CertificateRecord::serial))
            .bind(9, field(&CertificateRecord::issuer))
            .bind(10, field(&CertificateRecord::not_after))
            .bind(11, field(&CertificateRecord::sha256))
            .bind(12, c ? k.certificate_imported_at : std::nullopt);
        ATTACHE_CHECK(ks.run());
    }
    ATTACHE_CHECK(append_event(id, std::nullopt, state, reason, by, now));
    ATTACHE_CHECK(tx.commit());
    return id;
}

Status Inventory::load_details(Enrolment& e) {
    ATTACHE_TRY(auto ks, db_.prepare("SELECT role, key_id, label, key_type, spki_sha256, "
                                     "csr_path, cert_serial, cert_issuer, cert_not_after, "
                                     "cert_sha256, cert_imported_at FROM enrolment_keys "
                                     "WHERE enrolment_id = ?1 ORDER BY role"));
    ks.bind(1, e.id);
    for (;;) {
        ATTACHE_TRY(bool row, ks.step());
        if (!row)
            break;
        KeyRecord k;
        k.role = ks.text(0);
        k.key_id = ks.text(1);
        k.label = ks.text(2);
        k.key_type = ks.text(3);
        k.spki_sha256 = ks.text(4);
        k.csr_path = ks.text(5);
        if (auto serial = ks.optional_text(6)) {
            k.certificate = CertificateRecord{*serial, ks.text(7), ks.text(8), ks.text(9)};
            k.certificate_imported_at = ks.optional_text(10);
        }
        e.keys.push_back(std::move(k));
    }
    ATTACHE_TRY(auto es, db_.prepare("SELECT id, at, operator_uid, operator_name, from_state, "
                                     "to_state, reason FROM events WHERE enrolment_id = ?1 "
                                     "ORDER BY id"));
    es.bind(1, e.id);
    for (;;) {
        ATTACHE_TRY(bool row, es.step());
        if (!row)
            break;
        Event ev;
        ev.id = es.integer(0);
        ev.at = es.text(1);
        ev.by.uid = es.integer(2);
        ev.by.name = es.text(3);
        ev.from_state = es.optional_text(4);
        ev.to_state = es.text(5);
        ev.reason = es.text(6);
        e.events.push_back(std::move(ev));
    }
    ATTACHE_TRY(e.card_events, card_events(e.id));
    return ok();
}

Result<std::optional<Enrolment>> Inventory::get(std::int64_t id) {
    ATTACHE_TRY(auto s, db_.prepare(std::string("SELECT ") + kEnrolmentColumns +
                                    " FROM enrolments WHERE id = ?1"));
    s.bind(1, id);
    ATTACHE_TRY(bool row, s.step());
    if (!row)
        return std::optional<Enrolment>();
    Enrolment e = enrolment_from_row(s);
    ATTACHE_CHECK(load_details(e));
    return std::optional<Enrolment>(std::move(e));
}

Result<std::vector<Enrolment>> Inventory::list(const EnrolmentFilter& filter) {
    ATTACHE_TRY(auto s, db_.prepare(std::string("SELECT ") + kEnrolmentColumns +
                                    " FROM enrolments WHERE (?1 IS NULL OR state = ?1) AND "
                                    "(?2 IS NULL OR holder = ?2) AND "
                                    "(?3 IS NULL OR token_serial = ?3) ORDER BY id"));
    s.bind(1, filter.state).bind(2, filter.holder).bind(3, filter.token_serial);
    std::vector<Enrolment> out;
    for (;;) {
        ATTACHE_TRY(bool row, s.step());
        if (!row)
            break;
        out.push_back(enrolment_from_row(s));
    }
    for (Enrolment& e : out)
        ATTACHE_CHECK(load_details(e));
    return out;
}

Result<std::optional<Enrolment>> Inventory::open_enrolment(const std::string& token_serial) {
    ATTACHE_TRY(auto s, db_.prepare("SELECT id FROM enrolments WHERE token_serial = ?1 AND "
                                    "state != 'retired' ORDER BY id DESC LIMIT 1"));
    s.bind(1, token_serial);
    ATTACHE_TRY(bool row, s.step());
    if (!row)
        return std::optional<Enrolment>();
    return get(s.integer(0));
}

Status Inventory::change_state(std::int64_t id, CardState to, const std::string& reason,
                               const Operator& by, const std::string& now) {
    ATTACHE_TRY(auto tx, Transaction::begin(db_));
    ATTACHE_TRY(auto current, db_.prepare("SELECT state FROM enrolments WHERE id = ?1"));
    current.bind(1, id);
    ATTACHE_TRY(bool row, current.step());
    if (!row)
        return Error("no inventory record " + std::to_string(id));
    const std::string from = current.text(0);
    const std::string target(state_name(to));
    ATTACHE_TRY(auto s, db_.prepare("UPDATE enrolments SET state = ?1, updated_at = ?2 "
                                    "WHERE id = ?3"));
    s.bind(1, target).bind(2, now).bind(3, id);
    ATTACHE_CHECK(s.run());
    ATTACHE_CHECK(append_event(id, from, target, reason, by, now));
    return tx.commit();
}

Result<CardState> Inventory::record_certificate(std::int64_t id, const std::string& key_id,
                                                const CertificateRecord& c, const Operator& by,
                                                const std::string& now) {
    ATTACHE_TRY(auto tx, Transaction::begin(db_));
    ATTACHE_TRY(auto s, db_.prepare("UPDATE enrolment_keys SET cert_serial = ?1, cert_issuer = ?2, "
                                    "cert_not_after = ?3, cert_sha256 = ?4, cert_imported_at = ?5 "
                                    "WHERE enrolment_id = ?6 AND key_id = ?7"));
    s.bind(1, c.serial)
        .bind(2, c.issuer)
        .bind(3, c.not_after)
        .bind(4, c.sha256)
        .bind(5, now)
        .bind(6, id)
        .bind(7, key_id);
    ATTACHE_CHECK(s.run());

    ATTACHE_TRY(auto info, db_.prepare("SELECT e.state, k.role, "
                                       "(SELECT count(*) FROM enrolment_keys WHERE enrolment_id = "
                                       "e.id AND cert_sha256 IS NULL) "
                                       "FROM enrolments e JOIN enrolment_keys k ON k.enrolment_id "
                                       "= e.id WHERE e.id = ?1 AND k.key_id = ?2"));
    info.bind(1, id).bind(2, key_id);
    ATTACHE_TRY(bool row, info.step());
    if (!row)
        return Error("inventory record " + std::to_string(id) + " has no key " + key_id);
    const std::string state = info.text(0);
    const std::string role = info.text(1);
    const std::int64_t missing = info.integer(2);

    ATTACHE_CHECK(append_event(
        id, state, state,
        "certificate " + c.serial + " from " + c.issuer + " imported for the " + role + " key", by,
        now));
    CardState result = state_from_name(state).value_or(CardState::awaiting_certificate);
    if (missing == 0 && result == CardState::awaiting_certificate) {
        const std::string active(state_name(CardState::active));
        ATTACHE_TRY(auto up, db_.prepare("UPDATE enrolments SET state = ?1, updated_at = ?2 "
                                         "WHERE id = ?3"));
        up.bind(1, active).bind(2, now).bind(3, id);
        ATTACHE_CHECK(up.run());
        ATTACHE_CHECK(append_event(id, state, active, "every key has its certificate", by, now));
        result = CardState::active;
    } else {
        ATTACHE_TRY(auto up, db_.prepare("UPDATE enrolments SET updated_at = ?1 WHERE id = ?2"));
        up.bind(1, now).bind(2, id);
        ATTACHE_CHECK(up.run());
    }
    ATTACHE_CHECK(tx.commit());
    return result;
}

Status Inventory::add_card_event(const CardEvent& e) {
    ATTACHE_TRY(auto s, db_.prepare("INSERT INTO card_events (token_serial, enrolment_id, at, "
                                    "operator_uid, operator_name, event, reason) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    s.bind(1, e.token_serial).bind(3, e.at).bind(4, e.by.uid).bind(5, e.by.name);
    s.bind(6, e.event).bind(7, e.reason);
    if (e.record)
        s.bind(2, *e.record);
    return s.run();
}

Result<std::vector<CardEvent>> Inventory::card_events(std::optional<std::int64_t> record) {
    std::vector<CardEvent> out;
    // A schema-1 inventory opened read-only has no card history yet.
    ATTACHE_TRY(auto exists, db_.prepare("SELECT count(*) FROM sqlite_master WHERE type = "
                                         "'table' AND name = 'card_events'"));
    ATTACHE_TRY(bool row, exists.step());
    if (!row || exists.integer(0) == 0)
        return out;
    ATTACHE_TRY(auto s, db_.prepare("SELECT id, token_serial, enrolment_id, at, operator_uid, "
                                    "operator_name, event, reason FROM card_events WHERE ?1 IS "
                                    "NULL OR enrolment_id = ?1 ORDER BY id"));
    if (record)
        s.bind(1, *record);
    for (;;) {
        ATTACHE_TRY(bool more, s.step());
        if (!more)
            break;
        CardEvent e;
        e.id = s.integer(0);
        e.token_serial = s.text(1);
        if (s.optional_text(2))
            e.record = s.integer(2);
        e.at = s.text(3);
        e.by.uid = s.integer(4);
        e.by.name = s.text(5);
        e.event = s.text(6);
        e.reason = s.text(7);
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace attache::cli::admin
