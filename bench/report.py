"""Prints scripts/bench's table and the issue's target checks from its rows (JSON lines)."""

import json
import sys

(rows_path, argon2_path, date, cores, cpu, mem_gb, command, duration, warmup, conc,
 auth_conc, storm_conc, probe_conc) = sys.argv[1:14]
load_start, load_end = (sys.argv[14:16] + ["?", "?"])[:2]
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
    pc = "" if pc != pc or k == "fu_me_storm" else (f"{pc:,.0f}" if pc >= 100 else f"{pc:.1f}")
    db = "" if k == "fu_me_storm" else ms(r["db_ms"])
    print(f"| {r['label']} | {r['conc']} | {rps} | {r['p50']:.2f} | {r['p99']:.2f} "
          f"| {r['rss_mb']:.1f} | {ms(r['srv_ms'])} | {db} | {pc} | {r['errors']} |")
storm = rows.get("fu_me_storm", {}).get("storm_logins")
if storm:
    srps = storm["requests"] / (storm["duration_us"] / 1e6)
    print(f"| (the storm itself: POST /auth/jwt/login) | {storm_conc} | {srps:,.1f} | "
          f"{storm['p50_us'] / 1000:.0f} | {storm['p99_us'] / 1000:.0f} | | | | | "
          f"{storm['socket_errors'] + storm['status_errors']} |")
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


check_ratio("JWT + PostgreSQL /users/me vs the JWT-only axum route (throughput ratio)",
            "fu_me_jwt_pg", "limit_jwt", 0.5, "{:.2f}")
check_ratio("JWT + PostgreSQL /users/me vs fastapi-users (throughput ratio)",
            "fu_me_jwt_pg", "ref_me_jwt_pg", 20, "{:.1f}")
check_ratio("the same, with the opt-in user cache (USER_CACHE_SECONDS=5), vs the JWT-only axum route",
            "fu_me_jwt_pg_cache", "limit_jwt", 0.5, "{:.2f}")
check_ratio("the same, with the user cache, vs fastapi-users",
            "fu_me_jwt_pg_cache", "ref_me_jwt_pg", 20, "{:.1f}")
check_ratio("Bearer + Redis /users/me vs fastapi-users (throughput ratio)",
            "fu_me_redis", "ref_me_redis", 10, "{:.1f}")
check_ratio("Bearer + Redis with the user cache vs fastapi-users",
            "fu_me_redis_cache", "ref_me_redis", 10, "{:.1f}")
check_ratio("Cookie + database /users/me vs fastapi-users (throughput ratio)",
            "fu_me_session", "ref_me_session", 10, "{:.1f}")
check("/users/me p99 during the login storm / idle p99",
      get("fu_me_storm", "p99") / get("fu_me_idle", "p99"), "<=", 3)
fu_keys = [k for k in order if k.startswith("fu_")]
me_keys = [k for k in fu_keys if k.startswith("fu_me_") and k != "fu_me_storm"]
check("example's peak RSS under GET /users/me loads, MB",
      max(rows[k]["rss_mb"] for k in me_keys), "<=", 50, "{:.1f}")
check("example's peak RSS during the login storm, MB",
      get("fu_me_storm", "rss_mb"), "<=", 50, "{:.1f}")
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
