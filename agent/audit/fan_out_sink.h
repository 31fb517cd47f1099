#pragma once

// Several audit sinks as one: the broker takes one sink, managed mode writes to the agent's
// log, the journal and the chained file. Each record goes to every sink, in the order added;
// one sink's failure (each reports its own) never keeps a record from the others.

#include <memory>
#include <vector>

#include "agent/core/broker/audit_sink.h"

namespace attache::audit {

class FanOutAuditSink : public agent::AuditSink {
  public:
    void add(std::unique_ptr<agent::AuditSink> sink) { sinks_.push_back(std::move(sink)); }
    size_t size() const { return sinks_.size(); }
    void record(const agent::AuditRecord& record) override {
        for (const auto& sink : sinks_)
            sink->record(record);
    }

  private:
    std::vector<std::unique_ptr<agent::AuditSink>> sinks_;  // fixed before the first record
};

}  // namespace attache::audit
