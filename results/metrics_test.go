package results

import (
	"bytes"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/internal/cronmetrics"
)

// openMetrics encodes a registry as the simulator does: OpenMetrics text, no _created lines.
func openMetrics(t *testing.T, reg *prometheus.Registry) []byte {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeOpenMetrics))
	for _, mf := range mfs {
		require.NoError(t, enc.Encode(mf))
	}
	require.NoError(t, enc.(expfmt.Closer).Close())
	return b.Bytes()
}

// cronRun is the cron families after a few runs, plus a labelled gauge as the control-plane
// families have.
func cronRun(t *testing.T) []byte {
	reg := prometheus.NewRegistry()
	f := cronmetrics.New(reg)
	f.Started.Add(3)
	f.Success.Add(2)
	f.Invoke.Add(4)
	f.SkipFor(cronmetrics.ReasonMissedDeadline).Inc()
	for _, d := range []float64{0.7, 4, 31} {
		f.StartDelay.Observe(d)
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "apiserver_up", Help: "1 while an apiserver serves."}, []string{"instance"})
	g.WithLabelValues("apiserver-1").Set(1)
	reg.MustRegister(g)
	return openMetrics(t, reg)
}

func TestLabelMetricsPassesPromlint(t *testing.T) {
	om := cronRun(t)
	// the problem being fixed: read as the Prometheus text format, OpenMetrics counters lack HELP
	before, err := promlint.New(bytes.NewReader(om)).Lint()
	require.NoError(t, err)
	assert.NotEmpty(t, before, "OpenMetrics counters read as text format: %s", om)

	out, err := LabelMetrics(`storm "v1"`, []MetricsText{{Variant: "v2", Seed: 7, Text: om}})
	require.NoError(t, err)
	require.Len(t, out, 1)
	text := out[0].Text
	problems, err := promlint.New(bytes.NewReader(text)).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems, "%s", text)

	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	require.NoError(t, err)
	require.Contains(t, fams, "cron_started_total")
	assert.Equal(t, "COUNTER", fams["cron_started_total"].GetType().String())
	assert.Equal(t, "HISTOGRAM", fams["cron_start_delay_seconds"].GetType().String())
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			assert.Equal(t, `storm "v1"`, got["scenario"], name)
			assert.Equal(t, "v2", got["variant"], name)
			assert.Equal(t, "7", got["seed"], name)
		}
	}
	// the skip counter kept its own labels beside ours
	assert.Contains(t, string(text), `cron_scheduling_decision_total{scenario="storm \"v1\"",variant="v2",seed="7",decision="skip",reason="missedDeadline"} 1`)
}

// promtool itself checks the files a run writes: cmd/faultline/app/run TestMetricsFilesPassPromtool.

func TestLabelMetricsRejectsWhatTheTextFormatCannotSay(t *testing.T) {
	_, err := LabelMetrics("s", []MetricsText{{Variant: "v", Seed: 1, Text: []byte("# TYPE build info\nbuild_info{v=\"1\"} 1\n# EOF\n")}})
	assert.ErrorContains(t, err, "family build: type info has no Prometheus text format equivalent")
	_, err = LabelMetrics("s", []MetricsText{{Variant: "v", Seed: 1, Text: []byte("{not a sample\n")}})
	assert.ErrorContains(t, err, "line 1")
}
