-- POST /api/v1/bench-floor of bench/floor_app.py: the app's own empty route.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

wrk.method = "POST"
wrk.path = "/api/v1/bench-floor"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"ann@example.com","first_name":"Ann","consent":true}'

done = report
