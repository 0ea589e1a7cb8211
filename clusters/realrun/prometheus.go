package realrun

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/clusters/local"
	prom "github.com/faultline-dev/faultline/clusters/prometheus"
	"github.com/faultline-dev/faultline/measure/promql"
	"github.com/faultline-dev/faultline/sim"
)

// A real run of a scenario with PromQL objectives or rule files (Options.PromQL) starts a
// Prometheus server (package clusters/prometheus) before it applies the objects, scraping what
// the real cluster exposes: the kube-apiserver's /metrics (with the run's client credentials)
// and the platform's /metrics where the run runs the platform (platform.go). After the run the
// same PromQL the simulator evaluates on its virtual clock is evaluated there, over the run's
// window (promql.EvaluateAPI: objectives as instant queries at the end, alerts as range queries
// at their evaluation interval through the simulator's alert state machine), and reported as the
// same indicators. A family no scraped target serves in this world (kube-state-metrics', the
// service mesh's, the platform's where it does not run) makes what reads it unmeasured, with the
// reason, through the registry's Omit list: never a made-up value.

// PromReport is what a real run's Prometheus saw, in the run's report.
type PromReport struct {
	Binary         string          `json:"binary"`
	ScrapeInterval string          `json:"scrapeInterval"`
	Jobs           []string        `json:"jobs"`
	Families       []string        `json:"families,omitempty"` // those the scenario reads that the server held
	Firings        []promql.Firing `json:"firings,omitempty"`
	Error          string          `json:"error,omitempty"`
}

// promRun is a run's Prometheus.
type promRun struct {
	srv      *prom.Server
	jobs     []string
	interval time.Duration
	err      error // why there is no server
}

// Scrape jobs.
const (
	jobAPIServer = "kube-apiserver"
	jobPlatform  = "faultline-platform"
)

// prometheusBinary is the server to run: FAULTLINE_PROMETHEUS, else the one built from the
// pinned module in the local provider's cache (built on first use).
func prometheusBinary(ctx context.Context) (string, error) {
	if b := os.Getenv(prom.EnvBinary); b != "" {
		return b, nil
	}
	p, err := local.New()
	if err != nil {
		return "", err
	}
	return p.EnsurePrometheus(ctx)
}

// startProm starts the server when the run evaluates PromQL; a failure is reported (the PromQL
// indicators become unmeasured, with the error), not fatal to the run.
func (r *run) startProm(ctx context.Context) {
	if r.opts.PromQL.Empty() || r.rc == nil {
		return
	}
	r.prom.interval = max(time.Second, r.scaled(r.in.Models.Alerts.ScrapeInterval.Duration))
	targets, err := r.promTargets()
	if err == nil {
		var bin string
		if bin, err = prometheusBinary(ctx); err == nil {
			r.rep.Prometheus = &PromReport{Binary: bin, ScrapeInterval: r.prom.interval.String()}
			r.prom.srv, err = prom.Start(ctx, prom.Config{Binary: bin, ScrapeInterval: r.prom.interval, Targets: targets, Keep: r.opts.PromQL.Families()})
		}
	}
	if err == nil {
		err = r.prom.srv.WaitScraped(ctx, r.prom.jobs, time.Minute)
	}
	if err != nil {
		r.prom.err = fmt.Errorf("prometheus: %w", err)
		r.log.Warn("no Prometheus for this run: its PromQL objectives and alerts are not measured", "err", err)
		if r.rep.Prometheus == nil {
			r.rep.Prometheus = &PromReport{}
		}
		r.rep.Prometheus.Error = err.Error()
		r.stopProm()
		return
	}
	r.rep.Prometheus.Jobs = r.prom.jobs
	r.log.Info("prometheus scraping the cluster", "url", r.prom.srv.URL, "pid", r.prom.srv.PID(), "interval", r.prom.interval, "jobs", r.prom.jobs)
}

// promTargets are the endpoints to scrape: the API server (as the run's client), the platform.
func (r *run) promTargets() ([]prom.Target, error) {
	tc := r.rc.TLSClientConfig
	read := func(data []byte, file string) ([]byte, error) {
		if len(data) > 0 || file == "" {
			return data, nil
		}
		return os.ReadFile(file)
	}
	api := prom.Target{Job: jobAPIServer, URL: r.rc.Host + "/metrics", BearerToken: r.rc.BearerToken}
	var err error
	if api.CA, err = read(tc.CAData, tc.CAFile); err != nil {
		return nil, err
	}
	if api.Cert, err = read(tc.CertData, tc.CertFile); err != nil {
		return nil, err
	}
	if api.Key, err = read(tc.KeyData, tc.KeyFile); err != nil {
		return nil, err
	}
	targets := []prom.Target{api}
	if r.plat.metrics != "" {
		targets = append(targets, prom.Target{Job: jobPlatform, URL: "http://" + r.plat.metrics + "/metrics"})
	}
	for _, t := range targets {
		r.prom.jobs = append(r.prom.jobs, t.Job)
	}
	return targets, nil
}

func (r *run) stopProm() {
	if r.prom.srv == nil {
		return
	}
	if err := r.prom.srv.Stop(context.Background()); err != nil {
		r.log.Warn("stopping Prometheus", "pid", r.prom.srv.PID(), "err", err)
	}
	r.prom.srv = nil
}

// promFamilyWhy says why a family is not measured in this run, "" when it is: a family is
// measured when the exporter that serves it in production is scraped here, or when the server
// holds it anyway.
func (r *run) promFamilyWhy(held map[string]bool) promql.Unmeasurable {
	return func(f string) string {
		switch promql.FamilyPrefix(f) {
		case "apiserver_":
			return ""
		case "cron_":
			if r.plat.metrics != "" {
				return ""
			}
			return "the cron_* families are served by faultline's platform cron controller (internal/cronmetrics), which this variant does not run: its CronJobs run on kube-controller-manager's CronJob controller, which exports none"
		case "kube_":
			return "kube-state-metrics does not run in faultline's real clusters"
		case "istio_":
			return "no service mesh in this cluster: the load generator's outcomes are read from its log, not scraped"
		case "nginx_ingress_controller_":
			return "the ingress proxy of real runs exports no ingress-nginx metrics"
		case "faultline_":
			return "a counter of the simulator's own models: no real exporter serves it"
		}
		if held[f] {
			return ""
		}
		return "no target this run scrapes (" + fmt.Sprint(r.prom.jobs) + ") serves it"
	}
}

// promIndicators evaluates the run's PromQL over [t0, end] and returns the indicators; what it
// could not measure goes into omit as indicator → why.
func (r *run) promIndicators(ctx context.Context, end time.Time, omit map[string]string) []sim.Indicator {
	spec := r.opts.PromQL
	if spec.Empty() {
		return nil
	}
	omitAll := func(why string) {
		for _, o := range spec.Objectives {
			omit[promql.ObjectiveIndicator(o.Name)] = why
		}
		for _, a := range spec.Alerts {
			d, f := promql.AlertIndicators(a.Name)
			omit[d], omit[f] = why, why
		}
	}
	if r.prom.srv == nil {
		why := "no Prometheus"
		if r.prom.err != nil {
			why = r.prom.err.Error()
		}
		omitAll(why)
		return nil
	}
	held, err := r.prom.srv.Names(ctx, r.t0, end)
	if err != nil {
		held = map[string]bool{}
	}
	for _, f := range spec.Families() {
		if held[f] {
			r.rep.Prometheus.Families = append(r.rep.Prometheus.Families, f)
		}
	}
	ins, tls, skipped, err := promql.EvaluateAPI(ctx, spec, r.prom.srv.API,
		promql.Window{Start: r.t0, Length: end.Sub(r.t0), Scale: r.scale, Interval: r.prom.interval}, r.promFamilyWhy(held))
	if err != nil {
		omitAll("prometheus: " + err.Error())
		r.rep.Prometheus.Error = err.Error()
		return nil
	}
	for _, s := range skipped {
		name, why, _ := strings.Cut(s, ": ")
		omit[name] = why
	}
	for _, tl := range tls {
		r.rep.Prometheus.Firings = append(r.rep.Prometheus.Firings, tl.Firings...)
	}
	slices.SortStableFunc(r.rep.Prometheus.Firings, func(a, b promql.Firing) int { return cmp.Compare(a.From, b.From) })
	return ins
}
