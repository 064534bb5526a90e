// app: the OpenAPI 3 document of the public API (api/openapi.json, compiled
// into the binary) and the route that serves it at /v1/openapi.json.
//
// The document is written by hand, so it could drift from the code; the
// embedded topology refuses to start when it does not describe exactly the
// routes registered (CheckOpenApiMatchesRoutes), and every integration test
// starts the binary.
#pragma once

#include <initializer_list>
#include <string_view>

#include "core/error.h"
#include "http/fwd.h"

namespace shopd::app {

std::string_view OpenApiDocument();

void RegisterOpenApiRoute(http::Router& router);

// OK when `document` is an OpenAPI 3 JSON document whose paths and their
// methods are exactly the router's route templates and methods (HEAD, which
// follows GET, aside). Otherwise the error lists every difference.
core::Result<void> CheckOpenApiMatchesRoutes(std::string_view document, const http::Router& router);
// Same, over the routes of several listeners together (public + admin).
core::Result<void> CheckOpenApiMatchesRoutes(std::string_view document,
                                             std::initializer_list<const http::Router*> routers);

}  // namespace shopd::app
