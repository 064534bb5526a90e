// services/users: the HTTP surface of the users service (/v1/auth/*, /v1/users/*).
#pragma once

namespace shopd::http {
class Router;
}

namespace shopd::services {

class UsersService;

void RegisterUserRoutes(http::Router& router, UsersService& users);

}  // namespace shopd::services
