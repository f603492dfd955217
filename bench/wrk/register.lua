-- POST /auth/register with a new email on every request: @RUN@ (unique per run, substituted
-- by scripts/bench), the wrk thread and a counter.
local n = 0
local thread_count = 0
setup = function(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end
request = function()
  n = n + 1
  local body = string.format(
    '{"email": "user-@RUN@-%d-%d@camelot.bt", "password": "guinevere-bench"}', tid or 0, n)
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
