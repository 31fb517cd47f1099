// libFuzzer target for the agent protocol codec: the input is a byte stream as a client could
// send it. It is split into frames twice (all at once, and in small uneven pieces) and both
// splits must agree; every frame goes through decode_request and decode_response; a decoded
// request must re-encode to a frame that decodes again and re-encodes to the same bytes; and
// the response encoders, key helpers and the decisions on sign data, session-binds and
// constraints (ssh_payload_fuzzer.cpp goes deeper into those) run on the decoded fields.
//
// Built as a libFuzzer binary (ATTACHE_FUZZ=ON, clang) and as the plain replay test
// ssh_agent_fuzz_replay (fuzz_replay_main.cpp).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <variant>
#include <vector>

#include "agent/ssh/connection_binding.h"
#include "agent/ssh/constraints.h"
#include "agent/ssh/framing.h"
#include "agent/ssh/keys.h"
#include "agent/ssh/messages.h"
#include "agent/ssh/sign_payload.h"

namespace {

using namespace attache;
using namespace attache::ssh;

#define FUZZ_CHECK(cond)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                       \
        }                                                                                       \
    } while (0)

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

struct Split {
    std::vector<Bytes> frames;
    bool failed = false;
};

void drain(FrameSplitter& splitter, Split& out) {
    while (auto f = splitter.next())
        out.frames.push_back(std::move(*f));
}

Split split_whole(ByteView data) {
    FrameSplitter splitter;
    Split out;
    out.failed = !splitter.feed(data);
    drain(splitter, out);
    FUZZ_CHECK(out.failed == splitter.failed());
    return out;
}

Split split_in_pieces(ByteView data) {
    FrameSplitter splitter;
    Split out;
    size_t piece = 1;
    while (!data.empty()) {
        const size_t n = piece < data.size() ? piece : data.size();
        const bool ok = static_cast<bool>(splitter.feed(data.first(n)));
        drain(splitter, out);
        if (!ok) {
            out.failed = true;
            FUZZ_CHECK(!splitter.feed(data.first(1)));  // stays failed
            break;
        }
        data = data.subspan(n);
        piece = piece % 7 + 1;
    }
    return out;
}

ByteView body_of(const Bytes& frame) {
    FUZZ_CHECK(frame.size() >= 5);
    return ByteView(frame).subspan(4);
}

void check_response_round_trips(const Request& request) {
    std::visit(
        Overloaded{
            [](const SignRequest& m) {
                auto signed_answer = decode_response(body_of(encode_sign_response(m.data)));
                FUZZ_CHECK(signed_answer);
                auto* sign = std::get_if<SignResponse>(&*signed_answer);
                FUZZ_CHECK(sign != nullptr && sign->signature_blob == m.data);

                auto listed = decode_response(body_of(encode_identities({{m.key_blob, "c"}})));
                FUZZ_CHECK(listed);
                auto* ids = std::get_if<IdentitiesAnswer>(&*listed);
                FUZZ_CHECK(ids != nullptr && ids->identities.size() == 1 &&
                           ids->identities[0].key_blob == m.key_blob);

                (void)fingerprint_sha256(m.key_blob);
                (void)authorized_keys_line(m.key_blob, "comment");
                (void)classify_sign_data(m.data, m.key_blob);
                if (auto type = key_type_of_blob(m.key_blob)) {
                    if (auto plan = plan_signature(*type, m.flags, (m.flags & 1) != 0)) {
                        (void)encode_signature(*plan, m.data);
                        if (plan->hash) {
                            const Bytes d = p11::digest(*plan->hash, m.data);
                            FUZZ_CHECK(d.size() == p11::hash_size(*plan->hash));
                        }
                    }
                }
            },
            [](const RemoveIdentity& m) {
                (void)key_type_of_blob(m.key_blob);
                (void)fingerprint_sha256(m.key_blob);
            },
            [](const Extension& m) {
                auto answer =
                    decode_response(body_of(encode_extension_response(m.name, m.contents)));
                FUZZ_CHECK(answer);
                auto* ext = std::get_if<ExtensionResponse>(&*answer);
                FUZZ_CHECK(ext != nullptr && ext->extension == m.name &&
                           ext->contents == m.contents);
                if (auto names = decode_query_names(m.contents)) {
                    auto query = decode_response(body_of(encode_query_response(*names)));
                    FUZZ_CHECK(query);
                    auto* q = std::get_if<ExtensionResponse>(&*query);
                    FUZZ_CHECK(q != nullptr && q->contents == m.contents);
                }
            },
            [](const SessionBind& m) {
                (void)key_type_of_blob(m.hostkey);
                (void)fingerprint_sha256(m.hostkey);
                ConnectionBinding binding;
                const bool bound = static_cast<bool>(binding.bind(m));
                FUZZ_CHECK(bound == binding.bound() && bound != binding.failed());
            },
            [](const AddSmartcardKey& m) {
                if (!m.constraints)
                    return;
                if (auto c = decode_constraints(*m.constraints))
                    FUZZ_CHECK(decode_constraints(encode_constraints(*c)));
            },
            [](const auto&) {},
        },
        request);
}

void exercise_frame(ByteView body) {
    FUZZ_CHECK(!body.empty() && body.size() <= kMaxFrameSize);
    (void)decode_response(body);

    auto request = decode_request(body);
    if (!request) {
        FUZZ_CHECK(!request.error().message().empty());
        return;
    }
    const Bytes once = encode_request(*request);
    FUZZ_CHECK(once.size() <= body.size() + 4);
    auto again = decode_request(body_of(once));
    FUZZ_CHECK(again);
    FUZZ_CHECK(again->index() == request->index());
    FUZZ_CHECK(encode_request(*again) == once);
    check_response_round_trips(*request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
    const ByteView input(data, size);
    const Split whole = split_whole(input);
    const Split pieces = split_in_pieces(input);
    FUZZ_CHECK(whole.failed == pieces.failed);
    FUZZ_CHECK(whole.frames == pieces.frames);
    for (const Bytes& frame : whole.frames)
        exercise_frame(frame);
    // The input taken as one unframed body, too (it is what the splitter would hand over).
    if (!input.empty() && input.size() <= kMaxFrameSize)
        exercise_frame(input);
    return 0;
}
