-- Durable single-event publishes spread over 64 streams, for wrk (a client that is not Sluice's own):
--   wrk -t1 -c32 -d10s -s bench/wrk/publish.lua http://127.0.0.1:18080 -- sluice <admin key>
--   wrk -t1 -c32 -d10s -s bench/wrk/publish.lua http://127.0.0.1:8091 -- peer
-- Counts the answers that are not 201 (a refused publish is not a publish).
local api, key = "sluice", ""
local n = 0
local refused = 0
local body = '{"type":"token","data":{"text":"hello world, this is a token"}}'
local raw = '{"text":"hello world, this is a token"}'

function init(args)
  api = args[1] or "sluice"
  key = args[2] or ""
end

function request()
  n = n + 1
  local stream = "wrk-" .. (n % 64)
  if api == "peer" then
    return wrk.format("POST", "/pub/" .. stream, { ["Content-Type"] = "application/octet-stream" }, raw)
  end
  return wrk.format("POST", "/v1/streams/" .. stream .. "/events",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }, body)
end

function response(status, headers, body)
  if status ~= 201 then refused = refused + 1 end
end

function done(summary, latency, requests)
  io.write(string.format('{"requests":%d,"seconds":%.2f,"per_second":%.0f,"p50_ms":%.2f,"p99_ms":%.2f,"errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
