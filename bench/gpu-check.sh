#!/usr/bin/env bash
# The GPU machine's check in one go, under one time limit, everything written to "$OUT" (what the device tool brings
# back): the adapter's report (gradlens doctor), the correctness tests of the subgroup path and of the kernels that
# share it (vitest, when it travelled), then the bench suites (kernels, networks, attribution) at full size.
#
# Here, on a machine with the checkout (docs/performance.md, "On a lent GPU"):
#   npm run build --silent && node scripts/method-index.mjs
#   bash ../shared/gpu/pack.sh $(node bench/gpu-test-deps.mjs)   # .gpu/: node, the Vulkan loader, node_modules + vitest
# then the device tool's `run`, carry [".gpu", "dist", "src/attribution/generated"], timeout_s 600:
#   bash .gpu/on-gpu.sh bash bench/gpu-check.sh 540
# Here too, without a GPU (SwiftShader; a rehearsal of the script, its figures mean nothing):
#   OUT=/tmp/gpu-check GPU_CHECK_SCALE=tiny bash bench/gpu-check.sh 300
#
# Argument: the whole run's limit in seconds (default 540). GPU_CHECK_SCALE: full (default) | quick | tiny.
# GPU_CHECK_SUITES: the bench suites (default kernels,networks,attribution). GPU_CHECK_TESTS=0 skips the tests.
set -uo pipefail
cd "$(dirname "$0")/.."
limit=${1:-540}
out=${OUT:-gpu-check}
scale=${GPU_CHECK_SCALE:-full}
suites=${GPU_CHECK_SUITES:-kernels,networks,attribution}
mkdir -p "$out"
start=$SECONDS
left() { echo $((limit - (SECONDS - start))); }
summary="$out/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }

# Runs a step with at most $2 seconds (and never past the whole limit), its output in $out/$1.log.
step() {
  local name=$1 want=$2
  shift 2
  local budget
  budget=$(left)
  ((want < budget)) || want=$((budget - 5))
  if ((want < 10)); then
    note "$name: skipped, $(left) s left"
    return
  fi
  local began=$SECONDS
  timeout --kill-after=10 "$want" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  note "$name: exit $rc after $((SECONDS - began)) s (limit $want s)$([ $rc = 124 ] && echo ', timed out')"
  tail -n 25 "$out/$name.log"
}

note "gpu-check $(date -u +%FT%TZ), limit $limit s, scale $scale, suites $suites, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
command -v nvidia-smi >/dev/null && nvidia-smi >"$out/nvidia-smi.txt" 2>&1
export GRADLENS_BACKEND=${GRADLENS_BACKEND:-vulkan} NO_COLOR=1

# 1. Which adapter this is, with its features (subgroups, shader-f16, timestamp-query) and subgroup sizes.
step doctor 60 node dist/node/cli.js doctor --json
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const a = r.adapter ?? {};
  console.log(`adapter: ${a.description || a.device} (${a.vendor}, ${a.backend}${a.software ? ", SOFTWARE" : ""}); features ${(a.features ?? []).join(", ") || "none"}; shader-f16 ${a.shaderF16}; subgroup kernels ${a.subgroupKernels} ${JSON.stringify(a.subgroupSizes ?? null)}${a.note ? "; " + a.note : ""}`)' \
  "$out/doctor.log" 2>/dev/null | tee -a "$summary" || note "doctor: no JSON report (see doctor.log)"

# 2. Correctness: the subgroup variants and the f16-weight kernels against the float64 references (and the plain
#    kernels, the loop-budget and device tests) on this adapter only: the llvmpipe cases are filtered out, OpenGL ES is
#    not there.
if [ "${GPU_CHECK_TESTS:-1}" != 0 ] && [ -e node_modules/vitest/package.json ]; then
  GRADLENS_EXPECT_SOFTWARE=0 step tests 200 node node_modules/vitest/vitest.mjs run --project node \
    test/kernels/subgroups.test.ts test/kernels/half.test.ts test/kernels/softmax.test.ts test/kernels/layernorm.test.ts test/gpu/ \
    -t '^(?!.*llvmpipe)' --reporter=default --reporter=json --outputFile.json="$out/tests.json"
elif [ "${GPU_CHECK_TESTS:-1}" != 0 ]; then
  note "tests: vitest did not travel (pack with: bash ../shared/gpu/pack.sh \$(node bench/gpu-test-deps.mjs)); the bench's row-reduction check (max |error| vs float64) still runs"
fi

# 3. The bench: kernels (row reductions plain vs subgroups, interleaved, with their error vs float64), networks,
#    attribution; bench.json is rewritten after each suite, so a run stopped by the limit keeps what it measured.
step bench $(($(left) - 5)) node dist/node/cli.js bench "--$scale" --suite "$suites" --peers "" --out "$out/bench"
grep -E 'softmax|layernorm' "$out/bench.log" | tee -a "$summary" >/dev/null
note "done after $((SECONDS - start)) s"
