-- POST /v1/reservations with a fresh Idempotency-Key per request; counts answers by status.
-- wrk -s reserve.lua URL -- <path> <json body> <api key> <key prefix>
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", tostring(#threads + 1))
  table.insert(threads, thread)
end

function init(args)
  path, body, key, prefix = args[1], args[2], args[3], args[4]
  created, refused, other = 0, 0, 0
end

function request()
  counter = counter + 1
  return wrk.format("POST", path, {
    ["Host"] = wrk.headers["Host"],
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. counter,
  }, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 409 then refused = refused + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local c, r, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created"); r = r + t:get("refused"); o = o + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"created": %d, "refused": %d, "other": %d, "duration_us": %d, ' ..
    '"socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    c, r, o, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
