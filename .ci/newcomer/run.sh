#!/usr/bin/env bash
# Newcomer walkthrough: from nothing but a git checkout, does what README.md and docs/DEPLOY.md tell a newcomer
# to run, in the documented order, in a fresh clone of the repository:
#
#   clone        git clone <this repository> <temp>/orderchain            (HEAD; see --worktree)
#   npm ci       install from the lockfile
#   chain        npm run chain                                 (background; waits until 127.0.0.1:8545 answers)
#   deploy       npm run deploy -- --network localhost         (exit 0, deployments/31337.json written)
#   status       npm run deploy:status -- --network localhost  (exit 0, "OK: deployment is live")
#   relayer      npm run relayer against that node             (env below; /healthz and /readyz answer 200;
#                                                               SIGTERM to the relayer; the command exits 0)
#   stop chain   Ctrl-C (SIGINT) to `npm run chain`; the node must be gone
#   start        npm start                                     (background; "Ready"; the dashboard answers 200;
#                                                               a merchant order reaches "created" through the
#                                                               API; SIGINT to the stack; the command exits 0)
#   demo         npm run demo -- --exit                        (exit 0)
#
# Each step has a timeout; a failing step prints the tail of its log and the script exits non-zero (with
# --keep-going it runs the remaining independent steps first and prints a summary). Every log stays in
# <temp>/logs. Only processes this script started are stopped (by process group), also on Ctrl-C.
#
# The relayer's settings are those .env.example documents, given as environment variables (which override a
# .env): SIGNER_KEYS = Hardhat's well-known accounts #4..#7 (the local deployment's operators), ARBITER_SIGNER_KEY
# = #2, fresh random ADMIN_API_KEY, ARBITER_API_KEY and MERCHANT_KEY_SECRET; RPC_URL only when the chain is not on
# 8545; PORT only when 8080 is taken. These keys are public knowledge: local chains only. No .env is written, so
# `npm start` and `npm run demo` run the way docs/DEMO.md promises: with nothing but `npm install`.
#
# Signals: `npm run <script>` does not wait for its script when it is signalled itself (it exits 128+signal at
# once, and with SIGTERM the script's process is orphaned). So "stop with SIGTERM/SIGINT and check the exit code"
# is done the way a supervisor stops a service: the signal goes to the script's own node process (the first node
# process under npm's shell), and npm's exit code is the script's.
#
# Ports: `npm run chain` and `--network localhost` mean 127.0.0.1:8545 (README). If 8545 is taken the walkthrough
# stops (it never deploys to a node it did not start), unless --chain-port auto is given: then the chain runs on a
# free port (`npm run chain -- --port <n>`), deploy/status get LOCALHOST_RPC_URL and the relayer RPC_URL (both
# documented in .env.example); a checkout whose config does not read LOCALHOST_RPC_URL is refused.
#
# Needs: git, Node.js >= 20 with npm and the npm registry (npm ci), curl, and bash, setsid, timeout, ps, awk
# (Linux: util-linux, coreutils, procps).
#
# Usage: .ci/newcomer/run.sh [options]
#   --repo <path|url>    repository to clone (default: the checkout holding this script)
#   --ref <rev>          revision to check out after cloning (default: the repository's HEAD)
#   --worktree           also carry over the checkout's uncommitted work (tracked changes and new, not ignored
#                        files), as if committed: to try a change before committing it
#   --chain-port 8545|auto   (default 8545)
#   --workdir <dir>      where to clone and log (default: a new folder under ${TMPDIR:-/tmp})
#   --keep               keep the clone afterwards (default: only the logs are kept)
#   --keep-going         after a failure, still run the steps that do not depend on it
#   --only <steps>       comma-separated step names to run (dependencies are not added), e.g. deploy,status
set -uo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null || true)"
REF=""
WORKTREE=0
CHAIN_PORT_MODE="8545"
WORKDIR=""
KEEP=0
KEEP_GOING=0
ONLY=""

die_usage() {
  echo "run.sh: $1" >&2
  sed -n '/^# Usage:/,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --repo) REPO="${2:?--repo needs a path or URL}"; shift 2 ;;
    --ref) REF="${2:?--ref needs a revision}"; shift 2 ;;
    --worktree) WORKTREE=1; shift ;;
    --chain-port) CHAIN_PORT_MODE="${2:?--chain-port needs 8545 or auto}"; shift 2 ;;
    --workdir) WORKDIR="${2:?--workdir needs a folder}"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --keep-going) KEEP_GOING=1; shift ;;
    --only) ONLY=",${2:?--only needs step names},"; shift 2 ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die_usage "unknown argument: $1" ;;
  esac
done
[ -n "$REPO" ] || die_usage "not inside a git checkout: pass --repo"
case "$CHAIN_PORT_MODE" in 8545 | auto) ;; *) die_usage "--chain-port must be 8545 or auto" ;; esac

if [ -z "$WORKDIR" ]; then WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/orderchain-newcomer.XXXXXX")"; fi
mkdir -p "$WORKDIR/logs"
WORKDIR="$(cd "$WORKDIR" && pwd)"
CLONE="$WORKDIR/orderchain"
LOGS="$WORKDIR/logs"

# Hardhat's default mnemonic ("test test ... junk"): public keys, local chains only.
KEY2=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
KEY4=0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
KEY5=0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
KEY6=0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e
KEY7=0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356

# ------------------------------------------------------------------------------------------------ helpers

STEP_NAMES=()
STEP_RESULTS=()
STEP_TIMES=()
FAILED=0
BG_PGIDS=() # process groups of background commands this script started

now() { date +%s; }
say() { printf '%s\n' "$*"; }
record() { STEP_NAMES+=("$1"); STEP_RESULTS+=("$2"); STEP_TIMES+=("$3"); }
result_of() {
  local i
  for i in "${!STEP_NAMES[@]}"; do [ "${STEP_NAMES[$i]}" = "$1" ] && { echo "${STEP_RESULTS[$i]}"; return; }; done
  echo "not run"
}
selected() { [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]; }

tail_log() {
  local log="$1"
  say "---- last 40 lines of $log"
  tail -n 40 "$log" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g'
  say "----"
}

# run_step <name> <deps (comma-separated, may be empty)> <function> : runs the step function, records the result.
run_step() {
  local name="$1" deps="$2" fn="$3" d started rc
  if ! selected "$name"; then return 0; fi
  if [ "$FAILED" = 1 ] && [ "$KEEP_GOING" = 0 ]; then record "$name" "SKIP (earlier failure)" 0; return 0; fi
  for d in ${deps//,/ }; do
    if selected "$d" && [ "$(result_of "$d")" != "PASS" ]; then
      record "$name" "SKIP ($d did not pass)" 0
      say "== $name: skipped ($d did not pass)"
      return 0
    fi
  done
  say ""
  say "== $name"
  started=$(now)
  "$fn"
  rc=$?
  if [ $rc = 0 ]; then
    record "$name" "PASS" $(($(now) - started))
    say "   PASS ($(($(now) - started)) s)"
  else
    record "$name" "FAIL" $(($(now) - started))
    say "   FAIL ($(($(now) - started)) s): log $LOGS/$name.log"
    tail_log "$LOGS/$name.log"
    FAILED=1
  fi
}

fail() { say "   $*"; echo "run.sh: $*" >>"$CURRENT_LOG"; return 1; }

# Runs a command in the clone with a timeout (`timeout` runs it in its own process group and kills the whole group
# on expiry). Waited for in the background so that Ctrl-C reaches this script's trap at once.
FG_PID=""
in_clone() {
  local secs="$1" rc
  shift
  (cd "$CLONE" && exec timeout --kill-after=15 "$secs" "$@") 7>&- &
  FG_PID=$!
  wait "$FG_PID"
  rc=$?
  FG_PID=""
  [ $rc != 124 ] || echo "run.sh: timed out after $secs s" >&2
  return $rc
}

# Starts a command in the clone in its own process group, output to $1; sets BG_PID (also its PGID).
start_bg() {
  local log="$1"; shift
  (cd "$CLONE" && exec setsid "$@") >"$log" 2>&1 </dev/null 7>&- &
  BG_PID=$!
  BG_PGIDS+=("$BG_PID")
}

alive() { kill -0 "$1" 2>/dev/null; }

# Members of process group $1 still running.
group_members() { ps -A -o pid=,pgid= | awk -v g="$1" '$2 == g { print $1 }'; }

# The script's own node process under `npm run <script>` (pid $1): the first node process whose parent is a
# shell or npm itself (the scripts `exec` node, which replaces npm's shell), searched breadth-first below npm
# (npm itself excluded).
script_process() {
  ps -A -o pid=,ppid=,comm= | awk -v root="$1" '
    { ppid[$1] = $2; comm[$1] = $3; kids[$2] = kids[$2] " " $1 }
    END {
      queue = kids[root]
      while (queue != "") {
        split(queue, q, " "); queue = ""
        for (i in q) {
          p = q[i]
          if (comm[p] == "node" && (ppid[p] == root || comm[ppid[p]] == "sh" || comm[ppid[p]] == "bash" || comm[ppid[p]] == "dash")) { print p; exit }
          queue = queue kids[p]
        }
      }
    }'
}

# Stops `npm run <script>` (npm pid $1) as a supervisor or a terminal would: signal $2 to the script's own node
# process, then npm must exit 0 within $3 seconds and leave nothing running. $4 names it in messages.
stop_script() {
  local pid="$1" sig="$2" secs="$3" what="$4" target
  target="$(script_process "$pid")"
  [ -n "$target" ] || { fail "cannot find the node process of $what under npm (pid $pid)"; return 1; }
  say "   SIG$sig to $what's process (pid $target)"
  kill "-$sig" "$target"
  wait_exit "$pid" "$secs" || { fail "$what still running $secs s after SIG$sig"; return 1; }
  [ "$WAIT_RC" = 0 ] || { fail "$what exited $WAIT_RC after SIG$sig (expected 0)"; return 1; }
  group_gone "$pid" 10 || return 1
  say "   exited 0, nothing left running"
}

# Waits up to $2 seconds for pid $1 to exit; sets WAIT_RC. Returns 1 on timeout.
wait_exit() {
  local pid="$1" secs="$2" i
  for ((i = 0; i < secs * 5; i++)); do
    if ! alive "$pid"; then
      wait "$pid" 2>/dev/null
      WAIT_RC=$?
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# Stops a background process group: $2 to the group, then SIGKILL after $3 seconds.
stop_group() {
  local pgid="$1" sig="${2:-TERM}" secs="${3:-10}" i
  [ -n "$(group_members "$pgid")" ] || return 0
  kill -"$sig" -- -"$pgid" 2>/dev/null
  for ((i = 0; i < secs * 5; i++)); do
    [ -n "$(group_members "$pgid")" ] || return 0
    sleep 0.2
  done
  kill -KILL -- -"$pgid" 2>/dev/null
  return 1
}

# Waits up to $2 seconds for process group $1 to be empty; otherwise says what is left.
group_gone() {
  local pgid="$1" secs="$2" i left
  for ((i = 0; i < secs * 5; i++)); do
    [ -n "$(group_members "$pgid")" ] || return 0
    sleep 0.2
  done
  left="$(group_members "$pgid" | tr '\n' ',' | sed 's/,$//')"
  fail "still running ${secs} s after the command exited: $(ps -o pid=,args= -p "$left" | cut -c1-160 | tr '\n' ';')"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

rpc_chain_id() {
  curl -s -m 3 -X POST -H 'content-type: application/json' \
    --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$1" 2>/dev/null
}

http_status() { curl -s -o /dev/null -w '%{http_code}' -m 10 "$@" 2>/dev/null || true; }

# JSON field from stdin: json_get '.a.b' (node is a prerequisite anyway).
json_get() {
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{let v=JSON.parse(s);for(const k of process.argv[1].split(".").filter(Boolean))v=v==null?undefined:v[k];process.stdout.write(v===undefined||v===null?"":typeof v==="object"?JSON.stringify(v):String(v))}catch{process.stdout.write("")}})' "$1"
}

random_secret() { node -e 'console.log(require("crypto").randomBytes(18).toString("base64url"))'; }

cleanup() {
  local pgid
  if [ -n "$FG_PID" ]; then kill -TERM -- -"$FG_PID" "$FG_PID" 2>/dev/null; fi
  for pgid in "${BG_PGIDS[@]}"; do stop_group "$pgid" TERM 10 || true; done
  if [ "$KEEP" = 0 ] && [ -d "$CLONE" ]; then rm -rf "$CLONE"; fi
}
exec 7>&1 # the console, for messages printed while a step's output is redirected to its log
trap cleanup EXIT
trap 'say "" >&7; say "Interrupted: stopping what this script started." >&7; exit 130' INT TERM

# ------------------------------------------------------------------------------------------------ steps

CHAIN_PID=""
CHAIN_URL="http://127.0.0.1:8545"
LOCAL_ENV=() # env for deploy/status when the chain is not on 8545

step_clone() {
  CURRENT_LOG="$LOGS/clone.log"
  (
    set -e
    echo "node $(node --version 2>&1), npm $(npm --version 2>&1), $(git --version 2>&1)"
    git clone --no-hardlinks "$REPO" "$CLONE"
    if [ -n "$REF" ]; then git -C "$CLONE" checkout --detach "$REF"; fi
    if [ "$WORKTREE" = 1 ]; then
      echo "carrying over the uncommitted work of $REPO"
      git -C "$REPO" diff --binary HEAD >"$WORKDIR/worktree.patch"
      if [ -s "$WORKDIR/worktree.patch" ]; then git -C "$CLONE" apply --binary "$WORKDIR/worktree.patch"; fi
      git -C "$REPO" ls-files -z --others --exclude-standard >"$WORKDIR/worktree.new"
      while IFS= read -r -d '' f; do
        mkdir -p "$CLONE/$(dirname "$f")"
        cp -p "$REPO/$f" "$CLONE/$f"
      done <"$WORKDIR/worktree.new"
      git -C "$CLONE" status --short
    fi
    git -C "$CLONE" log --oneline -1
  ) >"$CURRENT_LOG" 2>&1 || { fail "cloning failed"; return 1; }
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  [ "$major" -ge 20 ] || fail "Node.js >= 20 is required (package.json engines), found $(node --version 2>&1)" || return 1
  say "   $(tail -n 1 "$CURRENT_LOG") in $CLONE"
}

step_npm_ci() {
  CURRENT_LOG="$LOGS/npm-ci.log"
  in_clone 1200 npm ci --no-audit --no-fund >"$CURRENT_LOG" 2>&1 || fail "npm ci exited $?" || return 1
}

step_chain() {
  CURRENT_LOG="$LOGS/chain.log"
  : >"$CURRENT_LOG"
  local args=(npm run chain)
  if [ "$CHAIN_PORT_MODE" = auto ]; then
    if ! grep -q LOCALHOST_RPC_URL "$CLONE/hardhat.config.ts" "$CLONE"/deploy/*.ts 2>/dev/null; then
      fail "--chain-port auto: this checkout's hardhat.config.ts does not read LOCALHOST_RPC_URL, so --network localhost cannot reach a node off 8545"
      return 1
    fi
    local port
    port="$(free_port)"
    CHAIN_URL="http://127.0.0.1:$port"
    args+=(-- --port "$port")
    LOCAL_ENV=(env "LOCALHOST_RPC_URL=$CHAIN_URL")
  elif port_busy 8545; then
    fail "127.0.0.1:8545 is already in use: the documented \`npm run chain\` needs it (stop what listens there, or pass --chain-port auto)"
    return 1
  fi
  say "   ${args[*]}  -> $CHAIN_URL"
  start_bg "$CURRENT_LOG" "${args[@]}"
  CHAIN_PID=$BG_PID
  local i
  for ((i = 0; i < 120 * 2; i++)); do
    if [[ "$(rpc_chain_id "$CHAIN_URL")" == *'"result":"0x7a69"'* ]]; then return 0; fi
    alive "$CHAIN_PID" || { fail "npm run chain exited before answering"; return 1; }
    sleep 0.5
  done
  fail "no answer from $CHAIN_URL within 120 s"
}

step_deploy() {
  CURRENT_LOG="$LOGS/deploy.log"
  say "   npm run deploy -- --network localhost"
  in_clone 600 "${LOCAL_ENV[@]}" npm run deploy -- --network localhost >"$CURRENT_LOG" 2>&1
  local rc=$?
  [ $rc = 0 ] || { fail "npm run deploy exited $rc"; return 1; }
  [ -f "$CLONE/deployments/31337.json" ] || { fail "deployments/31337.json was not written"; return 1; }
  grep -E '^(Record written|  (Forwarder|PaymentEscrow|InventoryToken|MockStablecoin) )' "$CURRENT_LOG" | sed 's/^/   /'
}

step_status() {
  CURRENT_LOG="$LOGS/status.log"
  say "   npm run deploy:status -- --network localhost"
  in_clone 300 "${LOCAL_ENV[@]}" npm run deploy:status -- --network localhost >"$CURRENT_LOG" 2>&1
  local rc=$?
  [ $rc = 0 ] || { fail "npm run deploy:status exited $rc"; return 1; }
  grep -q "OK: deployment is live and as recorded" "$CURRENT_LOG" || { fail "no \"OK: deployment is live\" line"; return 1; }
  say "   OK: deployment is live and as recorded"
}

step_relayer() {
  CURRENT_LOG="$LOGS/relayer.log"
  : >"$CURRENT_LOG"
  local port=8080 env_args=(
    "SIGNER_KEYS=$KEY4,$KEY5,$KEY6,$KEY7"
    "ARBITER_SIGNER_KEY=$KEY2"
    "ADMIN_API_KEY=admin_$(random_secret)"
    "ARBITER_API_KEY=arbiter_$(random_secret)"
    "MERCHANT_KEY_SECRET=$(random_secret)"
  )
  if [ "$CHAIN_URL" != "http://127.0.0.1:8545" ]; then env_args+=("RPC_URL=$CHAIN_URL"); fi
  if port_busy 8080; then
    port="$(free_port)"
    env_args+=("PORT=$port")
    say "   127.0.0.1:8080 is in use: PORT=$port"
  fi
  local url="http://127.0.0.1:$port"
  say "   npm run relayer  (SIGNER_KEYS=#4..#7, ARBITER_SIGNER_KEY=#2, generated API keys and secret) -> $url"
  start_bg "$CURRENT_LOG" env "${env_args[@]}" npm run relayer
  local pid=$BG_PID i code=""
  for ((i = 0; i < 300 * 2; i++)); do
    code="$(http_status "$url/healthz")"
    [ "$code" = 200 ] && break
    alive "$pid" || { fail "npm run relayer exited before /healthz answered"; return 1; }
    sleep 0.5
  done
  [ "$code" = 200 ] || { fail "/healthz did not answer 200 within 300 s"; return 1; }
  say "   /healthz 200"
  for ((i = 0; i < 60 * 2; i++)); do
    code="$(http_status "$url/readyz")"
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  [ "$code" = 200 ] || { fail "/readyz did not answer 200 within 60 s (last $code: $(curl -s -m 5 "$url/readyz"))"; return 1; }
  say "   /readyz 200"
  stop_script "$pid" TERM 30 "npm run relayer"
}

step_stop_chain() {
  CURRENT_LOG="$LOGS/chain.log"
  [ -n "$CHAIN_PID" ] || { fail "no chain was started"; return 1; }
  say "   Ctrl-C (SIGINT) to npm run chain"
  stop_group "$CHAIN_PID" INT 20 || { fail "npm run chain still running 20 s after SIGINT (killed)"; return 1; }
  [[ "$(rpc_chain_id "$CHAIN_URL")" != *result* ]] || { fail "$CHAIN_URL still answers"; return 1; }
}

step_start() {
  CURRENT_LOG="$LOGS/start.log"
  : >"$CURRENT_LOG"
  say "   npm start"
  start_bg "$CURRENT_LOG" npm start
  local pid=$BG_PID i
  for ((i = 0; i < 600 * 2; i++)); do
    grep -q "Ready in" "$CURRENT_LOG" && break
    alive "$pid" || { fail "npm start exited before it was ready"; return 1; }
    sleep 0.5
  done
  grep -q "Ready in" "$CURRENT_LOG" || { fail "npm start was not ready within 600 s"; return 1; }
  local clean url key
  clean="$(sed 's/\x1b\[[0-9;]*m//g' "$CURRENT_LOG")"
  url="$(printf '%s\n' "$clean" | sed -n 's#^ *Web page (dashboard) *\(http[^ ]*\)/$#\1#p' | head -n 1)"
  key="$(printf '%s\n' "$clean" | sed -n 's#^ *Merchant API key *\([^ ]*\)$#\1#p' | head -n 1)"
  [ -n "$url" ] && [ -n "$key" ] || { fail "the ready banner does not show the dashboard URL and a merchant API key"; return 1; }
  say "   ready: dashboard $url/, merchant key ${key:0:8}…"
  local code
  code="$(http_status "$url/")"
  [ "$code" = 200 ] || { fail "GET $url/ answered $code"; return 1; }
  say "   GET $url/ 200"
  local ref="NEWCOMER-$(now)" body order id status=""
  body="{\"reference\":\"$ref\",\"amount\":\"1000000000000000\",\"token\":\"native\"}"
  order="$(curl -s -m 30 -X POST -H "authorization: Bearer $key" -H 'content-type: application/json' \
    -H "idempotency-key: $ref" --data "$body" -w '\n%{http_code}' "$url/v1/orders")"
  echo "POST /v1/orders $body -> $order" >>"$LOGS/start-api.log"
  code="${order##*$'\n'}"
  order="${order%$'\n'*}"
  id="$(printf '%s' "$order" | json_get id)"
  [ "$code" = 202 ] && [ -n "$id" ] || { fail "POST /v1/orders answered $code: $order"; return 1; }
  say "   POST /v1/orders 202: $id $(printf '%s' "$order" | json_get status)"
  for ((i = 0; i < 120 * 2; i++)); do
    order="$(curl -s -m 10 -H "authorization: Bearer $key" "$url/v1/orders/$id")"
    status="$(printf '%s' "$order" | json_get status)"
    [ "$status" = created ] && break
    case "$status" in failed | rejected | cancelled) break ;; esac
    sleep 0.5
  done
  echo "GET /v1/orders/$id -> $order" >>"$LOGS/start-api.log"
  [ "$status" = created ] || { fail "order $id is \"$status\", not created: $order"; return 1; }
  say "   order $ref created on chain (tx $(printf '%s' "$order" | json_get chainProof.txHash))"
  stop_script "$pid" INT 60 "npm start"
}

step_demo() {
  CURRENT_LOG="$LOGS/demo.log"
  say "   npm run demo -- --exit"
  in_clone 900 npm run demo -- --exit >"$CURRENT_LOG" 2>&1
  local rc=$?
  [ $rc = 0 ] || { fail "npm run demo -- --exit exited $rc"; return 1; }
  grep -E '✓|✗' "$CURRENT_LOG" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-150 | sed 's/^/   /'
}

# ------------------------------------------------------------------------------------------------ run

say "orderchain newcomer walkthrough"
say "  repository  $REPO${REF:+ at $REF}$([ "$WORKTREE" = 1 ] && echo " + its uncommitted work")"
say "  work folder $WORKDIR"

run_step clone "" step_clone
run_step npm-ci "clone" step_npm_ci
run_step chain "npm-ci" step_chain
run_step deploy "chain" step_deploy
run_step status "deploy" step_status
run_step relayer "deploy" step_relayer
run_step stop-chain "chain" step_stop_chain
run_step start "npm-ci" step_start
run_step demo "npm-ci" step_demo

say ""
say "Summary"
for i in "${!STEP_NAMES[@]}"; do
  printf '  %-11s %-26s %5s s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_TIMES[$i]}"
done
say "Logs: $LOGS"
if [ "$FAILED" = 1 ]; then exit 1; fi
exit 0
