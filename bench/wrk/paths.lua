-- wrk script for the metadata benchmark: GETs the paths read from a file, one per line, round-robin (each
-- thread from its own offset). With IF_NONE_MATCH=1, each request carries the ETag read beside its path
-- ("<path> <etag>" lines), so every answer is a 304. Prints one JSON line of figures at the end.
-- usage: wrk -t T -c C -d D -s paths.lua URL -- <paths file>

-- setup (each thread's `id`) and done (the figures): figures.lua, beside this file
dofile(debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "figures.lua")

function init(args)
  paths, etags = {}, {}
  for line in io.lines(args[1]) do
    local path, etag = line:match("^(%S+)%s*(.*)$")
    table.insert(paths, path)
    table.insert(etags, etag)
  end
  position = id * 7
  revalidate = os.getenv("IF_NONE_MATCH") == "1"
end

function request()
  position = position % #paths + 1
  local headers = {}
  if revalidate then headers["If-None-Match"] = etags[position] end
  return wrk.format("GET", paths[position], headers)
end
