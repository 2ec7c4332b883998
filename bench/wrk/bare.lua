-- POST /bare of bench/bare_app.py: the ceiling.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

wrk.method = "POST"
wrk.path = "/bare"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"ann@example.com","first_name":"Ann","consent":true}'

done = report
