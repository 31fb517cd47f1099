#include "cli/admin/interrupt.h"

#include <signal.h>
#include <unistd.h>

namespace attache::cli::admin {
namespace {

std::atomic<bool> g_requested{false};
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_saved[3];

extern "C" void on_signal(int sig) {
    g_requested.store(true);
    static const char message[] =
        "\nattache: interrupted; stopping once the card is in a consistent state "
        "(interrupt again to quit at once)\n";
    (void)!write(STDERR_FILENO, message, sizeof message - 1);
    // The next signal of this kind takes its default action.
    signal(sig, SIG_DFL);
}

}  // namespace

InterruptGuard::InterruptGuard() {
    g_requested.store(false);
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (size_t i = 0; i < std::size(kSignals); ++i)
        sigaction(kSignals[i], &action, &g_saved[i]);
}

InterruptGuard::~InterruptGuard() {
    for (size_t i = 0; i < std::size(kSignals); ++i)
        sigaction(kSignals[i], &g_saved[i], nullptr);
}

bool InterruptGuard::requested() const {
    return g_requested.load();
}

}  // namespace attache::cli::admin
