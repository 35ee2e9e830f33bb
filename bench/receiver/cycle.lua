-- wrk script: each thread sends its own slice of pre-signed pushes (file: target<TAB>body per
-- line), counts `200 success` answers, and notes whether it had to reuse a push (wraps > 0).
-- Arguments: <requests file> <thread count>. The summary is one line starting with WXBENCH.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local requests = {}
local position = 0
sent = 0
ok = 0
bad = 0
wraps = 0

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  local k = 0
  local headers = {["Content-Type"] = "application/json"}
  for line in io.lines(path) do
    if k % nthreads == id then
      local tab = line:find("\t", 1, true)
      local target, body = line:sub(1, tab - 1), line:sub(tab + 1)
      requests[#requests + 1] = wrk.format("POST", target, headers, body)
    end
    k = k + 1
  end
end

function request()
  sent = sent + 1
  position = position + 1
  if position > #requests then
    position = 1
    wraps = wraps + 1
  end
  return requests[position]
end

function response(status, headers, body)
  if status == 200 and body == "success" then
    ok = ok + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_sent, total_ok, total_bad, total_wraps = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
    total_wraps = total_wraps + thread:get("wraps")
  end
  local e = summary.errors
  io.write(string.format(
    "WXBENCH duration_us=%d requests=%d sent=%d ok=%d bad=%d wraps=%d connect=%d read=%d write=%d "
      .. "timeout=%d p50_us=%d p99_us=%d\n",
    summary.duration, summary.requests, total_sent, total_ok, total_bad, total_wraps, e.connect, e.read,
    e.write, e.timeout, latency:percentile(50), latency:percentile(99)))
end
