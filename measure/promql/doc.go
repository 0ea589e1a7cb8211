// Package promql judges a run with Prometheus' own query engine, used as a library: PromQL
// objectives (an instant query at the end of the run, one value per seed) and alerting rules from
// Prometheus rule files (evaluated at their interval over the whole run, with pending, firing
// and resolved states as Prometheus' rule manager keeps them). Both read the series the
// simulator records on its virtual clock (sim.PromSeries: kube-state-metrics, kube-apiserver,
// the cron platform's and request families, named as the real exporters name them), so a query
// written for a production cluster runs unchanged. Timestamps are simulated time: the run's
// start is the scenario's spec.start.
//
// A real run evaluates the same Spec against a Prometheus server that scraped the real cluster
// (EvaluateAPI, through the server's HTTP API; alert states through AlertTimeline, the code the
// simulator's alerts go through), leaving unmeasured what reads a family that world does not
// serve.
//
// The results become indicators beside the simulator's own, so that scoring, reports and CI
// treat them like any other: promql/<objective> for an objective, and per alert
// alert/<name>/detect-minutes (from the first fault, or the run's start, to the first firing;
// the rest of the run when it never fired) and alert/<name>/firing-minutes.
package promql
