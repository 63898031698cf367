#!/usr/bin/env bash
# Runs the engine issue's command-line acceptance checks against the built
# binary: the golden greedy continuations, and clean one-line errors with a
# non-zero exit for broken model files.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
shared=../shared/testdata/models
bin=$(mktemp -d)/golem
go build -o "$bin" ./cmd/golem
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$(dirname "$bin")"' EXIT

fail=0
check_golden() { # model n_predict expected-continuation
	local out
	out=$("$bin" run "$shared/$1" "Once upon a time" --temperature 0 --num-predict "$2")
	if [ "$out" != "$3" ]; then
		echo "FAIL: $1 printed:"; printf '%s\n' "$out"; echo "want:"; printf '%s\n' "$3"; fail=1
	else
		echo "ok: $1 greedy continuation matches the golden file"
	fi
}
golden() { # model -> continuation from the golden JSON
	python3 -c 'import json,sys
for g in json.load(open(sys.argv[1]))["generations"]:
    if g["model"] == sys.argv[2]: sys.stdout.write(g["continuation"])' "$shared/golden/stories260K.greedy.json" "$1"
}
check_golden stories260K.gguf 64 "$(golden stories260K.gguf)"
for m in stories260K-q8_0-mix.gguf stories260K-q5_0-mix.gguf stories260K-q4_0-mix.gguf; do
	check_golden "$m" 32 "$(golden "$m")"
done

check_error() { # description file
	local err rc=0
	err=$("$bin" run "$2" "hi" --num-predict 1 2>&1 >/dev/null) || rc=$?
	if [ "$rc" -eq 0 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [ -z "$err" ]; then
		echo "FAIL: $1: exit $rc, stderr:"; printf '%s\n' "$err"; fail=1
	else
		echo "ok: $1: exit $rc: $err"
	fi
}
src="$shared/stories260K.gguf"
size=$(stat -c %s "$src")
for cut in 3 24 1000 $((size / 2)) $((size - 1)); do
	head -c "$cut" "$src" >"$tmp/cut.gguf"
	check_error "truncated at byte $cut" "$tmp/cut.gguf"
done
{ printf 'GGUX'; tail -c +5 "$src"; } >"$tmp/magic.gguf"
check_error "wrong magic" "$tmp/magic.gguf"
go run ./scripts/badoffset "$src" "$tmp/offset.gguf"
check_error "tensor offset past the end" "$tmp/offset.gguf"
check_error "missing file" "$tmp/does-not-exist.gguf"
exit $fail
