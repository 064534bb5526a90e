// ratelimit: the form in which every backend stores a key. Depends on core
// (OpenSSL's SHA-256).
//
// A key of at most kMaxStoredKeyBytes is stored as it is; a longer one as '#'
// plus its 32-byte SHA-256 digest, so a flood of long keys costs a bounded
// amount per key, and two long keys share a count only through a SHA-256
// collision.
#pragma once

#include <string>
#include <string_view>

namespace shopd::ratelimit {

std::string StoredKey(std::string_view key);

}  // namespace shopd::ratelimit
