#include "cli/admin/confirm.h"

#include <fcntl.h>
#include <unistd.h>

#include <optional>

#include "cli/admin/failure.h"

namespace attache::cli::admin {
namespace {

// The operator's typed answer, from the terminal; nullopt without one.
std::optional<std::string> ask(const std::string& question) {
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (tty < 0)
        return std::nullopt;
    (void)!write(tty, question.data(), question.size());
    std::string answer;
    char c;
    while (read(tty, &c, 1) == 1 && c != '\n')
        answer += c;
    close(tty);
    while (!answer.empty() && (answer.back() == '\r' || answer.back() == ' '))
        answer.pop_back();
    return answer;
}

}  // namespace

void confirm_serial(const std::string& what, const std::string& serial, const std::string& given,
                    const std::string& nothing_changed) {
    if (serial.empty())
        fail(kUsage, "the card reports no serial number, so there is nothing to confirm it by; " +
                         nothing_changed);
    std::optional<std::string> answer = given;
    if (given.empty()) {
        answer = ask(what + ".\nType the card's serial number (" + serial + ") to go on: ");
        if (!answer)
            fail(kUsage, "no terminal to confirm on; give --confirm " + serial +
                             " to confirm in advance; " + nothing_changed);
    }
    if (*answer != serial)
        fail(kCancelled, "the confirmation does not match the card's serial number " + serial +
                             "; " + nothing_changed);
}

}  // namespace attache::cli::admin
