# Shared by the bench scripts (sourced): timing, steps with kept logs, ratios.
now() { date +%s.%N; }
# Run a step with its log kept; on failure show the log's end and stop.
step() {
  local log=$1; shift
  if ! "$@" >"$log.out" 2>"$log"; then
    echo "bench: failed: $*" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}
# A field of what `clic check --json SPEC [--board B]` resolves the spec
# to (lists joined with commas): its stdout, not its text, is read.
spec_field() {
  local field=$1; shift
  $CLIC check --json "$@" | python3 -c '
import json, sys
v = json.load(sys.stdin)["resolved"][sys.argv[1]]
print(",".join(v) if isinstance(v, list) else v)' "$field"
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# a / b, or "-" when there is no b (a baseline that was skipped).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# Bytes the guest has written to its disks so far (all drives), asked of
# QEMU's machine protocol on Unix socket $1 (`clic boot --qmp`).
qmp_written() {
  python3 - "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
def cmd(c):
    f.write(json.dumps({"execute": c}) + "\n")
    f.flush()
    while True:
        v = json.loads(f.readline())
        if "return" in v:
            return v["return"]
        if "error" in v:
            sys.exit("QMP %s: %s" % (c, v["error"]))
cmd("qmp_capabilities")
print(sum(d["stats"]["wr_bytes"] for d in cmd("query-blockstats")))
PY
}
# The byte offset of IMG's FAT partition (its manifest, NAME.manifest.json).
card_fat() {
  python3 - "$1" <<'PY'
import json, sys
img = sys.argv[1]
base = img[: -len(".img")] if img.endswith(".img") else img
m = json.load(open(base + ".manifest.json"))
print(next(p["start"] for p in m["partitions"] if p["role"] in ("esp", "boot")))
PY
}
# card_put IMG FILE NAME: FILE as NAME on IMG's FAT partition.
card_put() { mcopy -o -i "$1@@$(card_fat "$1")" "$2" "::/$3"; }
# bench_result NAME VALUE UNIT BASELINE_NAME BASELINE_VALUE RATIO: one row
# of target/bench/results.json (a row of that name replaced), with the
# date and the machine's cores, so that runs can be compared; "-" for a
# value there is none of.
bench_result() {
  mkdir -p target/bench
  python3 - "$@" <<'PY'
import datetime, json, os, platform, sys
name, value, unit, base_name, base_value, ratio = sys.argv[1:7]
path = "target/bench/results.json"
try:
    with open(path) as f:
        rows = json.load(f)
except (OSError, ValueError):
    rows = []
def num(v):
    try:
        return float(v)
    except ValueError:
        return None
row = {
    "name": name,
    "value": num(value),
    "unit": unit,
    "baseline": base_name,
    "baseline_value": num(base_value),
    "ratio": num(ratio),
    "date": datetime.date.today().isoformat(),
    "machine": "%d cores, %s" % (os.cpu_count(), platform.machine()),
}
rows = [r for r in rows if r.get("name") != name] + [row]
with open(path + ".tmp", "w") as f:
    json.dump(rows, f, indent=1)
    f.write("\n")
os.replace(path + ".tmp", path)
PY
}
