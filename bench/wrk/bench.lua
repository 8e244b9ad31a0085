-- wrk script of the benchmark, configured from the environment:
--   BENCH_BODY_FILE      POST this file's bytes as the body of every request (else GET)
--   BENCH_CONTENT_TYPE   Content-Type of that body
--   BENCH_TOKEN          sent as "Authorization: Bearer <token>"
--   BENCH_ACCEPT         sent as the Accept header (the negotiated route's scenarios)
--   BENCH_PATHS_FILE     GET these paths (one a line) in turn instead of the URL's path
-- At the end it prints one line "BENCH_JSON {...}" with exact figures (latencies in
-- microseconds) that bench/report.py reads; wrk's own --latency text stays above it.
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
end
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local accept = os.getenv("BENCH_ACCEPT")
if accept and accept ~= "" then
  wrk.headers["Accept"] = accept
end

local paths_file = os.getenv("BENCH_PATHS_FILE")
if paths_file and paths_file ~= "" then
  local paths = {}
  for line in io.lines(paths_file) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  assert(#paths > 0, "no paths in " .. paths_file)
  local i
  request = function()
    -- Threads start apart in the list (`first`, set by setup), then read it in turn.
    i = ((i or (first or 0) * 7919) % #paths) + 1
    return wrk.format(nil, paths[i])
  end
end

local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
