-- wrk script: POST /v1/orders to shopd, bounded to ORDERS responses
-- (env ORDERS, default 20000). Use with -t1 so the count is global.
-- Modelled on the peers' wrk/post_order.lua (../shared/peers/wrk/), which does
-- the same for the BullMQ peer's POST /order.
--
-- env: ORDERS      responses after which the run ends (default 20000)
--      TOKEN       access token (Authorization: Bearer TOKEN), required
--      PRODUCT_ID  product ordered (quantity 1 per order), required
--      KEY_PREFIX  prefix of the Idempotency-Key, unique per run (default "k")
--
-- Every request carries a unique Idempotency-Key: KEY_PREFIX-<thread>-<n>, so
-- no request is an idempotent replay of another (a replay would be answered
-- without placing an order). The body is the same for every request.
--
-- wrk has no request-count option: when the count is reached this thread
-- stops sending and SIGINT is sent to this wrk process, which then ends the
-- run and prints its usual statistics (run it with a long -d as a safety cap).
-- wrk's handler only wakes the main thread if the signal lands there, so a
-- small background loop repeats SIGINT every 10 ms until wrk has exited (as
-- the peers' script does). Requests still in flight at that moment may also
-- reach the server, so shopd can place up to (connections - 1) extra orders:
-- bench/run.py reads the real count from shopd_orders_placed_total.

local target = tonumber(os.getenv("ORDERS") or "20000")
local token = os.getenv("TOKEN") or ""
local product = os.getenv("PRODUCT_ID") or ""
local prefix = os.getenv("KEY_PREFIX") or "k"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local body, base_headers, key_base, done, seq

function init(args)
  if token == "" or product == "" then
    io.stderr:write("post_order.lua: TOKEN and PRODUCT_ID must be set\n")
    os.exit(2)
  end
  body = '{"items":[{"product_id":"' .. product .. '","quantity":1}]}'
  base_headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  done = 0
  seq = 0
  key_base = prefix .. "-" .. tostring(tid or 1) .. "-"
end

function request()
  seq = seq + 1
  base_headers["Idempotency-Key"] = key_base .. seq
  return wrk.format("POST", "/v1/orders", base_headers, body)
end

local function wrk_pid()
  -- /proc/self names the process (thread group), not this thread
  local f = io.open("/proc/self/stat")
  local s = f:read("*l")
  f:close()
  return s:match("^(%d+)")
end

function response(status, headers, body)
  done = done + 1
  if done == target then
    local pid = wrk_pid()
    -- io.popen, not os.execute: system() ignores SIGINT in the caller while
    -- its child runs. The loop stops once /proc/PID no longer names wrk.
    local p = io.popen("(while [ \"$(cat /proc/" .. pid .. "/comm 2>/dev/null)\" = wrk ]; do " ..
      "kill -INT " .. pid .. " 2>/dev/null; sleep 0.01; done) >/dev/null 2>&1 &")
    p:close()
    wrk.thread:stop()
  end
end
