# Shell helpers of the scripts in this folder. Sourced, not run; the sourcing script defines
# `step` (progress line) and `die` (error and exit) first.

# apt_install PACKAGE...: installs with apt-get (root), running `apt-get update` once first.
APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "need to install $* but apt-get is not available"
    if [[ $APT_UPDATED -eq 0 ]]; then
        step "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    step "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A free TCP port on 127.0.0.1.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' && return 0
    fi
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "could not find a free TCP port"
}

# Directory holding initdb, postgres and pg_ctl (symlinks resolved, so pg_ctl finds its
# sibling `postgres`), or empty.
find_pg_bin() {
    local cand dir
    for cand in "$(command -v initdb 2>/dev/null || true)" /usr/local/bin/initdb; do
        [[ -n $cand && -x $cand ]] || continue
        dir=$(dirname "$(readlink -f "$cand")")
        if [[ -x $dir/postgres && -x $dir/pg_ctl ]]; then echo "$dir"; return 0; fi
    done
    while IFS= read -r dir; do
        if [[ -x $dir/initdb && -x $dir/postgres && -x $dir/pg_ctl ]]; then echo "$dir"; return 0; fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
    return 0
}

# ensure_pg_user NAME: the system user PostgreSQL runs as (it refuses to run as root).
ensure_pg_user() {
    if ! id -u "$1" >/dev/null 2>&1; then
        step "creating system user $1"
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$1" 2>/dev/null || id -u "$1" >/dev/null
    fi
}

# Every request of the scripts has a bound: a server that stops answering fails the script at
# once, with the request that hung, instead of running into CI's limit. FASTUSERS_REQUEST_TIMEOUT
# (seconds, default 30) changes it.
REQUEST_TIMEOUT=${FASTUSERS_REQUEST_TIMEOUT:-30}
curl() {
    local rc=0
    command curl --max-time "$REQUEST_TIMEOUT" "$@" || rc=$?
    if [[ $rc -eq 28 ]]; then
        printf 'scripts: a request got no answer within %ss (curl %s)\n' "$REQUEST_TIMEOUT" "$*" >&2
    fi
    return "$rc"
}

# The directory cargo builds into: $CARGO_TARGET_DIR, a `build.target-dir` setting, or target/.
cargo_target_dir() {
    local dir
    dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null) || true
    echo "${dir:-${CARGO_TARGET_DIR:-$PWD/target}}"
}
