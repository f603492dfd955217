"""A login flood: CONC clients log in as fast as they can for SECONDS, each on its own
keep-alive connection, rotating over USERS accounts (so the per-account login throttle does not
answer in the server's place). Prints one JSON line: the answers by status, the share shed
(503), and the latency of the admitted logins (200) and of the shed ones.

    python3 flood.py BASE_URL EMAIL_PATTERN PASSWORD USERS CONC SECONDS

EMAIL_PATTERN contains `{}`, replaced by the account number (0 .. USERS-1). Each client sends
its own `X-Forwarded-For` address (the server runs behind_proxy), as the many users of a real
flood would: from one address, the per-address login throttle answers 429 beyond its limit.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse

base, pattern, password, users, conc, seconds = sys.argv[1:7]
users, conc, seconds = int(users), int(conc), float(seconds)
url = urllib.parse.urlsplit(base)
lock = threading.Lock()
results = []  # (status, seconds, retry_after)
deadline = time.monotonic() + seconds


def client(n):
    i = n
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    while time.monotonic() < deadline:
        body = urllib.parse.urlencode({"username": pattern.format(i % users), "password": password})
        i += conc
        start = time.monotonic()
        try:
            conn.request("POST", "/auth/jwt/login", body,
                         {"Content-Type": "application/x-www-form-urlencoded",
                          "X-Forwarded-For": f"10.2.{n // 256}.{n % 256}"})
            resp = conn.getresponse()
            resp.read()
            status, retry = resp.status, resp.getheader("Retry-After")
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
            status, retry = 0, None
        with lock:
            results.append((status, time.monotonic() - start, retry))


threads = [threading.Thread(target=client, args=(n,)) for n in range(conc)]
started = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=seconds + 180)
elapsed = time.monotonic() - started


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


by_status = {}
for status, _, _ in results:
    by_status[str(status)] = by_status.get(str(status), 0) + 1
ok = [s for st, s, _ in results if st == 200]
shed = [s for st, s, _ in results if st == 503]
retry = sorted({r for st, _, r in results if st == 503 and r})
print(json.dumps({
    "conc": conc, "users": users, "seconds": round(elapsed, 2), "total": len(results),
    "by_status": by_status, "shed_share": len(shed) / len(results) if results else 0.0,
    "admitted_per_s": len(ok) / elapsed,
    "admitted_p50_ms": pct(ok, 50) and pct(ok, 50) * 1000,
    "admitted_p99_ms": pct(ok, 99) and pct(ok, 99) * 1000,
    "admitted_max_ms": max(ok) * 1000 if ok else None,
    "shed_p99_ms": pct(shed, 99) and pct(shed, 99) * 1000,
    "retry_after": retry,
}))
