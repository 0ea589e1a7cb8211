package realrun

import (
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/echoapp"
	"github.com/faultline-dev/faultline/clusters/loadgen"
	"github.com/faultline-dev/faultline/measure"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/sim"
)

func compileVariant(t *testing.T, name, variant string) *sim.Input {
	t.Helper()
	sc, err := scenarios.Open(name)
	require.NoError(t, err)
	v, err := sc.Variant(variant)
	require.NoError(t, err)
	return sc.Compile(v)
}

func TestPlanNetDeepReadiness(t *testing.T) {
	for _, tc := range []struct {
		variant string
		deep    bool
		retry   int
	}{{"baseline", true, 0}, {"shallow", false, 0}, {"shallow-retries", false, 3}} {
		t.Run(tc.variant, func(t *testing.T) {
			in := compileVariant(t, "deep-readiness-cascade", tc.variant)
			p, err := planNet(in, 1)
			require.NoError(t, err)
			require.NotNil(t, p)
			assert.True(t, p.path, "an Ingress and network behaviour: the Network scope")
			rates := p.apps["default/rates"]
			assert.Equal(t, []string{"http://db.default.svc.cluster.local.:80/"}, rates.Deps, "a rates request needs only the database")
			assert.Equal(t, tc.deep, rates.Deep)
			if tc.deep {
				assert.Equal(t, []string{"http://auth.default.svc.cluster.local.:80/", "http://db.default.svc.cluster.local.:80/"}, rates.Checks, "the shared health library also calls auth")
			}
			assert.Equal(t, tc.retry, rates.Retry.Attempts)
			// streams: the four loads with a request rate, in input order
			var targets []string
			var total float64
			for _, s := range p.streams {
				targets = append(targets, s.Target)
				total += s.RPS
			}
			assert.Equal(t, []string{"deployment/payments", "deployment/balance", "deployment/webhooks", "deployment/rates"}, targets)
			assert.Equal(t, 250.0, total)
			// only payments needs auth, which the faults fail: the others' traffic is collateral
			faulted := map[string]bool{}
			for _, l := range p.loads {
				faulted[l.target] = l.faulted
			}
			assert.Equal(t, map[string]bool{"deployment/payments": true, "deployment/balance": false, "deployment/webhooks": false, "deployment/rates": false}, faulted)
		})
	}
}

func TestAdaptAppGivesTheLoadsBehaviour(t *testing.T) {
	in := compileVariant(t, "ingress-502-graceful-shutdown", "keep-serving")
	p, err := planNet(in, 1)
	require.NoError(t, err)
	var api *appsv1.Deployment
	for _, o := range in.Objects {
		if d, ok := o.(*appsv1.Deployment); ok && d.Name == "api" {
			api = d.DeepCopy()
		}
	}
	require.NotNil(t, api)
	spec := &api.Spec.Template.Spec
	keepImages(api, spec)
	SubstituteImage(spec, "faultline/echo:kind", nil)
	p.adaptApp(api, spec)
	c := spec.Containers[0]
	var cfg echoapp.Config
	for _, e := range c.Env {
		if e.Name == echoapp.EnvConfig {
			require.NoError(t, json.Unmarshal([]byte(e.Value), &cfg))
		}
	}
	require.NoError(t, cfg.Validate())
	assert.Equal(t, echoapp.SIGTERMKeepServing, cfg.OnSIGTERM)
	assert.Equal(t, []string{":8080"}, cfg.Listen)
	assert.Equal(t, "/ready", cfg.ReadyPath)
	assert.Equal(t, ":15999", cfg.Admin)
	assert.Equal(t, appStateDir, cfg.StateDir)
	assert.Equal(t, "api=ravelin/api:v1", api.Spec.Template.Annotations[imagesAnnotation], "the original image stays in the template: a new one rolls out")
	assert.Empty(t, spec.ReadinessGates, "nothing on kind sets the NEG gate")
	assert.True(t, p.gated)
	require.NotNil(t, p.ingress)
	assert.Equal(t, 10*time.Second, p.ingress.Lag.Min, "models.network.ingressLag")
	assert.Equal(t, 40*time.Second, p.ingress.Lag.Max)
	assert.Contains(t, spec.Volumes, corev1.Volume{Name: "faultline-state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	var checkout echoapp.Config = p.apps["default/checkout"]
	assert.Equal(t, []string{"http://api.default.svc.cluster.local.:80/"}, checkout.Deps)
}

func TestObserveClassifiesOutcomes(t *testing.T) {
	in := compileVariant(t, "ingress-502-graceful-shutdown", "baseline")
	p, err := planNet(in, 1)
	require.NoError(t, err)
	require.Len(t, p.streams, 2)
	assert.Equal(t, loadgen.ViaIngress, p.streams[0].Via, "the api's traffic arrives through the Ingress")
	assert.Equal(t, "http://faultline-ingress.faultline-net.svc.cluster.local.:80/", p.streams[0].URL)
	assert.Equal(t, loadgen.ViaService, p.streams[1].Via, "checkout's through its Service")
	// through a proxy its answers say what happened: a refused connection behind it is its 502
	var viaProxy loadgen.Counts
	viaProxy[loadgen.Proxy502], viaProxy[loadgen.Proxy503], viaProxy[loadgen.ProxyOther] = 3, 2, 1
	e502, e503 := p.classify(0, 0, time.Time{}, viaProxy)
	assert.Equal(t, [2]float64{4, 2}, [2]float64{e502, e503}, "502 and 504 (no answer from the pod) are 502s, 503 a 503")
	p.streams[0].Via = loadgen.ViaService // the rest: as if through kube-proxy
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	// the api Service: ready endpoints, none from second 2 to 3, then back
	p.noEP["default/api"] = []epChange{{t0.Add(-time.Minute), 4}, {t0.Add(2 * time.Second), 0}, {t0.Add(3 * time.Second), 4}}
	c := func(ok, refused, reset, app int64) loadgen.Counts {
		var n loadgen.Counts
		n[loadgen.OK], n[loadgen.Refused], n[loadgen.Reset], n[loadgen.AppError] = ok, refused, reset, app
		return n
	}
	rec := [][]loadgen.Counts{
		{c(200, 0, 0, 0), c(190, 10, 0, 0), c(0, 200, 0, 0), c(195, 0, 5, 0)},
		{c(50, 0, 0, 0), c(50, 0, 0, 0), c(0, 0, 0, 50), c(50, 0, 0, 0)},
	}
	o := &measure.Observations{World: measure.Kind}
	nc, dropped := p.observe(rec, t0, o)
	assert.Zero(t, dropped)
	assert.Equal(t, 1000.0, o.Requests.Offered)
	assert.Equal(t, 735.0, o.Requests.Succeeded)
	assert.Equal(t, 15.0, nc.E502, "refused with endpoints (10) and resets (5): the pod's process was gone")
	assert.Equal(t, 200.0, nc.E503, "refused while the Service had no endpoint: kube-proxy's reject")
	assert.Equal(t, 50.0, nc.App)
	assert.Equal(t, 3*time.Second, o.Degraded, "seconds 1, 2 and 3 under 99 %")
	assert.Equal(t, time.Second, o.Outage, "second 2: no request succeeded")
	assert.Equal(t, []measure.TargetRequests{{Target: "deployment/api", Offered: 800, Succeeded: 585}, {Target: "deployment/checkout", Offered: 200, Succeeded: 150}}, o.Requests.PerTarget)
	// the same counts through measure.Compute, as the simulator's
	o.Scopes |= measure.Network
	o.Net = &nc
	vals, _ := measure.Compute(o, measure.Window{Start: t0, Length: 4 * time.Second})
	got := map[string]float64{}
	for _, v := range vals {
		got[v.Name] = v.Value
	}
	assert.InDelta(t, 0.735, got["request-success-ratio"], 1e-9)
	assert.Equal(t, 15.0, got["requests-502"])
	assert.Equal(t, 200.0, got["requests-503"])
	assert.InDelta(t, 0.05, got["error-ratio-app"], 1e-9)
}

func TestRolloutComplete(t *testing.T) {
	four := int32(4)
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &four}}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 4, Replicas: 5, AvailableReplicas: 4}
	assert.False(t, RolloutComplete(d, 2), "an old pod is still there")
	d.Status.Replicas = 4
	assert.True(t, RolloutComplete(d, 2))
	assert.False(t, RolloutComplete(d, 3), "the controller has not seen the change yet")
	d.Status.AvailableReplicas = 3
	assert.False(t, RolloutComplete(d, 2), "a new pod not yet available")
}
