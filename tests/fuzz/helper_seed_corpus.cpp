// Writes (or checks) the seed corpora of the module-helper fuzzers: every request the client
// sends (one per call of helper_client_driver), the reply the helper's dispatcher gives it over
// the stub module (prefixed with the call's index, as helper_reply_fuzzer reads it), and a few
// malformed inputs. `check` (a ctest test) fails when a committed seed is missing or differs.
// Other files in the directories (crash regressions) are left alone.
//
// Usage: helper_seed_corpus write|check CALL_DIR REPLY_DIR

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "pkcs11/module_helper/server/call_dispatch.h"
#include "pkcs11/module_helper/wire/field_writer.h"
#include "tests/fuzz/helper_client_driver.h"
#include "tests/fuzz/helper_stub_module.h"

namespace {

namespace fs = std::filesystem;
namespace helper = attache::p11::module_helper;
using Bytes = std::vector<uint8_t>;

struct Seed {
    std::string name;
    Bytes body;
};

Bytes payload_of(const helper::FrameBuffer& frame) {
    return Bytes(frame.bytes().begin() + helper::kLengthPrefix, frame.bytes().end());
}

// Records the request and answers it with the dispatcher over the stub module.
class RecordingChannel : public helper::CallChannel {
  public:
    std::optional<helper::FrameBuffer> round_trip(helper::CallId, helper::FrameBuffer request,
                                                  helper::CallTiming) override {
        requests.push_back(payload_of(request));
        Bytes copy = requests.back();
        auto reply = helper::dispatch_call(attache::fuzz::stub_module(), copy);
        if (!reply)
            return std::nullopt;
        replies.push_back(payload_of(*reply));
        helper::FrameBuffer out;
        out.append(replies.back().data(), replies.back().size());
        return out;
    }
    std::vector<Bytes> requests;
    std::vector<Bytes> replies;
};

std::string numbered(size_t n, const std::string& name) {
    char prefix[8];
    std::snprintf(prefix, sizeof prefix, "%02zu-", n);
    return prefix + name;
}

void seeds(std::vector<Seed>& calls, std::vector<Seed>& replies) {
    for (size_t i = 0; i < attache::fuzz::client_call_count(); ++i) {
        RecordingChannel ch;
        attache::fuzz::run_client_call(i, ch);
        for (size_t r = 0; r < ch.requests.size() && r < 1; ++r) {
            auto header = helper::read_frame_header(ch.requests[r]);
            const std::string name(helper::call_name(static_cast<helper::CallId>(header->call)));
            calls.push_back({numbered(calls.size() + 1, name), ch.requests[r]});
            Bytes reply{static_cast<uint8_t>(i)};
            reply.insert(reply.end(), ch.replies[r].begin(), ch.replies[r].end());
            replies.push_back({numbered(replies.size() + 1, name), reply});
        }
    }
    const Bytes sign = calls.at(25).body;
    calls.push_back({numbered(calls.size() + 1, "bad-short-header"), Bytes{0, 0, 0, 1, 0}});
    calls.push_back(
        {numbered(calls.size() + 1, "bad-unknown-call"), Bytes{0, 0, 0, 1, 0x7f, 0x7f}});
    calls.push_back({numbered(calls.size() + 1, "bad-truncated-sign"),
                     Bytes(sign.begin(), sign.begin() + sign.size() / 2)});
    Bytes huge = sign;
    huge[huge.size() - 1] = 0xff;  // capacity's low byte
    huge[huge.size() - 5] = 0xff;
    calls.push_back({numbered(calls.size() + 1, "bad-huge-capacity"), huge});
    const Bytes sign_reply = replies.at(27).body;
    replies.push_back({numbered(replies.size() + 1, "bad-truncated-sign"),
                       Bytes(sign_reply.begin(), sign_reply.begin() + sign_reply.size() / 2)});
    Bytes busy = {27, 0, 0, 0, 0, 0, 3};
    replies.push_back({numbered(replies.size() + 1, "busy"), busy});
    // The stub's Init calls all succeed: a combined call whose Init call failed (rv, the init
    // stage, no output), for the first combined call of the driver (the fourth from the end).
    helper::FieldWriter init_failed(helper::CallId::SignInitAndSign);
    init_failed.ulong(CKR_KEY_HANDLE_INVALID);
    init_failed.ulong(static_cast<CK_ULONG>(helper::CallStage::init));
    Bytes failed{static_cast<uint8_t>(attache::fuzz::client_call_count() - 4)};
    const Bytes failed_payload = payload_of(*init_failed.finish());
    failed.insert(failed.end(), failed_payload.begin(), failed_payload.end());
    replies.push_back({numbered(replies.size() + 1, "combined-init-failed"), failed});
}

bool write_or_check(bool write, const fs::path& dir, const std::vector<Seed>& list) {
    bool ok = true;
    if (write)
        fs::create_directories(dir);
    for (const auto& s : list) {
        const fs::path path = dir / s.name;
        if (write) {
            std::ofstream(path, std::ios::binary)
                .write(reinterpret_cast<const char*>(s.body.data()),
                       static_cast<std::streamsize>(s.body.size()));
            continue;
        }
        std::ifstream in(path, std::ios::binary);
        const Bytes got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) {
            std::fprintf(stderr, "helper_seed_corpus: %s is missing\n", path.c_str());
            ok = false;
        } else if (got != s.body) {
            std::fprintf(stderr, "helper_seed_corpus: %s is stale (run write)\n", path.c_str());
            ok = false;
        }
    }
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 || (std::strcmp(argv[1], "write") != 0 && std::strcmp(argv[1], "check") != 0)) {
        std::fprintf(stderr, "usage: helper_seed_corpus write|check CALL_DIR REPLY_DIR\n");
        return 2;
    }
    const bool write = std::strcmp(argv[1], "write") == 0;
    std::vector<Seed> calls, replies;
    seeds(calls, replies);
    const bool ok = write_or_check(write, argv[2], calls) & write_or_check(write, argv[3], replies);
    return ok ? 0 : 1;
}
