// stream::LatencyHistory and stream::wait_until_due (pkcs11/stream/reply_wait.h): how the
// prediction of a reply's arrival moves with what each wait saw, and what a wait reports for
// data that is there, never comes, or cannot be predicted. No test asserts how long a wait took.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/stream/reply_wait.h"
#include "tests/support/socket_pair.h"

namespace attache::stream {
namespace {

constexpr uint64_t kSign = 1;
constexpr uint64_t kDecrypt = 2;

TEST(LatencyHistory, UnknownKindIsNotPredicted) {
    LatencyHistory h;
    EXPECT_EQ(h.expected(kSign), Micros(0));
    h.record(kSign, Micros(100), Arrival::unpredicted);
    EXPECT_EQ(h.expected(kSign), Micros(100));
    EXPECT_EQ(h.expected(kDecrypt), Micros(0));
}

TEST(LatencyHistory, AnswerWhileSleepingMovesThePredictionEarlierByHalfAWindow) {
    LatencyHistory h;
    h.record(kSign, Micros(150), Arrival::unpredicted);
    h.record(kSign, Micros(150), Arrival::early);
    EXPECT_EQ(h.expected(kSign), Micros(150) - kSpinWindow / 2);
    // An early answer faster than the prediction starts from the answer.
    h.record(kSign, Micros(60), Arrival::early);
    EXPECT_EQ(h.expected(kSign), Micros(60) - kSpinWindow / 2);
}

TEST(LatencyHistory, AnswersWhilePollingAreAveragedAndASlowerOneCountsAtOnce) {
    LatencyHistory h;
    h.record(kSign, Micros(100), Arrival::unpredicted);
    h.record(kSign, Micros(20), Arrival::due);
    EXPECT_EQ(h.expected(kSign), Micros(90));  // an eighth of the way down
    h.record(kSign, Micros(300), Arrival::due);
    EXPECT_EQ(h.expected(kSign), Micros(300));
}

TEST(LatencyHistory, LateAnswerMovesHalfWay) {
    LatencyHistory h;
    h.record(kSign, Micros(100), Arrival::unpredicted);
    h.record(kSign, Micros(300), Arrival::late);
    EXPECT_EQ(h.expected(kSign), Micros(200));
}

TEST(LatencyHistory, ContentionPausesPredictionWithExponentialBackoff) {
    LatencyHistory h;
    h.record(kSign, Micros(100), Arrival::unpredicted);
    h.record(kSign, Micros(100), Arrival::contended);
    EXPECT_EQ(h.expected(kSign), Micros(0)) << "the next wait sleeps";
    h.record(kSign, Micros(170), Arrival::unpredicted);
    EXPECT_EQ(h.expected(kSign), Micros(100)) << "one wait, and the mean is kept";
    h.record(kSign, Micros(100), Arrival::contended);
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(h.expected(kSign), Micros(0)) << "wait " << i << " of 2";
        h.record(kSign, Micros(170), Arrival::unpredicted);
    }
    EXPECT_EQ(h.expected(kSign), Micros(100));
    // A poll that saw its answer ends the backoff: the next contention pauses one wait again.
    h.record(kSign, Micros(100), Arrival::due);
    h.record(kSign, Micros(100), Arrival::contended);
    h.record(kSign, Micros(170), Arrival::unpredicted);
    EXPECT_EQ(h.expected(kSign), Micros(100));
}

TEST(LatencyHistory, BackoffIsBounded) {
    LatencyHistory h;
    h.record(kSign, Micros(100), Arrival::unpredicted);
    for (int i = 0; i < 20; ++i)
        h.record(kSign, Micros(100), Arrival::contended);
    uint32_t paused = 0;
    while (h.expected(kSign) == Micros(0) && paused < 10 * LatencyHistory::kMaxPause) {
        h.record(kSign, Micros(100), Arrival::unpredicted);
        ++paused;
    }
    EXPECT_EQ(paused, LatencyHistory::kMaxPause);
}

TEST(LatencyHistory, RemembersTheMostRecentKinds) {
    LatencyHistory h;
    for (uint64_t kind = 1; kind <= 40; ++kind)
        h.record(kind, Micros(kind), Arrival::unpredicted);
    EXPECT_EQ(h.expected(40), Micros(40));
    EXPECT_EQ(h.expected(25), Micros(25));
    EXPECT_EQ(h.expected(1), Micros(0)) << "forgotten";
}

using testing::socket_pair;

TEST(WaitUntilDue, NoPredictionMeansTheCallerSleeps) {
    auto p = socket_pair();
    EXPECT_EQ(wait_until_due(p.reader.get(), Micros(0)), Arrival::unpredicted);
    EXPECT_EQ(wait_until_due(p.reader.get(), kLongestPredictedWait + Micros(1)),
              Arrival::unpredicted);
}

TEST(WaitUntilDue, DataAlreadyThereEndsTheWait) {
    auto p = socket_pair();
    ASSERT_EQ(write(p.writer.get(), "x", 1), 1);
    const Arrival a = wait_until_due(p.reader.get(), Micros(1000));
    EXPECT_TRUE(a == Arrival::early || a == Arrival::due) << static_cast<int>(a);
    EXPECT_EQ(wait_until_due(p.reader.get(), Micros(10)), Arrival::due);
}

TEST(WaitUntilDue, DataThatNeverComesIsLateAndTheWaitEnds) {
    auto p = socket_pair();
    const Arrival a = wait_until_due(p.reader.get(), Micros(200));
    EXPECT_TRUE(a == Arrival::late || a == Arrival::contended) << static_cast<int>(a);
}

TEST(WaitUntilDue, PeerClosingEndsTheWait) {
    auto p = socket_pair();
    p.writer.reset();
    const Arrival a = wait_until_due(p.reader.get(), Micros(1000));
    EXPECT_TRUE(a == Arrival::early || a == Arrival::due) << static_cast<int>(a);
}

}  // namespace
}  // namespace attache::stream
