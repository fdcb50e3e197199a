-- wrk script: heartbeats for 100 instances (10 models x 10 ports), round robin, as a cluster
-- of workers beating against the registry would send them.
local n = 0

request = function()
  n = n + 1
  local i = n % 100
  local body = string.format(
    '{"model_name":"bench-model-%d@llm","host":"10.0.0.1","port":%d}', i % 10, 8000 + i)
  return wrk.format("POST", "/api/controller/heartbeat",
    {["Content-Type"] = "application/json"}, body)
end
