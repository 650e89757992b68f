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

step "sign the example plugins into a bundle (reproducible: same bytes every time)"
cp build/plugins/hello/hello.so build/plugins/bank/bank.so "$work/src/"
run gensrc examples "$work/demo.pem" "$work/src" version:1.0 \
    --info "hello and bank example actors" '*.so'
run tlsinfo "$THESPIAN_DIRECTOR_DIR/examples-1.0.tls" contents

step "start a host on $THESPIAN_ENDPOINT (its Source Authority reads $THESPIAN_DIRECTOR_DIR)"
run start
step "load the bundle: verified, unpacked into its own namespace"
run load "$THESPIAN_DIRECTOR_DIR/examples-1.0.tls"
run list
hash=$("$T" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"][:12])')

step "talk to a greeter created from the source"
run create hello.Greeter --name greeter --source "$hash"
run ask greeter Greet '{"name": "world"}'
run ask greeter Greet '{"name": "again"}'
step "a handler that fails twice: restarted, retried, returned as PoisonMessage"
run ask greeter Crash '{}' || true

step "a bank: accounts are child actors"
run create bank.Bank --name bank --source "$hash"
run ask bank Open '{"account": "alice", "balance": 100}'
run ask bank Open '{"account": "bob"}'
run ask bank Transfer '{"from": "alice", "to": "bob", "amount": 30}'
run ask bank Balance '{"account": "bob"}'
run ask bank Transfer '{"from": "bob", "to": "alice", "amount": 500}'

step "the system's status"
run status

step "unload the source (its code is unmapped once its actors are gone), then shut down"
run unload "$hash"
run shutdown
