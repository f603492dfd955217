"""Cross-instance eviction latency: a change made through instance A, then reads on instance B
until B answers with it. Both instances share one database (and Redis); B holds the user in its
user cache before each change. Prints one JSON line with the percentiles of the time from A's
answer to B's first fresh answer, and the number of stale reads B served in that time.

    python3 eviction.py BASE_A BASE_B TOKEN ROUNDS

TOKEN is a Bearer JWT valid on both instances (they share SECRET). Each round sets a new email
through `PATCH /users/me` on A.
"""

import http.client
import json
import sys
import time
import urllib.parse

base_a, base_b, token, rounds = sys.argv[1:5]
rounds = int(rounds)


def connect(base):
    u = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


a, b = connect(base_a), connect(base_b)
auth = {"Authorization": f"Bearer {token}"}


def me(conn):
    conn.request("GET", "/users/me", headers=auth)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise SystemExit(f"GET /users/me answered {resp.status}: {body!r}")
    return json.loads(body)["email"]


original = me(b)
latencies, stale_reads, stale_rounds = [], 0, 0
run = time.time_ns()
for n in range(rounds + 1):
    email = original if n == rounds else f"evict-{run}-{n}@example.com"
    me(b)  # B holds the user in its cache
    body = json.dumps({"email": email})
    a.request("PATCH", "/users/me", body, {**auth, "Content-Type": "application/json"})
    resp = a.getresponse()
    answer = resp.read()
    if resp.status != 200:
        raise SystemExit(f"PATCH /users/me answered {resp.status}: {answer!r}")
    changed = time.monotonic()
    stale = 0
    while me(b) != email:
        stale += 1
        if time.monotonic() - changed > 10:
            raise SystemExit("B still served the old email 10 s after the change")
    if n < rounds:  # the last round only puts the original email back
        latencies.append(time.monotonic() - changed)
        stale_reads += stale
        stale_rounds += stale > 0


def pct(p):
    values = sorted(latencies)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000


print(json.dumps({
    "rounds": rounds, "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": max(latencies) * 1000,
    "stale_reads": stale_reads, "rounds_with_a_stale_read": stale_rounds,
}))
