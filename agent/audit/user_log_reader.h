#pragma once

// `attache log` in managed mode: the broker reads its chained audit file (user_records.h) and
// answers each caller with its own operation records only.

#include <string>

#include "agent/core/broker/audit_sink.h"

namespace attache::audit {

class ChainedFileLogReader : public agent::UserAuditReader {
  public:
    explicit ChainedFileLogReader(std::string path) : path_(std::move(path)) {}
    Result<std::vector<agent::UserAuditRecord>> records_of(uid_t uid, size_t max_records) override;

  private:
    const std::string path_;
};

}  // namespace attache::audit
