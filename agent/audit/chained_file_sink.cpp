#include "agent/audit/chained_file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "agent/audit/audit_file.h"
#include "agent/audit/chain_verify.h"
#include "agent/core/log.h"

namespace attache::audit {
namespace {

inline constexpr size_t kChainIdBytes = 16;

}  // namespace

std::string record_time_now() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    std::tm utc{};
    gmtime_r(&now.tv_sec, &utc);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03ldZ", date, now.tv_nsec / 1000000);
    return out;
}

Result<std::unique_ptr<ChainedFileAuditSink>> ChainedFileAuditSink::open(const std::string& path,
                                                                         AuditKey key,
                                                                         FsyncPolicy fsync) {
    UniqueFd fd(::open(path.c_str(),
                       O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640));
    if (!fd.valid())
        return Error("cannot open the audit file " + path + ": " + std::strerror(errno));
    ATTACHE_TRY(std::string existing, read_whole(fd.get(), path));
    // A new file gets 0640 whatever the umask; an existing one keeps what the admin chose.
    if (existing.empty() && ::fchmod(fd.get(), 0640) != 0)
        return Error("cannot set the mode of " + path + ": " + std::strerror(errno));
    std::unique_ptr<ChainedFileAuditSink> sink(
        new ChainedFileAuditSink(path, std::move(fd), std::move(key), fsync));
    {
        std::lock_guard lock(sink->mutex_);
        ATTACHE_CHECK(sink->start(existing));
    }
    if (fsync != FsyncPolicy::none)
        ATTACHE_CHECK(sink->flush());
    if (fsync == FsyncPolicy::background)
        sink->flusher_ = std::thread([s = sink.get()] { s->flusher(); });
    return sink;
}

ChainedFileAuditSink::~ChainedFileAuditSink() {
    if (flusher_.joinable()) {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_flusher_.notify_one();
        flusher_.join();
    }
}

Status ChainedFileAuditSink::flush() {
    if (::fdatasync(fd_.get()) != 0)
        return Error("cannot flush the audit file " + path_ + ": " + std::strerror(errno));
    return ok();
}

// Flushes whatever was written, until stopped; the last records are flushed before it ends.
void ChainedFileAuditSink::flusher() {
    std::unique_lock lock(mutex_);
    while (true) {
        wake_flusher_.wait(lock, [this] { return unflushed_ || stopping_; });
        if (!unflushed_)
            return;
        unflushed_ = false;
        lock.unlock();
        const Status flushed = flush();  // records written meanwhile wait for the next round
        lock.lock();
        if (!flushed)
            report_locked(flushed);
    }
}

Status ChainedFileAuditSink::start(std::string_view existing) {
    if (existing.empty()) {
        ATTACHE_TRY(chain_, random_hex(kChainIdBytes));
        next_seq_ = 0;
        previous_mac_.assign(kMacBytes, 0);
        return append_locked("header", {{"format", "1"}});
    }
    const ChainReport report = verify_chain(existing, &key_);
    newline_first_ = !report.ends_in_newline;
    if (report.tail_intact) {
        chain_ = report.tail_chain;
        next_seq_ = report.tail_seq + 1;
        previous_mac_ = report.tail_mac;
        return append_locked("resume", {});
    }
    // Never chain onto damage: a new segment, saying what was found.
    const ChainProblem& problem = *report.problem;
    const std::string at =
        problem.seq ? std::to_string(*problem.seq) : "line " + std::to_string(problem.line);
    agent::log_error("audit: the audit file " + path_ + " is damaged (" + problem.message +
                     "): restarting its chain; run `attache audit verify " + path_ + "`");
    ATTACHE_TRY(chain_, random_hex(kChainIdBytes));
    next_seq_ = report.max_seq + 1;
    previous_mac_.assign(kMacBytes, 0);
    return append_locked("header",
                         {{"format", "1"}, {"after_damage_seq", at}, {"damage", problem.message}});
}

Status ChainedFileAuditSink::append_locked(std::string_view type, const Fields& extra) {
    Fields fields{{"seq", std::to_string(next_seq_)},
                  {"chain", chain_},
                  {"time", record_time_now()},
                  {"type", std::string(type)}};
    fields.insert(fields.end(), extra.begin(), extra.end());
    const std::string body = encode_body(fields);
    const Bytes mac = key_.chain_mac(previous_mac_, body);
    std::string line = (newline_first_ ? "\n" : "") + encode_line(body, mac) + "\n";
    if (auto written = write_all(fd_.get(), line); !written) {
        // Whatever part reached the file is damage the next record must not continue on.
        newline_first_ = true;
        return Error("cannot write to the audit file " + path_ + ": " + written.error().message());
    }
    // The record is in the file: the chain goes on from it, flushed or not.
    newline_first_ = false;
    previous_mac_ = mac;
    ++next_seq_;
    unflushed_ = true;
    return ok();
}

Status ChainedFileAuditSink::append(std::string_view type, const Fields& fields) {
    Status status;
    {
        std::lock_guard lock(mutex_);
        status = append_locked(type, fields);
        if (!status || fsync_ != FsyncPolicy::each_record) {
            report_locked(status);
            if (status && fsync_ == FsyncPolicy::background)
                wake_flusher_.notify_one();
            return status;
        }
    }
    // each_record: outside the lock, so that concurrent callers share the disk's flushes.
    status = flush();
    std::lock_guard lock(mutex_);
    report_locked(status);
    return status;
}

void ChainedFileAuditSink::report_locked(const Status& status) {
    last_ = status;
    if (!status && !failure_reported_) {
        failure_reported_ = true;
        agent::log_error("audit: " + status.error().message() +
                         ": audit records are not being kept");
    } else if (status && failure_reported_) {
        failure_reported_ = false;
        agent::log_info("audit: writing to the audit file " + path_ + " again");
    }
}

void ChainedFileAuditSink::record(const agent::AuditRecord& record) {
    (void)append("op", agent::audit_fields(record));
}

Status ChainedFileAuditSink::last_status() const {
    std::lock_guard lock(mutex_);
    return last_;
}

}  // namespace attache::audit
