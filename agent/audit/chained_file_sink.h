#pragma once

// The audit file the user cannot rewrite: one line per record (record_line.h), each with a
// sequence number and mac_n = HMAC-SHA256(key, mac_{n-1} || line_n before " mac="), where the
// chain starts at a header (type=header, mac_{-1} = 32 zero bytes) naming a random chain id,
// the start time and the first sequence number. Deleting, changing or reordering records, cutting
// off the file's start or adding another file's records shows in `attache audit verify`
// (chain_verify.h); only the key's holder can write records that verify.
//
// At start the sink checks the existing file with its key (all of it: about 3 s of CPU for a
// million records on a test machine, most of it parsing). When the last segment is intact it
// continues it (a type=resume record: the broker restarted). When it is not, it never chains
// onto damage: it starts a new segment with a header saying what it found
// (after_damage_seq=N damage="..."), which verify reports too.
//
// The file is opened O_APPEND | O_CLOEXEC and created mode 0640 (the directory, root's, decides
// who may reach it). Each record is one write(2), so records of concurrent callers never
// interleave; a mutex orders the chain.
//
// fsync policy. An audit record should survive a crash or power loss soon after the operation
// it describes, but a flush costs 2-3 ms on this project's test machines (ext4 on a virtual
// disk), and the broker records before it replies: flushing in record() would add that to
// every client's operation and, records being ordered, cap a busy token near 400 operations a
// second. So by default (FsyncPolicy::background) record() only writes (the line is in the page
// cache, ordered, visible to readers) and a flusher thread runs fdatasync whenever records are
// waiting, one flush for all records written meanwhile. A crash loses at most the records of the
// last flush's few milliseconds, which looks like a chain whose end was cut off (verify cannot
// tell that from a deleted end). each_record flushes before record() returns (the caller waits);
// none leaves it to the kernel (seconds).

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "agent/audit/audit_key.h"
#include "agent/audit/record_line.h"
#include "agent/core/broker/audit_sink.h"
#include "pkcs11/agent_protocol/unique_fd.h"

namespace attache::audit {

enum class FsyncPolicy { background, each_record, none };

class ChainedFileAuditSink : public agent::AuditSink {
  public:
    ~ChainedFileAuditSink() override;
    ChainedFileAuditSink(const ChainedFileAuditSink&) = delete;
    ChainedFileAuditSink& operator=(const ChainedFileAuditSink&) = delete;

    // Opens (or creates) `path`, checks it and writes the header, resume or restart record.
    static Result<std::unique_ptr<ChainedFileAuditSink>> open(const std::string& path, AuditKey key,
                                                              FsyncPolicy fsync);

    // Writes the record; a failure is reported once in the agent's log (and again after a
    // success), never to the client.
    void record(const agent::AuditRecord& record) override;

    // Appends a record of `type` with these fields after seq, chain and time.
    Status append(std::string_view type, const Fields& fields);

    // The outcome of the last write (managed mode may stop serving when audit fails).
    Status last_status() const;

  private:
    ChainedFileAuditSink(std::string path, UniqueFd fd, AuditKey key, FsyncPolicy fsync)
        : path_(std::move(path)), fd_(std::move(fd)), key_(std::move(key)), fsync_(fsync) {}
    Status start(std::string_view existing);
    Status append_locked(std::string_view type, const Fields& fields);
    Status flush();
    void report_locked(const Status& status);
    void flusher();

    const std::string path_;
    const UniqueFd fd_;
    const AuditKey key_;
    const FsyncPolicy fsync_;

    mutable std::mutex mutex_;
    std::string chain_;  // guarded by mutex_
    std::uint64_t next_seq_ = 0;
    Bytes previous_mac_;
    bool newline_first_ = false;  // the file does not end in a newline (a cut-off write)
    Status last_;
    bool failure_reported_ = false;
    bool unflushed_ = false;  // background: records written since the flusher's last flush
    bool stopping_ = false;
    std::condition_variable wake_flusher_;
    std::thread flusher_;  // background only; started last, joined first
};

// The current time as the records show it: RFC 3339 in UTC, to the millisecond.
std::string record_time_now();

}  // namespace attache::audit
