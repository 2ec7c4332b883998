-- POST /api/v1/coupons/<code>/redeem, a fresh pre-issued code per request.
-- Arguments: the file of codes (one a line), the API token, and the range of lines
-- this run may use ("first:last", 1-based); each thread takes every n-th code of it.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local codes, position, step, auth
function init(args)
  local first, last = args[3]:match("(%d+):(%d+)")
  first, last = tonumber(first), tonumber(last)
  codes = {}
  local line = 0
  for code in io.lines(args[1]) do
    line = line + 1
    if line >= first and line <= last then codes[#codes + 1] = code end
  end
  auth = "Bearer " .. args[2]
  step = 2  -- wrk -t 2
  position = thread_id + 1
end

function request()
  local code = codes[position]
  position = position + step
  if position > #codes then position = thread_id + 1 end  -- reused codes answer 409
  return wrk.format("POST", "/api/v1/coupons/" .. code .. "/redeem",
    {["Authorization"] = auth, ["Content-Type"] = "application/json"}, "")
end

done = report
