// core: timestamps as clients see them, RFC 3339 in UTC. Depends on nothing.
#pragma once

#include <cstdint>
#include <string>

namespace shopd::core {

// "2026-11-25T15:04:05Z"
std::string Rfc3339(int64_t unix_s);
// "2026-11-25T15:04:05.123Z"
std::string Rfc3339Millis(int64_t unix_ms);

}  // namespace shopd::core
