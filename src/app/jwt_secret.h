// app: the HMAC key that signs access tokens: from SHOPD_JWT_SECRET, or
// generated once and kept in the data directory.
//
//   auto key = LoadOrCreateJwtSecret(data_dir, EnvValue("SHOPD_JWT_SECRET"));
//   if (!key) { print key.error().message (it names the fix); exit non-zero; }
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace shopd::app {

// HS256 keys shorter than the hash output (32 bytes) weaken it (RFC 7518 §3.2).
inline constexpr size_t kMinJwtKeyBytes = 32;

// Decodes a SHOPD_JWT_SECRET value into key bytes:
//   "base64:<text>"  RFC 4648 base64, standard or URL-safe alphabet, padding optional;
//   "hex:<text>"     hex digits, either case;
//   anything else    the bytes exactly as given (no trimming).
// Fails, naming the fix, when the encoding is malformed or the key has fewer
// than kMinJwtKeyBytes bytes once decoded.
core::Result<std::string> DecodeJwtSecret(std::string_view value);

// The decoded `from_env` when it is set and not empty. Otherwise the key kept in
// <dir>/jwt_secret: a 256-bit key generated on first start, so tokens survive
// restarts and every worker process shares it. The file is created with
// O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600, race-free across processes. An
// existing file is used only if it is a regular file (never a symbolic link)
// owned by this user with no group or other permissions; else start-up is
// refused with a message naming the fix.
core::Result<std::string> LoadOrCreateJwtSecret(const std::string& dir, std::optional<std::string_view> from_env);

}  // namespace shopd::app
