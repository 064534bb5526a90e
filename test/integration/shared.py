"""Servers a test process starts once and shares between its tests (pg_server, redis_server)."""
import atexit

_started = {}


def one_per_process(server_class):
    """server_class().start(), once per process; stop() runs at exit."""
    if server_class not in _started:
        server = server_class().start()
        atexit.register(server.stop)
        _started[server_class] = server
    return _started[server_class]
