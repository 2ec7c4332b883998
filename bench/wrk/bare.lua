-- POST /bare of bench/bare_app.py: the ceiling.
-- Argument (optional): another path to post the same body to, such as the app's floor
-- route of bench/floor_app.py.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

wrk.method = "POST"
wrk.path = "/bare"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"ann@example.com","first_name":"Ann","consent":true}'

function init(args)
  wrk.path = args[1] or wrk.path
end

done = report
