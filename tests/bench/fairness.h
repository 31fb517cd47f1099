#pragma once

// Fairness on a one-session card (issue 17): through an agent whose token has one session and
// whose card takes `delay_ms` per signature (the fault token's delay on C_Sign), client A — one
// process, this one — sends a burst of sign requests at one instant, one connection each, and
// client B — another process, a worker — sends one request just after. Per-client fair
// queueing in the agent's session pool should serve B after about one of A's operations, not
// after A's whole burst.

#include "tests/bench/environment.h"
#include "tests/bench/report.h"
#include "tests/bench/runner.h"

namespace attache::bench {

// One repetition on the fairness agent (Environment::start_fairness_agent). `b_process` holds
// at least one worker process; the card's delay is set for the burst and cleared after.
FairnessSample fairness_sample(Environment& env, WorkerPool& b_process, int burst, int delay_ms);

}  // namespace attache::bench
