#pragma once

// Assertions on commands the tests run (tests/support/command.h).

#include <gtest/gtest.h>

#include <string>

#include "tests/support/command.h"

namespace attache::testing {

// A fatal failure of the calling function unless `r` exited with 0; `what` says which step.
inline void must(const CommandResult& r, const std::string& what) {
    ASSERT_EQ(r.exit_code, 0) << what << ": " << describe(r);
}

}  // namespace attache::testing
