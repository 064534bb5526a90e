// http: RFC 9457 problem documents — the one place where errors become HTTP.
// Depends on core.
//
// Every error response of the service goes through here, so the status, the
// `type` slug and the body shape are the same everywhere:
//   {"type":"https://shopd.dev/problems/not-found","title":"Not Found",
//    "status":404,"detail":"...","request_id":"...","errors":[{field,message}]}
//
//   return ProblemFromError(req, result.error());
//   return Problem(req, 404, "not-found", "no such product");
#pragma once

#include <string_view>

#include "core/error.h"
#include "http/request.h"
#include "http/response.h"

namespace shopd::http {

Response Problem(const Request& req, int status, std::string_view slug, std::string_view detail,
                 const std::vector<core::FieldError>& errors = {});

// The single mapping from domain errors to HTTP (exhaustive over core::Errc).
Response ProblemFromError(const Request& req, const core::Error& error);

// Same, for contexts without a parsed request (parse failures, limits).
Response ProblemWithoutRequest(int status, std::string_view slug, std::string_view detail,
                               std::string_view request_id);

}  // namespace shopd::http
