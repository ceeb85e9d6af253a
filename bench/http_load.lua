-- wrk's script for bench/http_load.py (wrk -t N -c N: one connection per thread, so that each
-- thread's Lua state follows one chain of requests).
--   wrk ... -s bench/http_load.lua -- <mode> <form> <approval> <check> <check token> <keys>
-- mode "flows": start a share request (POST /api/v1/requests), read it as the provider for its
-- open task, complete the task, again; "grants": the art. 14 grant check; "mixed": a quarter of
-- the threads run flows, the others read (grant check, a request's status, catalog search).
-- done() prints one line "WRK {json}" with the counts and the latency percentiles (µs).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

starts, completions, checks, reads, refused, failed = 0, 0, 0, 0, 0, 0
local role, form, approval, check, keys
local state, key, task, turn = "start", nil, nil, 0
local REQUESTER = "Bearer demo-civil.clerk"
local PROVIDER = "Bearer demo-pubsec.clerk"
local checker

local function headers(token, json)
  local h = { ["Authorization"] = token, ["Accept"] = "application/json" }
  if json then h["Content-Type"] = "application/json" end
  return h
end

function init(args)
  local mode = args[1]
  form, approval, check = args[2], '{"data": ' .. args[3] .. '}', args[4]
  checker = "Bearer demo-" .. args[5]
  keys = {}
  for k in string.gmatch(args[6] or "", "[^,]+") do table.insert(keys, k) end
  if mode == "flows" or (mode == "mixed" and id % 4 == 0) then
    role = "flow"
  elseif mode == "grants" then
    role = "check"
  else
    role = "read"
    turn = id
  end
end

function request()
  if role == "flow" then
    if state == "start" then
      return wrk.format("POST", "/api/v1/requests", headers(REQUESTER, true), form)
    elseif state == "read" then
      return wrk.format("GET", "/api/v1/requests/" .. key, headers(PROVIDER))
    end
    return wrk.format("POST", "/api/v1/tasks/" .. task .. "/complete", headers(PROVIDER, true), approval)
  end
  if role == "read" then
    turn = turn + 1
    local kind = turn % 3
    if kind == 1 and #keys > 0 then
      return wrk.format("GET", "/api/v1/requests/" .. keys[turn % #keys + 1], headers(REQUESTER))
    elseif kind == 2 then
      return wrk.format("GET", "/api/v1/catalog?q=%E6%88%B7%E7%B1%8D", headers(REQUESTER))
    end
  end
  return wrk.format("POST", "/api/v1/grants/check", headers(checker, true), check)
end

function response(status, _, body)
  if role == "flow" then
    if state == "start" then
      key = status == 201 and body:match('"business_key":"([^"]+)"')
      if key then starts = starts + 1; state = "read" else failed = failed + 1 end
    elseif state == "read" then
      task = status == 200 and body:match('"id":(%d+),[^{}]-"state":"open"')
      if task then state = "complete" else failed = failed + 1; state = "start" end
    else
      if status == 200 then completions = completions + 1 else failed = failed + 1 end
      state = "start"
    end
  elseif role == "read" and turn % 3 ~= 0 and (turn % 3 ~= 1 or #keys > 0) then
    if status == 200 then reads = reads + 1 else failed = failed + 1 end
  elseif status ~= 200 then
    failed = failed + 1
  elseif body:find('"allowed":true', 1, true) then
    checks = checks + 1
  else
    refused = refused + 1
  end
end

function done(summary, latency, _)
  local t = { starts = 0, completions = 0, checks = 0, reads = 0, refused = 0, failed = 0 }
  for _, thread in ipairs(threads) do
    for name in pairs(t) do t[name] = t[name] + (thread:get(name) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, ' ..
    '"mean": %f, "starts": %d, "completions": %d, "checks": %d, "reads": %d, "refused": %d, ' ..
    '"failed": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, t.starts, t.completions, t.checks,
    t.reads, t.refused, t.failed, e.connect, e.read, e.write, e.status, e.timeout))
end
