#!/usr/bin/env bash
# Runs tests as on a fresh machine: no system Chromium, no system PostgreSQL, an empty TMPDIR, no network,
# without stopping or changing the machine's own services. The tests must then bring their own browser
# (@sparticuz/chromium) and database (embedded-postgres), as they do on a user's machine.
#
#   .ci/fresh-machine.sh [test files...]     default: test/web/pages.test.ts test/relayer/flow.test.ts
#
# How: the tests run in new Linux namespaces (needs root, as in CI):
#   - network: only a fresh loopback, so 127.0.0.1:5432 (and every other local service) does not answer;
#   - mount:   PostgreSQL's Unix-socket folder and binaries, and every system Chromium, are covered by empty
#              mounts; TMPDIR is an empty folder (so Chromium is unpacked from the npm package from scratch);
#   - pid:     every process the tests start (node, PostgreSQL, Chromium) ends with the run.
# The mounts are private to the namespace; the machine sees none of them. Before running anything the script
# PROVES the hiding works and stops if it does not. Contracts must be compiled already (it runs --no-compile).
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."

BROWSER_NAMES=(chromium chromium-browser google-chrome google-chrome-stable chrome)
# Where distributions put the real browser binary (Debian's /usr/bin/chromium is a script that runs the first).
BROWSER_BINARIES=(/usr/lib/chromium/chromium /usr/lib/chromium-browser/chromium-browser /opt/google/chrome/chrome)
# The PATH inside is node/npm/npx, then these usual system folders (`id`, `sh`, ... are there on any machine);
# the browsers in them are covered below.
STANDARD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

fail() {
  echo "fresh-machine: $*" >&2
  exit 1
}

if [[ "${1:-}" != "--inside" ]]; then
  [[ $(id -u) -eq 0 ]] || fail "needs root (it makes network and mount namespaces with unshare)"
  command -v unshare >/dev/null || fail "needs unshare (util-linux)"
  command -v ip >/dev/null || fail "needs ip (iproute2) to bring up the loopback inside the network namespace"
  scratch=$(mktemp -d /var/tmp/fresh-machine.XXXXXX)
  # Traversable: run as root, the embedded PostgreSQL server runs as another OS user with its data under TMPDIR.
  chmod 0755 "$scratch"
  trap 'rm -rf "$scratch"' EXIT
  mkdir "$scratch/bin" "$scratch/tmp" "$scratch/empty"
  chmod 1777 "$scratch/tmp"
  # An empty, non-executable file mounted over each browser: exec fails, and PATH lookups skip it.
  : >"$scratch/empty-file"
  chmod 0644 "$scratch/empty-file"
  # The PATH inside starts with node, npm and npx only (wherever this machine has them, e.g. nvm).
  for tool in node npm npx; do
    ln -s "$(readlink -f "$(command -v "$tool")")" "$scratch/bin/$tool"
  done
  # The browser folders to cover: this PATH's and the standard ones (captured here, where PATH is the caller's).
  export FRESH_SCRATCH=$scratch FRESH_HOST_PATH="$PATH:$STANDARD_PATH"
  echo "fresh-machine: outside, 127.0.0.1:5432 $( (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && echo answers || echo "does not answer")"
  # --fork --pid --mount-proc: the script is PID 1 of the namespace, so nothing it starts outlives it.
  # --propagation private: the mounts below never reach the machine's mount table.
  set +e
  unshare --net --mount --pid --fork --mount-proc --propagation private -- "$self" --inside "$@"
  status=$?
  set -e
  exit "$status"
fi

# ---- inside the namespaces -------------------------------------------------------------------------------
shift
scratch=$FRESH_SCRATCH
host_path=$FRESH_HOST_PATH
unset FRESH_SCRATCH FRESH_HOST_PATH
ip link set lo up # hardhat node, the relayer and an embedded PostgreSQL listen on 127.0.0.1 inside

# PostgreSQL: its TCP port is gone with the network namespace; its Unix socket lives in the filesystem (sockets
# reach across network namespaces), so cover the socket folder.
for d in /run/postgresql /var/run/postgresql; do
  if [[ -d $d ]]; then mount --bind "$scratch/empty" "$d"; fi
done

# Chromium: cover each system browser in every PATH folder and its usual install places.
IFS=: read -r -a host_dirs <<<"$host_path"
masked=()
for dir in "${host_dirs[@]}"; do
  [[ -n $dir ]] || continue
  for name in "${BROWSER_NAMES[@]}"; do
    if [[ -e $dir/$name ]]; then masked+=("$dir/$name"); fi
  done
done
for f in "${BROWSER_BINARIES[@]}"; do
  if [[ -e $f ]]; then masked+=("$f"); fi
done
for f in "${masked[@]}"; do
  mount --bind "$scratch/empty-file" "$f" # a symlink is followed: its target is covered
done

# An empty temporary folder, so nothing unpacked or initialised by an earlier run is reused (the packaged
# Chromium and the tests' embedded PostgreSQL live under os.tmpdir()). TMPDIR rather than a mount over /tmp: the
# checkout itself may be under /tmp.
export TMPDIR="$scratch/tmp"
# A developer's .env could name a database or browser; a fresh clone has none.
if [[ -e .env ]]; then mount --bind "$scratch/empty-file" .env; fi

export PATH="$scratch/bin:$STANDARD_PATH"
unset CHROMIUM_PATH TEST_PG_URL TEST_DATABASE_URL DATABASE_URL \
  PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGPASSFILE

# ---- proof that both are hidden ------------------------------------------------------------------------
echo "fresh-machine: covered browsers: ${masked[*]:-(none on this machine)}"
if command -v pg_isready >/dev/null; then
  pg_isready -q -h 127.0.0.1 -p 5432 && fail "PostgreSQL at 127.0.0.1:5432 still answers inside"
  pg_isready -q && fail "PostgreSQL still answers on its Unix socket inside"
fi
for host in 127.0.0.1 localhost; do
  (exec 3<>"/dev/tcp/$host/5432") 2>/dev/null && fail "a TCP connect to $host:5432 still succeeds inside"
done
# PostgreSQL's own binaries go too (after pg_isready above has been used), so nothing can start a system server.
if [[ -d /usr/lib/postgresql ]]; then mount --bind "$scratch/empty" /usr/lib/postgresql; fi
for name in "${BROWSER_NAMES[@]}"; do
  found=$(command -v "$name" || true)
  [[ -z $found ]] || fail "$name is still on PATH inside: $found"
done
for f in /usr/bin/chromium "${masked[@]}" "${BROWSER_BINARIES[@]}"; do
  [[ -x $f ]] && fail "$f is still executable inside"
  "$f" --version >/dev/null 2>&1 && fail "$f still runs inside"
done
echo "fresh-machine: proven inside: 127.0.0.1:5432 and the PostgreSQL socket do not answer, no Chromium on PATH" \
  "or at /usr/bin/chromium, an empty TMPDIR, no network but loopback"

# ---- the tests -----------------------------------------------------------------------------------------
files=("$@")
[[ ${#files[@]} -gt 0 ]] || files=(test/web/pages.test.ts test/relayer/flow.test.ts)
log="$scratch/test.log"
set +e
npx hardhat test --no-compile "${files[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
[[ $status -eq 0 ]] || fail "tests failed (exit $status)"
# The browser test logs which Chromium it launched: here it must be the npm package's.
if [[ " ${files[*]} " == *" test/web/pages.test.ts "* ]]; then
  grep -q "browser: @sparticuz/chromium" "$log" || fail "the browser test did not launch @sparticuz/chromium"
fi
echo "fresh-machine: passed"
