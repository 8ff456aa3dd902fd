-- wrk script of scripts/bench-edge: never-repeated requests. Thread N reads its own
-- slice, the file $SLICES.N (one path a line, no path in two slices), one line per
-- request and never wraps around. A thread that reaches the end of its slice says so
-- on stderr ("ran out of URLs", which the script treats as a failed run) and stops;
-- the request it must still return goes to a path that is not signed (a 403, never a
-- repeated URL).
local threads = {}
function setup(thread)
  thread:set("slice_id", #threads)
  threads[#threads + 1] = thread
end

-- `sent` is a global: done() reads it from each thread with thread:get.
local file, exhausted
function init(args)
  local name = os.getenv("SLICES") .. "." .. slice_id
  file = assert(io.open(name, "r"))
  sent = 0
end

function request()
  local path = file:read("*l")
  if not path then
    if not exhausted then
      exhausted = true
      io.stderr:write(string.format("cfsign-bench: thread %d ran out of URLs after %d\n", slice_id, sent))
      wrk.thread:stop()
    end
    return wrk.format("GET", "/cfsign-bench-ran-out-of-urls")
  end
  sent = sent + 1
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("cfsign-bench: thread %d took %d URLs\n", thread:get("slice_id"), thread:get("sent")))
  end
end
