// storage/postgres: text as PostgreSQL takes it, for every PostgreSQL
// backend. A TEXT value must be valid UTF-8 without NUL bytes, or the server
// refuses the statement; these check and repair values before they are sent,
// and build the array literals that carry a whole batch in one parameter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shopd::storage::postgres {

// True when PostgreSQL stores `s` as TEXT: UTF-8 (no overlong form, no
// surrogate, at most U+10FFFF) without NUL bytes.
bool IsText(std::string_view s);

// `s` as text of at most `max_bytes`: each byte that is not part of a valid
// character becomes U+FFFD, and the cut falls between characters.
std::string ToText(std::string_view s, size_t max_bytes);

// A PostgreSQL array literal, '{"a","b",NULL}', for a $n::TEXT[] (or
// BIGINT[], INT[]) parameter: one statement carries a whole batch.
class ArrayLiteral {
 public:
  void Add(std::string_view value);
  void Add(int64_t value);
  void Add(const std::optional<std::string>& value);  // nullopt is NULL
  std::string Take();

 private:
  void Separate();
  std::string text_ = "{";
};

}  // namespace shopd::storage::postgres
