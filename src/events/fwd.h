// events: forward declarations, so headers that only pass the log around (app
// wiring, services) stay light. Depends on nothing.
#pragma once

namespace shopd::events {
struct EventInput;
struct Event;
class EventLog;
class OutboxRelay;
struct OutboxRelayOptions;
struct EventConsumerOptions;
class EventConsumer;

namespace sqlite {
class SqliteEventLog;
class SqliteOutboxRelay;
}  // namespace sqlite
}  // namespace shopd::events
