// http: the URL query string (RFC 3986 section 3.4), checked and decoded
// without allocating. Depends on nothing.
//
// Every request's query is checked once, before its handler runs, so a
// handler never sees a query it would have had to ignore:
//   if (!IsWellFormedQuery(req.query())) -> 400 malformed-query
//   std::string cursor;
//   if (FindQueryParam(req.query(), "cursor", cursor)) ...
#pragma once

#include <string>
#include <string_view>

namespace shopd::http {

// True when every byte is a query character (unreserved, sub-delims, ":",
// "@", "/", "?") or part of a "%XX" escape with two hex digits. '+' is an
// ordinary character (it is not decoded to a space).
bool IsWellFormedQuery(std::string_view query);

// The percent-decoded value of the first `name=value` pair whose decoded key
// is `name` ("" for a bare `name`); false when absent or when the query is not
// well-formed.
bool FindQueryParam(std::string_view query, std::string_view name, std::string& out);

}  // namespace shopd::http
