// services/users: validation of account fields. Depends on core.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shopd::services {

// Bounds every request is held to before any work is done for it (rate
// limiter, password hash, database): a larger field is answered 422 at once.
inline constexpr size_t kMaxEmailBytes = 254;      // RFC 5321 path limit
inline constexpr size_t kMaxPasswordBytes = 1024;  // argon2 input; registration allows 128 characters
inline constexpr size_t kMaxNameChars = 200;       // Unicode code points, after trimming

// Trimmed and lower-cased, so "  Ann@Example.COM " and "ann@example.com" are
// one account. Case-folding the local part is a deliberate simplification:
// real providers treat it case-insensitively, and two accounts differing only
// by case are a support and phishing hazard.
std::string NormalizeEmail(std::string_view email);

// nullopt when valid, else the message for the `errors[]` entry.
std::optional<std::string> CheckEmail(std::string_view normalized);
std::optional<std::string> CheckPassword(std::string_view password);
std::optional<std::string> CheckName(std::string_view trimmed_name);

std::string Trim(std::string_view s);
std::string_view TrimView(std::string_view s);
// Number of Unicode code points (the body was UTF-8 validated by the JSON parser).
size_t Utf8Length(std::string_view s);

}  // namespace shopd::services
