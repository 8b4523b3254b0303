#!/usr/bin/env bash
# Runs the README's walkthrough block as a script, command by command as
# written, and fails on the first command that fails. Only paths change: the
# binaries come from BUILD_DIR and the data dirs and logs (/tmp/nN) move into
# a fresh temporary directory; the script also waits for each daemon to
# answer before the first command, as a person typing would.
#   walkthrough.sh README.md BUILD_DIR
set -euo pipefail
readme=$1
build=$2
work=$(mktemp -d /tmp/skep-walk-XXXXXX)

cleanup() {
  pkill -KILL -f -- "--data-dir $work/" 2>/dev/null || true
  for p in /proc/[0-9]*; do
    case $(readlink "$p/cwd" 2>/dev/null) in "$work"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true;; esac
  done
  rm -rf "$work"
}
trap cleanup EXIT

block=$(awk '/^## Walkthrough/ { in_section = 1 }
             in_section && /^```sh/ { in_block = 1; next }
             in_block && /^```/ { exit }
             in_block' "$readme")
if [ -z "$block" ]; then
  echo "walkthrough: no sh block under '## Walkthrough' in $readme" >&2
  exit 1
fi
block=${block//build\/actors/$build/actors}
block=${block//\/tmp\/n/$work/n}
# After the loop that starts the daemons (the first line that is `done`).
block=$(printf '%s\n' "$block" | awk '{ print } !waited && $0 == "done" { print "await_daemons"; waited = 1 }')

await_daemons() {
  for i in 1 2 3; do
    for _ in $(seq 1 200); do
      "$build/actors/skep" -H "unix://$work/n$i/skepd.sock" version >/dev/null 2>&1 && continue 2
      sleep 0.05
    done
    echo "walkthrough: node$i did not answer within 10 s" >&2
    cat "$work/n$i.log" >&2 || true
    exit 1
  done
}

task_processes() {
  local n=0
  for p in /proc/[0-9]*; do
    case $(readlink "$p/cwd" 2>/dev/null) in "$work"/*/tasks/*) n=$((n + 1));; esac
  done
  echo "$n"
}

on_failure() {
  echo "walkthrough: failed at line $1; the nodes' logs follow" >&2
  tail -n 30 "$work"/n*.log >&2 || true
}
trap 'on_failure $LINENO' ERR

shopt -s expand_aliases
PS4='+ walkthrough: '
set -x
eval "$block"
set +x
# The block ends by stopping the daemons: each must exit cleanly.
for job in 1 2 3; do
  wait "%$job"
done
left=$(task_processes)
if [ "$left" -ne 0 ]; then
  echo "walkthrough: $left task processes still run" >&2
  exit 1
fi
echo "walkthrough: every command succeeded; every node stopped cleanly"
