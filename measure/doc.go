// Package measure is the contract between the two worlds of a scenario, the simulator (package
// sim) and a real cluster (package clusters/realrun): what a run measures and how.
//
// It owns three things, so that no world keeps its own copy:
//   - the indicator registry (Indicators): every figure an objective can score, with its unit,
//     direction and meaning, which worlds can measure it (and why the others cannot), and the
//     model parameters that calibrate it;
//   - the observation record (Observations): what a world saw happen, typed (cron runs and their
//     steps, skip decisions, failed Jobs and pods, requests per target, the network path's
//     request counts by outcome, rollouts, node panics, pods lost, evictions, placements, node
//     transitions and apiserver exits, and the control plane's: API requests by kind and
//     outcome, the latency quantile, impaired spans, alert firings, the upgrade's steps);
//   - one function, Compute, from observations and a Window to indicator values, with the same
//     summaries (nearest-rank quantiles, the missed-schedule grace) for both worlds.
//
// It also holds the CronJob schedule rule both worlds apply (ParseSchedule: spec.schedule in
// spec.timeZone). The package sits below sim in the import graph: it imports no client-go, no
// cluster provider and nothing that touches the network.
package measure
