#!/bin/sh
# The nightly gate a CI pipeline runs: every library scenario replayed at the baselines' seeds
# (make regress), then each judged seed by seed by `faultline check`, with JUnit and JSON for
# the pipeline. Exit status 0: no regression; 1: a regression (the JUnit file says which).
#
#   ci/nightly.sh               the pipeline: make regress, then check --junit per scenario
#   ci/nightly.sh --demo        green, then red: one scenario as it is, then the same scenario
#                               with its mitigation broken on purpose (--set drops the
#                               anti-affinity patch), and asserts the gate passes and then fails
#
# Outputs: .cache/nightly/<scenario>/check.xml and check.json. Cost: make regress replays 6
# scenarios at 100 seeds (about a minute on 2 cores); --demo replays kernel-panic-stacking twice
# (a few seconds).
set -u
cd "$(dirname "$0")/.." || exit 2
BIN=bin/faultline
SEEDS=${REGRESS_SEEDS:-100}

# gate SCENARIO [RUN ARGS...]: replay at the baseline's seeds and check; returns check's status
gate() {
	n=$1; shift
	out=.cache/nightly/$n
	mkdir -p "$out"
	"$BIN" run "$n" --seed 1 --seeds "$SEEDS" --out "$out/run" --overwrite -q "$@" > /dev/null || return 2
	"$BIN" check --baseline "results/baselines/$n.json" "$out/run" --junit "$out/check.xml" --json "$out/check.json"
}

make -s build || exit 2
if [ "${1:-}" != "--demo" ]; then
	# make regress replays into .cache/regress/<scenario> and stops at the first regression;
	# then every scenario's replay gets its JUnit and JSON verdict (a missing replay is an error)
	rm -rf .cache/regress
	make -s regress REGRESS_SEEDS="$SEEDS" > /dev/null; regress=$?
	status=0
	for d in scenarios/*/scenario.yaml; do
		n=$(basename "$(dirname "$d")")
		mkdir -p ".cache/nightly/$n"
		"$BIN" check --baseline "results/baselines/$n.json" ".cache/regress/$n" \
			--junit ".cache/nightly/$n/check.xml" --json ".cache/nightly/$n/check.json" || status=1
	done
	[ $regress -eq 0 ] || status=1
	exit $status
fi

n=kernel-panic-stacking
echo "== $n as it is (expect: pass)"
gate "$n"; green=$?
echo "== $n with the anti-affinity mitigation broken: --set 'spec.variants[1].patches=[]' (expect: fail)"
gate "$n" --set 'spec.variants[1].patches=[]'; red=$?
echo "green run: exit $green; broken mitigation: exit $red"
if [ $green -eq 0 ] && [ $red -eq 1 ]; then
	echo "demo OK: the gate passes on this build and fails when a mitigation is broken"
	exit 0
fi
echo "demo FAILED: expected exit 0 then 1" >&2
exit 1
