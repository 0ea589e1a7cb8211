package realrun

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/faultline-dev/faultline/sim"
)

// fakeProcesses is a control plane whose processes die when told.
type fakeProcesses struct{ down atomic.Value }

func (f *fakeProcesses) Stop(context.Context, string) error  { return nil }
func (f *fakeProcesses) Start(context.Context, string) error { return nil }
func (f *fakeProcesses) NotRunning(context.Context) ([]string, error) {
	d, _ := f.down.Load().([]string)
	return d, nil
}

func guardedRun(t *testing.T, readyz http.HandlerFunc, cp ControlPlane) *run {
	t.Helper()
	srv := httptest.NewServer(readyz)
	t.Cleanup(srv.Close)
	r, err := newRun(&rest.Config{Host: srv.URL}, &sim.Input{Name: "x"}, Options{ControlPlane: cp})
	require.NoError(t, err)
	return r
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }

// A control-plane process that dies makes the run invalid and stops it at once; one that a fault
// stopped on purpose does not.
func TestGuardInvalidatesARunWhoseControlPlaneDied(t *testing.T) {
	cp := &fakeProcesses{}
	r := guardedRun(t, ok, cp)
	r.expectDown(ControllerManager)
	cp.down.Store([]string{ControllerManager + " (pid 12)"})
	ctx, stop := r.guard(t.Context())
	time.Sleep(2500 * time.Millisecond)
	require.NoError(t, ctx.Err(), "a process stopped by a fault is not a broken world")
	assert.Empty(t, r.rep.Invalid)

	cp.down.Store([]string{ControllerManager + " (pid 12)", APIServer + " (pid 11)"})
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the run went on after the API server died")
	}
	stop()
	require.Len(t, r.rep.Invalid, 1)
	assert.Contains(t, r.rep.Invalid[0], "kube-apiserver (pid 11) died")

	var inv *InvalidError
	require.True(t, errors.As(r.verdict(ctx.Err()), &inv), "a cancelled run whose world broke is invalid")
	assert.Equal(t, r.rep.Invalid, inv.Reasons)
	assert.NoError(t, guardedRun(t, ok, nil).verdict(nil), "a valid run has no verdict")
}

// A failed injection and a failed revert make the run invalid; an unsupported fault is only
// reported.
func TestFailedInjectionsAndRevertsInvalidateARun(t *testing.T) {
	r := guardedRun(t, ok, nil)
	r.injectFailed("GCPChaos/a", sim.NodeStop, ErrUnsupported)
	r.injectFailed("PodChaos/b", sim.PodKill, errNoPods)
	assert.Empty(t, r.rep.Invalid)
	assert.Len(t, r.rep.NotInjected, 2)
	assert.NoError(t, r.verdict(nil))

	r.injectFailed("GCPChaos/c", sim.NodeStop, errors.New("connection refused"))
	r.revertFailed("GCPChaos/d", errors.New("restore node leases: pool-1: connection refused"))
	assert.Len(t, r.rep.Invalid, 2)
	assert.Equal(t, []string{"GCPChaos/d: restore node leases: pool-1: connection refused"}, r.rep.RevertFailed)
	assert.Contains(t, r.rep.NotInjected[2], "injection failed")
	var inv *InvalidError
	assert.True(t, errors.As(r.verdict(nil), &inv))
}

// An API server that stops answering (a cluster faultline does not run) invalidates the run once
// it has been silent for apiSilenceLimit, not before.
func TestGuardInvalidatesARunWhoseAPIServerIsSilent(t *testing.T) {
	defer func(d time.Duration) { apiSilenceLimit = d }(apiSilenceLimit)
	apiSilenceLimit = 3 * time.Second
	var fail atomic.Bool
	r := guardedRun(t, func(w http.ResponseWriter, req *http.Request) {
		if fail.Load() {
			http.Error(w, "[-]etcd failed", http.StatusInternalServerError)
			return
		}
		ok(w, req)
	}, nil)
	fail.Store(true)
	began := time.Now()
	ctx, stop := r.guard(t.Context())
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a silent API server did not invalidate the run")
	}
	took := time.Since(began)
	assert.GreaterOrEqual(t, took, apiSilenceLimit, "invalidated before the limit")
	require.Len(t, r.rep.Invalid, 1)
	assert.Contains(t, r.rep.Invalid[0], "did not answer /readyz")
}
