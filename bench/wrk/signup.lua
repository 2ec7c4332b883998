-- POST /api/v1/subscribe with a new address per request.
-- Arguments: a tag that makes this run's addresses unique.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local tag, counter
function init(args)
  tag = args[1] or "run"
  counter = 0
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"email":"b-%s-%d-%d@example.com","first_name":"Ann","consent":true}',
    tag, thread_id, counter)
  return wrk.format("POST", "/api/v1/subscribe", {["Content-Type"] = "application/json"}, body)
end

done = report
