#include "tests/enrol/enrol_fixture.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace attache::enrol_test {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

EnrolTest::EnrolTest() {
    std::filesystem::create_directory(out_dir());
}

std::string EnrolTest::add_token(const std::string& label) {
    hsm_.add_token(label);
    auto r = attache({"token", "list", "--module", softhsm_module(), "--token",
                      "pkcs11:token=" + label, "--json"});
    EXPECT_EQ(r.exit_code, 0) << testing::describe(r);
    auto j = json_of(r);
    for (const auto& slot : j["slots"]) {
        if (slot.contains("token") && slot["token"]["label"] == label) {
            std::string serial = slot["token"]["serial"];
            labels_[serial] = label;
            return serial;
        }
    }
    ADD_FAILURE() << "token " << label << " not listed: " << r.out;
    return {};
}

void EnrolTest::use_filter_module(const std::map<std::string, std::string>& behaviour) {
    module_ = ATTACHE_FILTER_MODULE_PATH;
    module_env_ = behaviour;
    module_env_["ATTACHE_FILTER_TARGET"] = softhsm_module();
}

CommandResult EnrolTest::attache(const std::vector<std::string>& args,
                                 const std::map<std::string, std::string>& env,
                                 const std::string& input) {
    // In a session of its own, without a controlling terminal: a prompt or a confirmation
    // fails rather than waiting for someone at the terminal the tests were started from.
    std::vector<std::string> argv{"setsid", "--wait", ATTACHE_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> full{{kPinVar, testing::SoftHsm::kUserPin},
                                            {kSoPinVar, testing::SoftHsm::kSoPin},
                                            {kNewPinVar, kNewPin}};
    for (const auto& [k, v] : module_env_)
        full[k] = v;
    for (const auto& [k, v] : env)
        full[k] = v;
    return testing::run_command(argv, input, full);
}

CommandResult EnrolTest::enrol(const std::string& serial, const std::string& key_type,
                               const std::vector<std::string>& extra,
                               const std::map<std::string, std::string>& env) {
    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"--module", module_},
        {"--token", uri(serial)},
        {"--holder", "Alice Martin"},
        {"--subject", "CN=Alice Martin,OU=Embassy Paris,O=Ministry,C=FR"},
        {"--email", "alice.martin@example.org"},
        {"--key-type", key_type},
        {"--out", out_dir()},
        {"--inventory", inventory()},
        {"--pin-source", std::string("env:") + kPinVar}};
    std::vector<std::string> args{"enrol", "--json"};
    for (const auto& [flag, value] : defaults) {
        // An option in `extra` replaces the default (CLI11 refuses an option given twice).
        if (std::find(extra.begin(), extra.end(), flag) == extra.end())
            args.insert(args.end(), {flag, value});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return attache(args, env);
}

CommandResult EnrolTest::import_certificate(const std::string& serial, const std::string& cert,
                                            const std::vector<std::string>& extra) {
    std::vector<std::string> args{"cert",      "import",       "--module",
                                  module_,     "--token",      uri(serial),
                                  "--in",      cert,           "--inventory",
                                  inventory(), "--pin-source", std::string("env:") + kPinVar,
                                  "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return attache(args);
}

CommandResult EnrolTest::verify_card(const std::string& serial) {
    return attache({"verify-card", "--module", module_, "--token", uri(serial), "--inventory",
                    inventory(), "--pin-source", std::string("env:") + kPinVar, "--json"});
}

nlohmann::json EnrolTest::json_of(const CommandResult& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded()) {
        ADD_FAILURE() << "not JSON:\n" << testing::describe(r);
        return nlohmann::json::object();
    }
    return j;
}

void EnrolTest::make_ca() {
    auto r = testing::run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", path("ca.key"),
                                   "-out", ca_cert(), "-subj", "/O=Ministry/CN=Attache Test CA",
                                   "-days", "30"});
    ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
}

std::string EnrolTest::issue(const std::string& csr, const std::string& name, int days,
                             const std::string& extfile) {
    const std::string cert = path(name);
    std::vector<std::string> argv{"openssl",
                                  "x509",
                                  "-req",
                                  "-in",
                                  csr,
                                  "-CA",
                                  ca_cert(),
                                  "-CAkey",
                                  path("ca.key"),
                                  "-set_serial",
                                  std::to_string(next_serial_++),
                                  "-days",
                                  std::to_string(days),
                                  "-out",
                                  cert};
    if (extfile.empty()) {
        argv.insert(argv.end(), {"-copy_extensions", "copy"});
    } else {
        argv.insert(argv.end(), {"-extfile", extfile});
    }
    auto r = testing::run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << testing::describe(r);
    return cert;
}

std::string EnrolTest::issue_for_outside_key(const std::string& name) {
    const std::string key = path(name + ".key");
    const std::string csr = path(name + ".csr");
    auto r = testing::run_command({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                                   "-subj", "/CN=Mallory", "-addext",
                                   "keyUsage=critical,digitalSignature"});
    EXPECT_EQ(r.exit_code, 0) << testing::describe(r);
    return issue(csr, name + ".pem");
}

std::vector<CardObject> EnrolTest::objects(const std::string& label, bool login) {
    std::vector<std::string> argv{"pkcs11-tool",   "--module", softhsm_module(),
                                  "--token-label", label,      "--list-objects"};
    if (login)
        argv.insert(argv.end(), {"--login", "--pin", testing::SoftHsm::kUserPin});
    auto r = testing::run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << testing::describe(r);
    std::vector<CardObject> out;
    std::istringstream lines(r.out);
    std::string line;
    auto value = [](const std::string& l) {
        size_t colon = l.find(':');
        size_t start = l.find_first_not_of(' ', colon + 1);
        return start == std::string::npos ? std::string() : l.substr(start);
    };
    while (std::getline(lines, line)) {
        if (!line.empty() && line[0] != ' ') {
            size_t obj = line.find(" Object");
            if (obj == std::string::npos)
                obj = line.find(" object");
            if (obj != std::string::npos)
                out.push_back({line.substr(0, obj), "", "", "", ""});
            continue;
        }
        if (out.empty())
            continue;
        if (line.rfind("  label:", 0) == 0)
            out.back().label = value(line);
        else if (line.rfind("  ID:", 0) == 0)
            out.back().id = value(line);
        else if (line.rfind("  Usage:", 0) == 0)
            out.back().usage = value(line);
        else if (line.rfind("  Access:", 0) == 0)
            out.back().access = value(line);
    }
    return out;
}

std::string EnrolTest::snapshot(const std::string& label) {
    std::string s;
    for (const CardObject& o : objects(label))
        s += o.kind + "|" + o.label + "|" + o.id + "|" + o.usage + "|" + o.access + "\n";
    return s;
}

std::string EnrolTest::file_state(const std::string& p) {
    if (!std::filesystem::exists(p))
        return "<absent>";
    return testing::read_file(p);
}

std::string EnrolTest::card_bytes() const {
    std::string all;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(hsm_.dir() / "tokens"))
        if (entry.is_regular_file())
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
        all += f.string() + "\n" + testing::read_file(f) + "\n";
    return all;
}

std::vector<std::string> EnrolTest::card_events() {
    std::vector<std::string> rows;
    std::istringstream lines(
        sql("SELECT event || '|' || reason || '|' || operator_uid || '|' || "
            "ifnull(enrolment_id, '-') FROM card_events ORDER BY id;"));
    for (std::string line; std::getline(lines, line);)
        rows.push_back(line);
    return rows;
}

std::string EnrolTest::sql(const std::string& statement) {
    auto r = testing::run_command({"sqlite3", inventory(), statement});
    EXPECT_EQ(r.exit_code, 0) << testing::describe(r);
    return r.out;
}

}  // namespace attache::enrol_test
