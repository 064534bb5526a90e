// obs: the JSON value formatting shared by the logger and the access log.
// Depends on nothing.
//
// Log lines carry attacker-controlled text (targets, headers), so every string
// goes through AppendJsonString, whose output is valid JSON for any input bytes.
//
//   std::string line = "{\"msg\":";
//   AppendJsonString(line, event);   // appends "..." with quotes
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shopd::obs {

// Appends `s` as a quoted JSON string (RFC 8259). Quotes, backslashes and
// control characters (and DEL) are escaped; bytes that are not well-formed
// UTF-8 become U+FFFD, so a log reader never sees invalid UTF-8.
void AppendJsonString(std::string& out, std::string_view s);

void AppendJsonInt(std::string& out, int64_t v);
void AppendJsonUint(std::string& out, uint64_t v);
// Shortest round-trip form; `null` for NaN and infinities, which JSON lacks.
void AppendJsonDouble(std::string& out, double v);
// Fixed notation with `decimals` digits (durations read better that way);
// `null` for NaN and infinities.
void AppendJsonFixed(std::string& out, double v, int decimals);

// RFC 3339 UTC with milliseconds, e.g. 2026-11-25T15:04:05.123Z (unquoted).
void AppendTimestamp(std::string& out, std::chrono::system_clock::time_point tp);

// `s` with every byte that is not part of a well-formed UTF-8 sequence
// replaced by U+FFFD (the same repair as AppendJsonString), for text that goes
// through another JSON serializer (which would pass such bytes through and so
// emit invalid JSON).
std::string ValidUtf8(std::string_view s);

// Length of the well-formed UTF-8 sequence starting at s[i] (1-4), or 0 when
// the bytes there are not well-formed (Unicode Table 3-7: no overlongs, no
// surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i);

}  // namespace shopd::obs
