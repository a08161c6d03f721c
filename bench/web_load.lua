-- wrk script for bench/web_load.py: signed-in GETs over a list of pages, optional think time,
-- and one machine-readable summary line (WRK_JSON) with exact latency percentiles.
--   WRK_PATHS="/dashboard,/contacts/"  WRK_COOKIE="name=value"
--   WRK_THINK_MIN_MS / WRK_THINK_MAX_MS: pause before each request (0: none, closed loop)
local paths = {}
for p in string.gmatch(os.getenv("WRK_PATHS") or "/", "[^,]+") do
  paths[#paths + 1] = p
end
local cookie = os.getenv("WRK_COOKIE") or ""
local think_min = tonumber(os.getenv("WRK_THINK_MIN_MS") or "0")
local think_max = tonumber(os.getenv("WRK_THINK_MAX_MS") or "0")

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  threads[#threads + 1] = thread
  next_id = next_id + 1
end

function init(args)
  non200 = 0
  sent = 0
  math.randomseed(id * 7919 + os.time())
  wrk.headers["Cookie"] = cookie
end

function request()
  sent = sent + 1
  return wrk.format("GET", paths[(sent + id) % #paths + 1])
end

if think_max > 0 then
  function delay()
    return math.random(think_min, think_max)
  end
end

-- wrk counts only >= 400 as errors; a redirect to the sign-in page must count too.
function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non200")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_ms": %.3f, ' ..
    '"p90_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, ' ..
    '"timeouts": %d, "non200": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, bad))
end
