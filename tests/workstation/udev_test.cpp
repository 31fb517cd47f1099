// udev/69-attache.rules: every line parses, every vendor/product line is well-formed and
// named, and udevadm itself, run on synthetic USB devices in a private mount namespace, tags
// readers and listed tokens for the seat's user and asks for the user's agent. With
// udev/68-attache-managed.rules beside it (managed mode), the same devices reach no seat user:
// no "uaccess" tag, so neither 73-seat-late.rules nor logind gives anyone an ACL on them.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kRules = fs::path(ATTACHE_SOURCE_DIR) / "udev/69-attache.rules";
const fs::path kManagedRules = fs::path(ATTACHE_SOURCE_DIR) / "udev/68-attache-managed.rules";

std::vector<std::string> lines_of(const fs::path& p) {
    std::istringstream in(read_file(p));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

TEST(UdevRules, NumberedBeforeUaccessIsApplied) {
    const std::string name = kRules.filename().string();
    ASSERT_TRUE(std::isdigit(static_cast<unsigned char>(name[0])) && name[2] == '-') << name;
    EXPECT_LT(std::stoi(name.substr(0, 2)), 73) << "73-seat-late.rules applies uaccess";
    EXPECT_GT(std::stoi(name.substr(0, 2)), 60) << "after 60-fido-id.rules marks CCID readers";
}

// The grammar of udev rules (udev(7)) for the keys this file may use: comma-separated
// KEY[{attr}] OP "value" pairs; matches take == or !=, assignments = or +=.
TEST(UdevRules, EveryLineParses) {
    const std::regex pair(
        R"re(^(ACTION|SUBSYSTEM|ATTR\{[A-Za-z_/]+\}|ENV\{[A-Z_]+\}|TAG|GOTO|LABEL)(==|!=|\+=|=)\"([^\"]*)\"$)re");
    std::set<std::string> labels, gotos;
    int rules = 0;
    for (const auto& line : lines_of(kRules)) {
        if (line.empty() || line[0] == '#')
            continue;
        ++rules;
        std::string rest = line;
        bool has_match = false, has_action = false;
        while (!rest.empty()) {
            const size_t comma = rest.find("\", ");
            const std::string item = comma == std::string::npos ? rest : rest.substr(0, comma + 1);
            rest = comma == std::string::npos ? "" : rest.substr(comma + 3);
            std::smatch m;
            ASSERT_TRUE(std::regex_match(item, m, pair))
                << "bad pair '" << item << "' in: " << line;
            const std::string key = m[1], op = m[2], value = m[3];
            const bool assign = op == "=" || op == "+=";
            if (key == "ACTION" || key == "SUBSYSTEM") {
                EXPECT_FALSE(assign) << line;
            }
            if (key == "GOTO" || key == "LABEL") {
                EXPECT_EQ(op, "=") << line;
                (key == "GOTO" ? gotos : labels).insert(value);
            }
            if (key.starts_with("ATTR{")) {
                EXPECT_FALSE(assign) << "this file only matches attributes: " << line;
            }
            (assign ? has_action : has_match) = true;
        }
        EXPECT_TRUE(has_action || line.starts_with("LABEL="))
            << "a rule that does nothing: " << line;
    }
    EXPECT_GT(rules, 5);
    for (const auto& g : gotos)
        EXPECT_TRUE(labels.count(g)) << "GOTO without LABEL: " << g;
}

TEST(UdevRules, EachVendorProductLineIsWellFormedAndNamed) {
    const std::regex device(
        R"re(^ATTR\{idVendor\}=="([0-9a-f]{4})", ATTR\{idProduct\}=="([0-9a-f]{4})", ENV\{ATTACHE_DEVICE\}="token"$)re");
    const auto lines = lines_of(kRules);
    std::set<std::string> seen;
    int devices = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].find("idVendor") == std::string::npos || lines[i][0] == '#')
            continue;
        std::smatch m;
        ASSERT_TRUE(std::regex_match(lines[i], m, device)) << "line " << i + 1 << ": " << lines[i];
        EXPECT_TRUE(seen.insert(m[1].str() + ":" + m[2].str()).second) << "duplicate: " << lines[i];
        ASSERT_GT(i, 0u);
        EXPECT_TRUE(lines[i - 1].starts_with("# ") && lines[i - 1].size() > 6)
            << "line " << i + 1 << " needs a comment naming the device above it";
        ++devices;
    }
    EXPECT_GE(devices, 3);
    EXPECT_TRUE(seen.count("1050:0030")) << "YubiHSM 2";
    EXPECT_TRUE(seen.count("20a0:4230")) << "Nitrokey HSM";
}

// ---- udevadm on synthetic devices -----------------------------------------------------------

// A USB device in a fake sysfs tree: uevent, attributes and the descriptors udev's usb_id
// reads (device, configuration, one interface of `interface_class`, two endpoints).
fs::path make_usb_device(const fs::path& sys, uint16_t vendor, uint16_t product,
                         uint8_t interface_class) {
    const fs::path dev = sys / "devices/pci0000:00/0000:00:14.0/usb1/1-1";
    fs::create_directories(dev);
    fs::create_directories(sys / "bus/usb");
    char id[16];
    std::snprintf(id, sizeof id, "%04x/%04x", vendor, product);
    // With a device node (MAJOR, DEVNAME), as real USB devices have: udev then applies
    // GROUP/MODE and 73-seat-late.rules asks for the seat user's ACL.
    write_file(dev / "uevent", std::string("MAJOR=189\nMINOR=5\nDEVNAME=bus/usb/001/006\n"
                                           "DEVTYPE=usb_device\nPRODUCT=") +
                                   id + "/100\nTYPE=0/0/0\nBUSNUM=001\nDEVNUM=006\n");
    fs::create_directory_symlink("../../../../bus/usb", dev / "subsystem");
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04x\n", vendor);
    write_file(dev / "idVendor", hex);
    std::snprintf(hex, sizeof hex, "%04x\n", product);
    write_file(dev / "idProduct", hex);
    write_file(dev / "bcdDevice", "0100\n");
    write_file(dev / "bDeviceClass", "00\n");
    write_file(dev / "bNumInterfaces", " 1\n");
    write_file(dev / "bConfigurationValue", "1\n");
    const uint8_t d[] = {
        18,
        1,
        0x00,
        0x02,
        0,
        0,
        0,
        64,
        uint8_t(vendor),
        uint8_t(vendor >> 8),
        uint8_t(product),
        uint8_t(product >> 8),
        0x00,
        0x01,
        1,
        2,
        3,
        1,
        9,
        2,
        9 + 9 + 7 + 7,
        0,
        1,
        1,
        0,
        0x80,
        50,
        9,
        4,
        0,
        0,
        2,
        interface_class,
        0,
        0,
        0,
        7,
        5,
        0x81,
        2,
        64,
        0,
        0,
        7,
        5,
        0x02,
        2,
        64,
        0,
        0,
    };
    write_file(dev / "descriptors", std::string(reinterpret_cast<const char*>(d), sizeof d));
    return dev;
}

struct UdevResult {
    bool ran = false;
    std::string output;
    std::string property(const std::string& name) const {
        const size_t at = output.find("\n" + name + "=");
        if (at == std::string::npos)
            return {};
        const size_t start = at + name.size() + 2;
        return output.substr(start, output.find('\n', start) - start);
    }
};

// Runs `udevadm test` on the device with `rules` in /etc/udev/rules.d, all inside a private
// mount namespace so that neither the fake /sys, udev's database nor the /dev/char links it
// makes touch the machine. The
// namespace's /etc/group has the broker's group `attache` (appended if this machine lacks it),
// so that GROUP="attache" resolves.
UdevResult udevadm_test(uint16_t vendor, uint16_t product, uint8_t interface_class,
                        const std::vector<fs::path>& rules = {kRules}) {
    TempDir dir;
    const fs::path sys = dir / "sys";
    const fs::path dev = make_usb_device(sys, vendor, product, interface_class);
    fs::create_directory(dir / "rules");
    for (const auto& file : rules)
        fs::copy_file(file, dir / "rules" / file.filename());
    std::string groups = read_file("/etc/group");
    if (groups.find("\nattache:") == std::string::npos && groups.rfind("attache:", 0) != 0)
        groups += "attache:x:64999:\n";
    write_file(dir / "group", groups);
    const std::string devpath = "/sys" + dev.string().substr(sys.string().size());
    const std::string script =
        "set -e; mkdir -p /run/udev /etc/udev/rules.d; mount --bind '" + sys.string() +
        "' /sys; mount -t tmpfs none /run/udev; mount --bind '" + (dir / "rules").string() +
        "' /etc/udev/rules.d; mount --bind '" + (dir / "group").string() +
        "' /etc/group; mount -t tmpfs none /dev; mknod -m 666 /dev/null c 1 3 || touch /dev/null; "
        "SYSTEMD_DEVICE_VERIFY_SYSFS=0 udevadm test --action=add '" +
        devpath + "' 2>&1";
    auto r = run_command({"unshare", "-m", "--propagation", "private", "sh", "-c", script});
    UdevResult out;
    out.ran = r.exit_code == 0 && r.out.find("\nDEVPATH=") != std::string::npos;
    out.output = "\n" + r.out + r.err;
    return out;
}

UdevResult managed_udevadm_test(uint16_t vendor, uint16_t product, uint8_t interface_class) {
    return udevadm_test(vendor, product, interface_class, {kManagedRules, kRules});
}

// udevadm's complaints about a rules file start their line with its path (what a device's
// rules do starts with the device's name instead).
bool complains_about(const UdevResult& r, const std::string& rules_file) {
    return r.output.find("\n/etc/udev/rules.d/" + rules_file + ":") != std::string::npos;
}

// Whether systemd's 73-seat-late.rules asked for the uaccess builtin (the seat user's ACL).
bool seat_user_gets_acl(const UdevResult& r) {
    return r.output.find("73-seat-late.rules") != std::string::npos &&
           r.output.find("RUN 'uaccess'") != std::string::npos;
}

class UdevadmTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!fs::exists("/usr/bin/udevadm") && !fs::exists("/bin/udevadm"))
            GTEST_SKIP() << "udevadm is not installed (package udev)";
        if (run_command({"unshare", "-m", "true"}).exit_code != 0)
            GTEST_SKIP() << "cannot make a mount namespace here (needs root)";
    }
};

TEST_F(UdevadmTest, RulesLoadWithoutComplaint) {
    auto r = udevadm_test(0x1050, 0x0030, 0xff);
    ASSERT_TRUE(r.ran) << r.output;
    // udevadm names every rules line it cannot use.
    EXPECT_FALSE(complains_about(r, "69-attache.rules")) << r.output;
}

TEST_F(UdevadmTest, CcidReaderIsForTheSeatUserAndStartsTheAgent) {
    auto r = udevadm_test(0x072f, 0x90cc, 0x0b);  // a CCID-class reader not on our list
    ASSERT_TRUE(r.ran) << r.output;
    EXPECT_EQ(r.property("ATTACHE_DEVICE"), "ccid") << r.output;
    EXPECT_NE(r.property("TAGS").find(":uaccess:"), std::string::npos) << r.output;
    EXPECT_NE(r.property("TAGS").find(":systemd:"), std::string::npos) << r.output;
    EXPECT_NE(r.property("SYSTEMD_USER_WANTS").find("attache-agent.service"), std::string::npos)
        << r.output;
}

TEST_F(UdevadmTest, ListedTokenWithoutCcidClassIsForTheSeatUserAndStartsTheAgent) {
    auto r = udevadm_test(0x1050, 0x0030, 0xff);  // YubiHSM 2: vendor-specific class
    ASSERT_TRUE(r.ran) << r.output;
    EXPECT_EQ(r.property("ATTACHE_DEVICE"), "token") << r.output;
    EXPECT_NE(r.property("TAGS").find(":uaccess:"), std::string::npos) << r.output;
    EXPECT_NE(r.property("SYSTEMD_USER_WANTS").find("attache-agent.service"), std::string::npos)
        << r.output;
}

TEST_F(UdevadmTest, OtherDevicesAreLeftAlone) {
    auto r = udevadm_test(0x1234, 0x5678, 0xff);
    ASSERT_TRUE(r.ran) << r.output;
    EXPECT_EQ(r.property("ATTACHE_DEVICE"), "") << r.output;
    EXPECT_EQ(r.property("SYSTEMD_USER_WANTS").find("attache-agent"), std::string::npos)
        << r.output;
}

TEST_F(UdevadmTest, ManagedRulesLoadWithoutComplaint) {
    auto r = managed_udevadm_test(0x1050, 0x0030, 0xff);
    ASSERT_TRUE(r.ran) << r.output;
    EXPECT_FALSE(complains_about(r, "68-attache-managed.rules")) << r.output;
    EXPECT_FALSE(complains_about(r, "69-attache.rules")) << r.output;
}

// The check that the personal rules do give the ACL: without it the managed tests below would
// pass on a machine whose udev never asks for one.
TEST_F(UdevadmTest, PersonalRulesGiveTheSeatUserAnAcl) {
    auto r = udevadm_test(0x072f, 0x90cc, 0x0b);
    ASSERT_TRUE(r.ran) << r.output;
    EXPECT_TRUE(seat_user_gets_acl(r)) << r.output;
}

TEST_F(UdevadmTest, ManagedCcidReaderReachesNoSeatUser) {
    auto r = managed_udevadm_test(0x072f, 0x90cc, 0x0b);
    ASSERT_TRUE(r.ran) << r.output;
    EXPECT_EQ(r.property("ATTACHE_MANAGED_DEVICE"), "1") << r.output;
    EXPECT_EQ(r.property("TAGS").find(":uaccess:"), std::string::npos) << r.output;
    EXPECT_FALSE(seat_user_gets_acl(r)) << r.output;
    EXPECT_EQ(r.property("SYSTEMD_USER_WANTS").find("attache-agent"), std::string::npos)
        << r.output;
    // pcscd's start point stays.
    EXPECT_NE(r.property("SYSTEMD_WANTS").find("smartcard.target"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("68-attache-managed.rules:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("MODE 0660"), std::string::npos) << r.output;
}

TEST_F(UdevadmTest, ManagedListedTokenReachesNoSeatUser) {
    auto r = managed_udevadm_test(0x1050, 0x0030, 0xff);  // YubiHSM 2
    ASSERT_TRUE(r.ran) << r.output;
    EXPECT_EQ(r.property("ATTACHE_MANAGED_DEVICE"), "1") << r.output;
    EXPECT_EQ(r.property("ATTACHE_DEVICE"), "") << r.output;
    EXPECT_EQ(r.property("TAGS").find(":uaccess:"), std::string::npos) << r.output;
    EXPECT_FALSE(seat_user_gets_acl(r)) << r.output;
}

TEST_F(UdevadmTest, ManagedRulesLeaveOtherDevicesAlone) {
    auto r = managed_udevadm_test(0x1234, 0x5678, 0xff);
    ASSERT_TRUE(r.ran) << r.output;
    EXPECT_EQ(r.property("ATTACHE_MANAGED_DEVICE"), "") << r.output;
    EXPECT_EQ(r.output.find("68-attache-managed.rules:"), std::string::npos) << r.output;
}

// Every USB token the personal rules list is also taken off the seat by the managed rules.
TEST(UdevRules, ManagedRulesCoverEveryListedToken) {
    const std::regex pair(
        R"re(ATTR\{idVendor\}=="([0-9a-f]{4})", ATTR\{idProduct\}=="([0-9a-f]{4})")re");
    auto pairs = [&](const fs::path& p) {
        std::set<std::string> out;
        for (const auto& line : lines_of(p)) {
            std::smatch m;
            if (std::regex_search(line, m, pair))
                out.insert(m[1].str() + ":" + m[2].str());
        }
        return out;
    };
    const auto personal = pairs(kRules);
    const auto managed = pairs(kManagedRules);
    ASSERT_FALSE(personal.empty());
    for (const auto& id : personal)
        EXPECT_TRUE(managed.count(id))
            << id << " is in 69-attache.rules but not 68-attache-managed.rules";
}

}  // namespace
}  // namespace attache::testing
