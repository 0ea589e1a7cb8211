package prometheus_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/local"
	prom "github.com/faultline-dev/faultline/clusters/prometheus"
	"github.com/faultline-dev/faultline/measure/promql"
)

// binary is the server the tests run: FAULTLINE_PROMETHEUS, else the one built from the pinned
// module (make tools builds it; a cold build here takes minutes).
func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv(prom.EnvBinary); b != "" {
		return b
	}
	p, err := local.New()
	require.NoError(t, err)
	b, err := p.EnsurePrometheus(context.Background())
	require.NoError(t, err)
	return b
}

// exporter serves a counter on 127.0.0.1 and returns its URL; every request adds 1.
func exporter(t *testing.T) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "demo_requests_total", Help: "requests"}, []string{"code"})
	reg.MustRegister(c)
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "demo_dropped", Help: "not kept"})
	reg.MustRegister(other)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.WithLabelValues("200").Inc()
		h.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String() + "/metrics"
}

func TestServerScrapesAndAnswers(t *testing.T) {
	ctx := context.Background()
	s, err := prom.Start(ctx, prom.Config{Binary: binary(t), ScrapeInterval: time.Second, Dir: t.TempDir(),
		Targets: []prom.Target{{Job: "demo", URL: exporter(t)}}, Keep: []string{"demo_requests_total"}})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = s.Stop(ctx)
		}
	})
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, s.URL, "loopback only")
	conf, err := os.ReadFile(filepath.Join(s.Dir(), "prometheus.yml"))
	require.NoError(t, err)
	assert.Contains(t, string(conf), "scrape_interval: 1s")

	require.NoError(t, s.WaitScraped(ctx, []string{"demo"}, 30*time.Second))
	start := time.Now()
	time.Sleep(3 * time.Second)
	v, _, _, err := s.API.Query(ctx, `sum(demo_requests_total)`, time.Now())
	require.NoError(t, err)
	vec := v.(model.Vector)
	require.Len(t, vec, 1)
	assert.GreaterOrEqual(t, float64(vec[0].Value), 3.0, "a scrape a second")

	names, err := s.Names(ctx, start.Add(-time.Minute), time.Now())
	require.NoError(t, err)
	assert.True(t, names["demo_requests_total"])
	assert.False(t, names["demo_dropped"], "kept: only the families asked for (and up)")
	assert.True(t, names["up"])

	err = s.WaitScraped(ctx, []string{"absent"}, time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "absent")

	pid, dir := s.PID(), s.Dir()
	require.NoError(t, s.Stop(ctx))
	stopped = true
	assert.NoDirExists(t, dir)
	assert.True(t, gone(pid), "stopped by its recorded PID")
}

// A server whose faultline process died is stopped, and its directory removed, by the next
// Start's sweep; a live owner's server is left alone.
func TestSweepStopsOrphans(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	s, err := prom.Start(ctx, prom.Config{Binary: binary(t), Dir: base, Targets: []prom.Target{{Job: "demo", URL: exporter(t)}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(ctx) })
	prom.Sweep(base)
	assert.DirExists(t, s.Dir(), "its owner (this test) runs")

	// the record now names an owner that is gone: a process that already exited
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	f := filepath.Join(s.Dir(), "server.json")
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(b, &rec))
	rec["ownerPid"] = dead.Process.Pid
	b, _ = json.Marshal(rec)
	require.NoError(t, os.WriteFile(f, b, 0o600))
	pid := s.PID()
	prom.Sweep(base)
	assert.NoDirExists(t, s.Dir())
	assert.True(t, gone(pid))
}

// gone reports whether pid has exited (reaped, or a zombie waiting to be), within a second.
func gone(pid int) bool {
	for range 20 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// A scenario's PromQL evaluated against the server, as a real run evaluates it: an objective's
// instant value at the window's end, an alert's time to detect from its range query through the
// simulator's alert states, and what reads a family the world does not serve left unmeasured.
func TestEvaluateAPIOnTheServer(t *testing.T) {
	ctx := context.Background()
	s, err := prom.Start(ctx, prom.Config{Binary: binary(t), ScrapeInterval: time.Second, Dir: t.TempDir(),
		Targets: []prom.Target{{Job: "demo", URL: exporter(t)}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(ctx) })
	require.NoError(t, s.WaitScraped(ctx, []string{"demo"}, 30*time.Second))
	start := time.Now().Truncate(time.Second)
	time.Sleep(6 * time.Second)
	spec := &promql.Spec{
		Objectives: []promql.Objective{
			{Name: "requests", Query: `sum(increase(demo_requests_total[$__range]))`},
			{Name: "pods", Query: `sum(kube_pod_status_ready)`},
		},
		Alerts: []promql.Alert{
			{Name: "Busy", Expr: `sum(rate(demo_requests_total[3s])) > 0.5`, For: 2 * time.Second, Labels: map[string]string{"severity": "page"}},
			{Name: "Never", Expr: `sum(demo_requests_total) < 0`},
		},
	}
	why := func(f string) string {
		if f == "kube_pod_status_ready" {
			return "no kube-state-metrics here"
		}
		return ""
	}
	ins, tls, skipped, err := promql.EvaluateAPI(ctx, spec, s.API, promql.Window{Start: start, Length: 5 * time.Second, Scale: 1, Interval: time.Second}, why)
	require.NoError(t, err)
	got := map[string]float64{}
	for _, in := range ins {
		got[in.Name] = in.Value
	}
	assert.InDelta(t, 5, got["promql/requests"], 2.5, "about one request (scrape) a second")
	assert.Equal(t, []string{"promql/pods: reads kube_pod_status_ready: no kube-state-metrics here"}, skipped)
	busy, _ := promql.AlertIndicators("Busy")
	never, _ := promql.AlertIndicators("Never")
	assert.Less(t, got[busy], 5./60, "fired within the window")
	assert.InDelta(t, 5./60, got[never], 1e-9, "never fired: the window's length")
	require.Len(t, tls, 2)
	require.NotEmpty(t, tls[0].Firings)
	assert.Equal(t, "page", tls[0].Firings[0].Labels["severity"])
}
