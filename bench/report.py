"""Prints scripts/bench's table and the issue's target checks from its rows (JSON lines)."""

import json
import sys

(rows_path, argon2_path, memory_path, eviction_path, flood_path, date, cores, cpu, mem_gb,
 command, duration, warmup, conc, auth_conc, storm_conc, probe_conc) = sys.argv[1:17]
load_start, load_end = (sys.argv[17:19] + ["?", "?"])[:2]
rows = {}
order = []
with open(rows_path) as f:
    for line in f:
        r = json.loads(line)
        w = r["wrk"]
        r["rps"] = w["requests"] / (w["duration_us"] / 1e6) if w["duration_us"] else 0.0
        r["p50"] = w["p50_us"] / 1000
        r["p99"] = w["p99_us"] / 1000
        r["errors"] = w["socket_errors"] + w["status_errors"]
        n = max(w["requests"], 1)
        r["srv_ms"] = r["server_cpu_s"] * 1000 / n if "server_cpu_s" in r else None
        r["db_ms"] = r["db_cpu_s"] * 1000 / n if "db_cpu_s" in r else None
        cpu_s = r.get("server_cpu_s", 0) + r.get("db_cpu_s", 0)
        # Requests per CPU-second of the server and its data stores: what the run would do
        # with the machine to itself, less sensitive to the other tenants of a shared machine.
        r["per_cpu"] = w["requests"] / cpu_s if cpu_s else float("nan")
        rows[r["key"]] = r
        order.append(r["key"])
argon2 = json.load(open(argon2_path))
memory = json.load(open(memory_path))
eviction = json.load(open(eviction_path))
flood = json.load(open(flood_path))
storms = [k for k in order if k.startswith("fu_me_storm_")]

print(f"Date: {date}. Machine: {cores} cores ({cpu}), {mem_gb} GiB. Command: `{command}` "
      f"({duration} s per row after {warmup} s of warm-up; wrk, 1 thread, in its own process). "
      f"Load average before / after: {load_start} / {load_end}.")
print()
def ms(v):
    return "" if v is None else (f"{v:.3f}" if v < 10 else f"{v:.0f}")


print("| row | conc. | req/s | p50 ms | p99 ms | peak RSS MB | server CPU ms/req "
      "| PG+Redis CPU ms/req | req per CPU-s | errors |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for k in order:
    r = rows[k]
    rps = f"{r['rps']:,.0f}" if r["rps"] >= 100 else f"{r['rps']:.1f}"
    pc = r["per_cpu"]
    pc = "" if pc != pc or k in storms else (f"{pc:,.0f}" if pc >= 100 else f"{pc:.1f}")
    db = "" if k in storms else ms(r["db_ms"])
    print(f"| {r['label']} | {r['conc']} | {rps} | {r['p50']:.2f} | {r['p99']:.2f} "
          f"| {r['rss_mb']:.1f} | {ms(r['srv_ms'])} | {db} | {pc} | {r['errors']} |")
    storm = r.get("storm_logins")
    if storm:
        srps = storm["requests"] / (storm["duration_us"] / 1e6)
        print(f"| (the storm itself: POST /auth/jwt/login, {storm_conc} clients) | {storm_conc} "
              f"| {srps:,.1f} | {storm['p50_us'] / 1000:.0f} | {storm['p99_us'] / 1000:.0f} "
              f"| | | | | {storm['socket_errors'] + storm['status_errors']} |")
print()
print(f"Login flood: {flood['conc']} clients over {flood['users']} accounts for "
      f"{flood['seconds']:.0f} s: {flood['total']} answers by status {flood['by_status']}; "
      f"{flood['shed_share'] * 100:.0f} % shed (503, Retry-After {flood['retry_after']}), "
      f"{flood['admitted_per_s']:.1f} logins/s admitted, admitted p50 "
      f"{(flood['admitted_p50_ms'] or 0) / 1000:.2f} s, p99 {(flood['admitted_p99_ms'] or 0) / 1000:.2f} s, "
      f"max {(flood['admitted_max_ms'] or 0) / 1000:.2f} s; shed answers' p99 "
      f"{(flood['shed_p99_ms'] or 0):.0f} ms.")
print()
print(f"Cross-instance eviction (two example servers on one PostgreSQL, the default user cache; "
      f"a new email through `PATCH /users/me` on A, then `GET /users/me` on B until it shows): "
      f"{eviction['rounds']} rounds, p50 {eviction['p50_ms']:.1f} ms, p99 "
      f"{eviction['p99_ms']:.1f} ms, max {eviction['max_ms']:.1f} ms; B served the old user "
      f"{eviction['stale_reads']} times in {eviction['rounds_with_a_stale_read']} rounds, each "
      f"after A had answered.")
print()
print(f"The example's resident memory (PostgreSQL + Redis server): {memory['start']:.1f} MB at "
      f"start, {memory['read_load']:.1f} MB after the GET /users/me loads, "
      f"{memory['rest_after_storms']:.1f} MB at rest 8 s after the storms, peak "
      f"{memory['flood_peak']:.1f} MB during the flood.")
print()
print(f"argon2id m=65536 t=3 p=4, one verification (fastusers' PasswordHelper): "
      f"{argon2['cpu_ms']:.0f} ms of CPU, {argon2['wall_ms']:.0f} ms wall; "
      f"{cores} cores / CPU time = {argon2['max_rps']:.1f} logins/s at most.")
print()


def get(k, field="rps"):
    return rows[k][field] if k in rows else float("nan")


checks = []


def check(name, value, op, target, fmt="{:.2f}", normalised=None):
    ok = value >= target if op == ">=" else value <= target
    norm = "" if normalised is None else fmt.format(normalised)
    checks.append((name, fmt.format(value), f"{op} {fmt.format(target)}", "PASS" if ok else "MISS",
                   norm))


def check_ratio(name, a, b, target, fmt):
    """A throughput target: row `a`'s requests per second over row `b`'s, and the same per
    CPU-second."""
    check(name, get(a) / get(b), ">=", target, fmt,
          normalised=get(a, "per_cpu") / get(b, "per_cpu"))


check_ratio("default configuration (user cache on), JWT + PostgreSQL, vs the JWT-only axum route",
            "fu_me_jwt_pg", "limit_jwt", 0.80, "{:.2f}")
check_ratio("default configuration, JWT + PostgreSQL, vs fastapi-users",
            "fu_me_jwt_pg", "ref_me_jwt_pg", 50, "{:.1f}")
check_ratio("cache off, JWT + PostgreSQL, vs the floor (axum + HS256 + sqlx SELECT)",
            "fu_me_jwt_pg_uncached", "floor_pg", 0.90, "{:.2f}")
check_ratio("default configuration, Bearer + Redis, vs fastapi-users",
            "fu_me_redis", "ref_me_redis", 50, "{:.1f}")
check_ratio("default configuration, Cookie + database token, vs fastapi-users",
            "fu_me_session", "ref_me_session", 50, "{:.1f}")
for k in storms:
    n = k.rsplit("_", 1)[1]
    check(f"run {n}: /users/me p99 during the login storm / idle p99 just before",
          get(k, "p99") / get(f"fu_me_idle_{n}", "p99"), "<=", 3)
check("cross-instance eviction p99, ms", eviction["p99_ms"], "<=", 50, "{:.1f}")
check("login flood: admitted logins' p99, s (bound: max_wait 5 s + one hash)",
      (flood["admitted_p99_ms"] or float("inf")) / 1000, "<=", 6, "{:.2f}")
check("login flood: answers other than 200 and 503",
      sum(v for k, v in flood["by_status"].items() if k not in ("200", "503")), "<=", 0, "{:.0f}")
fu_keys = [k for k in order if k.startswith("fu_")]
# The read loads, not the idle probes that follow the logins (whose hashing memory is still held).
me_keys = [k for k in fu_keys if k.startswith("fu_me_") and k not in storms
           and not k.startswith("fu_me_idle_")]
check("example's peak RSS under GET /users/me loads, MB",
      max(rows[k]["rss_mb"] for k in me_keys), "<=", 50, "{:.1f}")
check("example's peak RSS during the login storms, MB",
      max(get(k, "rss_mb") for k in storms), "<=", 50, "{:.1f}")
login_cpu_ms = get("fu_login", "srv_ms")
check("login throughput / (cores / CPU time of one verification)",
      get("fu_login") / argon2["max_rps"], ">=", 0.8,
      normalised=argon2["cpu_ms"] / login_cpu_ms if login_cpu_ms else float("nan"))
print("| target | measured | wanted | | per CPU-second instead of per second |")
print("|---|--:|--:|---|--:|")
for c in checks:
    print(f"| {c[0]} | {c[1]} | {c[2]} | {c[3]} | {c[4]} |")
print()
print("PASS/MISS judge the raw numbers, as the issue states the targets. The last column "
      "divides by the CPU time the server and its data stores used instead of by wall-clock "
      "time (for the login: CPU of one verification / server CPU per login), which the other "
      "tenants of a shared machine disturb less.")
