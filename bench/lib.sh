# bench/lib.sh: shell helpers shared by bench/run.sh and bench/hooks.sh (sourced, bash).
# Every background process started through bench_spawn is in BENCH_PIDS, and
# bench_cleanup (the scripts' EXIT trap) stops whichever are still running.

BENCH_PIDS=()

# A free TCP port on loopback (the kernel picks it; a race with another process binding
# it before us is possible but unlikely).
bench_free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:$1 accepts a connection; $2 = seconds (default 30). Returns 1
# on timeout or when the process $3 (if given) died.
bench_wait_port() {
    local port=$1 tries=$(( ${2:-30} * 50 )) pid=${3:-}
    for ((i = 0; i < tries; i++)); do
        (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
        [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
        sleep 0.02
    done
    return 1
}

# Runs "$@" in the background, remembers its pid in BENCH_PIDS and in the variable
# named $1 (printf -v: no subshell, so the caller's cleanup sees it).
bench_spawn() {
    local var=$1; shift
    "$@" &
    local pid=$!
    BENCH_PIDS+=("$pid")
    printf -v "$var" '%s' "$pid"
}

# SIGTERM to $1, then wait for it (SIGKILL after 60 s).
bench_stop() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 3000; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${BENCH_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    BENCH_PIDS=("${keep[@]}")
}

bench_cleanup() {
    local p
    for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    BENCH_PIDS=()
}

bench_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

bench_now() { date +%s.%N; }

# The value of NAME in the last "result name=value ..." line of file $2.
bench_field() {
    grep -E '^result ' "$2" | tail -1 | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'
}

# A runnel-server on 127.0.0.1:$2 with data in $3, log.flush.sync=$4, retention off and
# no HTTP listener; further arguments are more --set key=value pairs. Sets RUNNEL_PID.
# The data dir is kept if it exists (a restart), so callers rm -rf it for a fresh one.
bench_runnel_start() {
    local server=$1 port=$2 data=$3 sync=$4; shift 4
    local sets=() kv
    for kv in "$@"; do sets+=(--set "$kv"); done
    bench_spawn RUNNEL_PID "$server" -c conf/runnel.conf --set "listeners=PLAINTEXT://127.0.0.1:$port" \
        --set "data.dir=$data" --set http.listener= --set "log.flush.sync=$sync" --set log.retention.ms=-1 \
        "${sets[@]}" 2>>"$data.log"
    if ! bench_wait_port "$port" 60 "$RUNNEL_PID"; then
        echo "runnel-server did not start:" >&2; tail -20 "$data.log" >&2; return 1
    fi
}
