-- wrk script of scripts/bench-edge: every request takes the next path of the file
-- $PATHS (one path a line), rotating over it; each thread starts at the top.
-- Optional: $COOKIE is sent as the Cookie header, $ACCEPT_ENCODING as Accept-Encoding.
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
local cookie = os.getenv("COOKIE")
if cookie and cookie ~= "" then wrk.headers["Cookie"] = cookie end
local encoding = os.getenv("ACCEPT_ENCODING")
if encoding and encoding ~= "" then wrk.headers["Accept-Encoding"] = encoding end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
