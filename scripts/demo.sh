#!/usr/bin/env bash
# The main job on the sample replicas committed in tests/fixtures/sample
# (exported from real Kuzu 0.11.3 by scripts/make_samples.mjs): installs
# what is missing, builds, then diffs two sites, ships the difference as a
# bundle and by push (local path and the TLS daemon on loopback), then syncs
# both sites through the daemon as cron would, and shows that they agree.
# Works on copies; the fixtures stay as they are.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh release
ks=$PWD/build/src/kuzusync
work=$(mktemp -d /tmp/kuzusync-demo.XXXXXX)
daemon_pid=""
cleanup() { [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp -r tests/fixtures/sample/siteA "$work/siteA"
cp -r tests/fixtures/sample/siteB "$work/siteB"
cd "$work"

run() { echo; echo "\$ kuzusync $*"; "$ks" "$@" || echo "(exit $?)"; }
run hash siteA
run diff siteA siteB
run diff siteA siteB --rows --table City
run bundle siteA siteB -o a-to-b.kzb
run inspect a-to-b.kzb
cp -r siteB siteB-by-bundle
run apply a-to-b.kzb siteB-by-bundle
run diff siteA siteB-by-bundle

# push over a path, keeping siteB's own rows, then with --delete
cp -r siteB siteB-by-push
run push siteA siteB-by-push
run push siteA siteB-by-push --delete --json
run diff siteA siteB-by-push

# the TLS daemon on loopback with a self-signed certificate and a token
mkdir -p hub && cp -r siteB hub/main
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
token=$(openssl rand -hex 16)
echo "$token rw" > tokens && echo "$token" > token
port=$((20000 + RANDOM % 20000))
"$ks" serve --listen 127.0.0.1:$port --root hub --tls-cert cert.pem --tls-key key.pem \
  --token-file tokens 2>daemon.log &
daemon_pid=$!
sleep 0.5
run push siteA kuzusync://127.0.0.1:$port/main --delete --ca-file cert.pem --token-file token --json
run diff siteA kuzusync://127.0.0.1:$port/main --ca-file cert.pem --token-file token

# sync: both sites through the daemon, as their cron would run it. The first
# sync of each is full (no checkpoint yet); rows that differ are conflicts,
# resolved last-writer-wins and kept for `kuzusync conflicts`.
cp -r siteB hub/shared
cp -r siteA siteA-sync && cp -r siteB siteB-sync
remote=kuzusync://127.0.0.1:$port/shared
auth=(--ca-file cert.pem --token-file token)
run sync siteA-sync $remote "${auth[@]}"
run sync siteB-sync $remote "${auth[@]}"
run sync siteA-sync $remote "${auth[@]}" --json
# a change at site A (as its next export would show it) travels incrementally
sed -i 's/^City A,\([A-Z]*\),[0-9]*$/City A,\1,424242/' siteA-sync/City.csv
run sync siteA-sync $remote "${auth[@]}"
run sync siteB-sync $remote "${auth[@]}" --emit-cypher incoming
run diff siteA-sync siteB-sync
run status siteB-sync
run log siteB-sync
run conflicts siteA-sync
