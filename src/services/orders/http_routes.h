// services/orders: the HTTP surface of orders (/v1/orders).
#pragma once

namespace shopd::http {
class Router;
}

namespace shopd::services {

class OrdersService;

void RegisterOrderRoutes(http::Router& router, OrdersService& orders);

}  // namespace shopd::services
