-- POST /auth/jwt/login rotating over @USERS@ accounts (load-0 .. load-N@camelot.bt), so that a
-- storm of many users' logins is measured, not the per-account login throttle answering 429 for
-- one user's concurrent attempts. Each account logs in from an address of its own
-- (X-Forwarded-For; the server runs with BEHIND_PROXY=true), as many users behind a proxy do:
-- from one address, the per-address throttle would answer for the server. PASSWORD is
-- substituted by scripts/bench.
-- Each run starts at a random account: a run's last logins, which wrk abandons when it stops
-- (the server then counts them as failed attempts), fall on other accounts each run.
math.randomseed(os.time())
local n = math.random(0, @USERS@ - 1)
request = function()
  n = n + 1
  local i = n % @USERS@
  local body = "username=load-" .. i .. "%40camelot.bt&password=@PASSWORD@"
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Forwarded-For"] = "10.1." .. math.floor(i / 256) .. "." .. (i % 256),
  }, body)
end
