#pragma once

#include "tests/faulttoken/control_block.h"

namespace attache::faulttoken {

// Holds ControlBlock::writer_lock (a spin lock shared across processes) while it lives. A holder
// that died would keep the lock forever, so after waiting about a second it is taken anyway.
class WriterLock {
  public:
    explicit WriterLock(ControlBlock& block);
    ~WriterLock();
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

  private:
    ControlBlock& block_;
};

}  // namespace attache::faulttoken
