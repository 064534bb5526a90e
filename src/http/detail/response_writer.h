// http (internal): a Response as HTTP/1.1 bytes. Writes the bytes directly:
// Beast's generic serializer is the single largest cost of a small response
// (see shared/PERFORMANCE-NOTES.md). Used by the server and the HTTP fuzzer.
#pragma once

#include <string>
#include <string_view>

#include "http/response.h"

namespace shopd::http::detail {

// Appends `r` to `out`. A HEAD answer keeps the Content-Length but not the
// body; `close` adds Connection: close; `date_line` is a whole "Date: ...\r\n".
// Header names or values holding CR or LF are dropped (no header injection).
void AppendResponse(std::string& out, const Response& r, bool head_request, bool close, std::string_view date_line);

}  // namespace shopd::http::detail
