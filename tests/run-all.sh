#!/usr/bin/env bash
# Every test, against the sanitizer build: Criterion unit tests, each libFuzzer target
# for a bounded time, then the integration suite (real runnel-server, real clients), then
# the client suites again against a three-broker cluster. Runs all four parts whatever
# fails, and exits non-zero if any did. pytest's summary is the last line.
set -uo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
failed=()

echo "== unit tests (Criterion, ASan+UBSan)"
ctest --test-dir build-asan --output-on-failure || failed+=(unit)

echo "== fuzzing (${FUZZ_SECONDS}s per target, $(nproc) at a time)"
# Each target in the background, as many at once as there are cores; reported in order.
fuzz_start() { # target -> its corpus dir (the log beside it)
    local f=$1 name seeds corpus
    name=$(basename "$f"); seeds=tests/fuzz/seeds/${name#fuzz_}
    corpus=$(mktemp -d)
    [ -d "$seeds" ] && cp "$seeds"/* "$corpus"/ 2>/dev/null
    "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$corpus/" "$corpus" >"$corpus.log" 2>&1 &
    pids+=($!); corpora+=("$corpus"); names+=("$name")
}
fuzz_report() {
    for i in "${!pids[@]}"; do
        local corpus=${corpora[$i]} name=${names[$i]}
        if wait "${pids[$i]}"; then
            echo "$name: $(grep -E '^#[0-9]+.*DONE' "$corpus.log" | tail -1)"
        else
            echo "$name: FAILED"; tail -40 "$corpus.log"; failed+=("$name")
            ls "$corpus"/crash-* "$corpus"/leak-* "$corpus"/timeout-* 2>/dev/null
        fi
        rm -rf "$corpus" "$corpus.log"
    done
    pids=(); corpora=(); names=()
}
pids=(); corpora=(); names=()
for f in build-fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    fuzz_start "$f"
    [ ${#pids[@]} -lt "$(nproc)" ] || fuzz_report
done
fuzz_report

echo "== integration tests (real runnel-server, real clients)"
export RUNNEL_SERVER=${RUNNEL_SERVER:-$PWD/build-asan/runnel-server}
export RUNNEL_BUILD=${RUNNEL_BUILD:-$PWD/build-asan}
/usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=25 tests/integration
rc=$?
[ $rc -eq 0 ] || failed+=(integration)

# One suite per client library and one group suite each (kcat and confluent-kafka-python's
# group suite are librdkafka again, and run against single brokers above; RUNNEL_CLUSTER=3
# runs them too).
echo "== client suites against a three-broker cluster (RUNNEL_CLUSTER=3)"
RUNNEL_CLUSTER=3 /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=10 \
    tests/integration/test_librdkafka.py tests/integration/test_confluent_python.py \
    tests/integration/test_kafka_python.py tests/integration/test_kafkajs.py \
    tests/integration/test_groups_librdkafka.py tests/integration/test_groups_kafka_python.py \
    tests/integration/test_groups_kafkajs.py
[ $? -eq 0 ] || failed+=(cluster-clients)

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
exit 0
