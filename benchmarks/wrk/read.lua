-- GET with an API key; prints the latency percentiles as one JSON line.
-- wrk -s read.lua URL -- <api key>
function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end

function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "p50_us": %d, "p99_us": %d, "non2xx": %d}\n',
    summary.requests, latency:percentile(50), latency:percentile(99), summary.errors.status))
end
