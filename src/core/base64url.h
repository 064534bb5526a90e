// core: base64url (RFC 4648 §5) without padding, as JWTs use it. Depends on nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shopd::core {

std::string Base64UrlEncode(std::string_view bytes);
// nullopt on any character outside the alphabet, on padding, or on an impossible length.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace shopd::core
