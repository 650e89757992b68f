#!/usr/bin/env bash
# The test command: installs what is missing, builds thespian-c twice (plain,
# and with AddressSanitizer + UndefinedBehaviorSanitizer), runs the whole
# suite in both builds, and ends with the line "N passed, N failed" counted
# from meson's test logs (each TAP case counts once).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

# any sanitizer report fails the test that caused it
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"

status=0
setup() { # dir, extra meson args...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
  fi
  ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { tail -50 "$dir.ninja.log"; return 1; }
}
run_suite() { # dir, meson test args...
  local dir=$1; shift
  meson test -C "$dir" --no-rebuild --print-errorlogs "$@" || status=1
}

if setup build; then
  run_suite build
else
  status=1
fi
if setup build-asan -Db_sanitize=address,undefined; then
  run_suite build-asan --timeout-multiplier 4
else
  status=1
fi

python3 scripts/count_results.py build/meson-logs/testlog.json \
  build-asan/meson-logs/testlog.json || status=1
exit $status
