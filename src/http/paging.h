// http: the `limit` query parameter of paginated lists. Depends on core.
#pragma once

#include "core/error.h"
#include "http/request.h"

namespace shopd::http {

// 1..100, default 20 when absent; 0 when the client sent anything else.
int PageLimit(const Request& req);
// The 400 for a PageLimit of 0.
core::Error BadPageLimit();

}  // namespace shopd::http
