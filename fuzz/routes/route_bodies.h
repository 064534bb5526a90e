// fuzz: the body readers of the route files, reached without changing them.
//
// Each route file keeps its body reader in an anonymous namespace next to its
// handlers; these shims compile the route file into their own translation
// unit (one per file, so helpers of the same name cannot collide) and call the
// reader from there. The fuzz target links the service libraries, whose copy
// of the route file is then not pulled in (its only external symbol,
// Register*Routes, is already defined here).
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "http/request.h"
#include "services/catalog/catalog_service.h"
#include "services/orders/orders_service.h"

namespace shopd::fuzz {

// POST /v1/orders (services/orders/http_routes.cc: ReadLines).
core::Result<std::vector<services::OrderLine>> ReadOrderBody(const http::Request& req);
// POST /v1/products, PUT /v1/products/{id} (services/catalog/http_routes.cc: ReadProduct).
core::Result<services::ProductInput> ReadProductBody(const http::Request& req);
// POST /v1/auth/refresh and /v1/auth/logout (services/users/http_routes.cc: ReadRefreshToken).
core::Result<std::string> ReadRefreshTokenBody(const http::Request& req);

}  // namespace shopd::fuzz
