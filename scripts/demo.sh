#!/usr/bin/env bash
# The main job, on a fresh machine: install what is missing, build, then
# tell thespian-c's story end to end in a temporary director directory —
# make a signing key, sign the example plugins into a bundle, start a host,
# load the bundle through the Source Authority, talk to its actors (a
# greeter, a bank with accounts as child actors, a failure that comes back
# as PoisonMessage), show the system's status, and shut down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

if [ ! -f build/build.ninja ]; then
  meson setup build >/dev/null
fi
ninja -C build >/dev/null
T=$PWD/build/director/thespian

work=$(mktemp -d /tmp/thespian-demo-XXXXXX)
export THESPIAN_DIRECTOR_DIR=$work/director
mkdir -p "$THESPIAN_DIRECTOR_DIR" "$work/src"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export THESPIAN_ENDPOINT=tcp://127.0.0.1:$port
cleanup() { "$T" shutdown --timeout 10 >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ thespian %s\n' "$*"; "$T" "$@"; }

step "a signing key; hosts trust its public half"
run keygen demo --dir "$work"
cp "$work/demo_tls.key" "$THESPIAN_DIRECTOR_DIR/"

step "sign the greeter (with a TLI: the Director runs it as role 'greeter') and the bank"
mkdir -p "$work/hello1" "$work/hello2" "$work/bank"
cp build/plugins/hello/hello.so "$work/hello1/hello.so"
cp build/plugins/hello/hello_v2.so "$work/hello2/hello.so"   # the next release
cp build/plugins/bank/bank.so "$work/bank/"
tli='{"Actors": {"hello.Greeter": {"Role": "greeter", "GlobalName": "greeter"}},
      "AutoUnload": true}'
echo "$tli" > "$work/hello1/hello.tli"
echo "$tli" > "$work/hello2/hello.tli"
run gensrc hello "$work/demo.pem" "$work/hello1" version:1.0 --info "greeter v1" '*.so'
run gensrc bank "$work/demo.pem" "$work/bank" version:1.0 --info "a bank" '*.so'
run tlsinfo "$THESPIAN_DIRECTOR_DIR/hello-1.0.tls"

step "start a host on $THESPIAN_ENDPOINT (Source Authority and Director on $THESPIAN_DIRECTOR_DIR)"
run start
step "load: verified, unpacked into its own namespace; the Director starts the greeter"
run load "$THESPIAN_DIRECTOR_DIR/hello-1.0.tls"
sleep 0.5
run ask greeter Greet '{"name": "world"}'
run ask greeter Greet '{"name": "again"}'
step "a handler that fails twice: retried once, returned as PoisonMessage; the count is kept"
run ask greeter Crash '{}' || true
run ask greeter Greet '{"name": "after the crash"}'

step "a bank: accounts are child actors"
run load "$THESPIAN_DIRECTOR_DIR/bank-1.0.tls"
bank=$("$T" list --json | python3 -c 'import json,sys; print([s["hash"] for s in json.load(sys.stdin) if s["group"]=="bank"][0][:12])')
run create bank.Bank --name bank --source "$bank"
run ask bank Open '{"account": "alice", "balance": 100}'
run ask bank Open '{"account": "bob"}'
run ask bank Transfer '{"from": "alice", "to": "bob", "amount": 30}'
run ask bank Balance '{"account": "bob"}'
run ask bank Transfer '{"from": "bob", "to": "alice", "amount": 500}'

step "hot swap: sign and load version 2 of the greeter"
run gensrc hello "$work/demo.pem" "$work/hello2" version:2.0 --info "greeter v2" '*.so'
run load "$THESPIAN_DIRECTOR_DIR/hello-2.0.tls"
sleep 0.5
step "same name, new code, the count carried over (state handoff); v1 unloaded (AutoUnload)"
run ask greeter Greet '{"name": "world"}'
run list

step "the system's status"
run status

step "shut down"
run shutdown
