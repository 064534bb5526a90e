// http: forward declarations, so headers that only pass these around stay light.
#pragma once

namespace shopd::http {
class Request;
struct Response;
class Router;
class Server;
struct ServerConfig;
class Middleware;
}  // namespace shopd::http
