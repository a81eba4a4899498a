-- wrk script for the crowd benchmark: each request takes the next line of a file, "<bearer token> <body or ->",
-- and sends it to the URL's path (GET without a body, POST with one). Counts answers by kind and prints one JSON
-- line of figures at the end (503s shed by admission control apart from errors).
-- usage: wrk -t T -c C -d D -s crowd.lua URL -- <lines file> <method> [<pause ms>]
-- With a pause, each connection waits that long after every answer before its next request (a door scanner
-- scanning one person after another), so its latency is the gateway's, not queueing the client made itself.
-- Scanners do not start in lockstep: each connection's first request waits a random part of the pause (wrk
-- asks delay() once per connection before its first request). A burst of simultaneous scans is measured
-- apart (bench/crowd.py, gate_burst_*).
-- usage with a pause: ... -- <lines file> <method> <pause ms> <connections of this thread>
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  local path = args[1]
  method = args[2] or "GET"
  pause = tonumber(args[3] or "0")
  starting = tonumber(args[4] or "0")  -- first requests still to stagger (this thread's connections)
  math.randomseed(os.time() * 100 + id)
  lines = {}
  for line in io.lines(path) do
    local token, body = line:match("^(%S+) (.*)$")
    table.insert(lines, {token, body})
  end
  position = math.random(#lines)
  ok, shed, other = 0, 0, 0
end

function request()
  position = position % #lines + 1
  local line = lines[position]
  local headers = {["Authorization"] = "Bearer " .. line[1]}
  if method == "POST" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", nil, headers, line[2])
  end
  return wrk.format("GET", nil, headers, nil)
end

function delay()
  if starting > 0 then
    starting = starting - 1
    return math.random(0, pause)
  end
  return pause
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status == 503 then
    shed = shed + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local ok_total, shed_total, other_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    shed_total = shed_total + thread:get("shed")
    other_total = other_total + thread:get("other")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "ok": %d, "shed_503": %d, "other_status": %d, "duration_us": %d, "p50_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, ok_total, shed_total, other_total, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.max, errors.connect, errors.read, errors.write, errors.timeout))
end
