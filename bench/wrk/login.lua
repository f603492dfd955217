-- POST /auth/*/login as one user, the form fastapi-users' OAuth2PasswordRequestForm reads.
-- EMAIL and PASSWORD are substituted by scripts/bench.
wrk.method = "POST"
wrk.body = "username=@EMAIL@&password=@PASSWORD@"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
