// services/catalog: the HTTP surface of the catalog (/v1/products).
#pragma once

namespace shopd::http {
class Router;
}

namespace shopd::services {

class CatalogService;

void RegisterCatalogRoutes(http::Router& router, CatalogService& catalog);

}  // namespace shopd::services
