-- wrk script for the gate benchmark: POSTs {"code": ...} bodies read from a file, one per line.
-- Each thread walks its own stride of the file (thread k takes lines k, k+n, ...), so a check-in run
-- scans every ticket once before any repeats. Prints one JSON line of figures at the end.
-- usage: wrk -t T -c C -d D -s gate.lua URL -- <bodies file> <stride> [<offset>]
-- (thread k of this wrk takes lines offset+k, offset+k+stride, ...; several wrk processes, one per gateway
-- process, share one file by taking offsets 0, T, 2T, ... with stride = T x the number of processes)

-- setup (each thread's `id`) and done (the figures): figures.lua, beside this file
dofile(debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "figures.lua")

function init(args)
  local path, count, offset = args[1], tonumber(args[2]), tonumber(args[3] or "0")
  bodies = {}
  local index = 0
  for line in io.lines(path) do
    if index % count == id + offset then table.insert(bodies, line) end
    index = index + 1
  end
  position = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("GATE_KEY")
end

function request()
  position = position % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[position])
end
