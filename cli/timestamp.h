#pragma once

// The one format of times the CLI prints, in text and JSON: RFC 3339 in UTC, to the second,
// "2026-12-01T20:48:58Z".

#include <ctime>
#include <string>

namespace attache::cli {

std::string time_string(std::time_t time);

}  // namespace attache::cli
