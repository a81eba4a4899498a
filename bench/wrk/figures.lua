-- What the gate and metadata wrk scripts share (gate.lua, paths.lua load it with dofile): each thread's `id`
-- (0, 1, ...) and the one JSON line of figures printed at the end.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
