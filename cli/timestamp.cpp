#include "cli/timestamp.h"

namespace attache::cli {

std::string time_string(std::time_t time) {
    std::tm tm{};
    gmtime_r(&time, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace attache::cli
