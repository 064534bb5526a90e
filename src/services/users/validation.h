// services/users: validation of account fields. Depends on core.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shopd::services {

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
// Number of Unicode code points (the body was UTF-8 validated by the JSON parser).
size_t Utf8Length(std::string_view s);

}  // namespace shopd::services
