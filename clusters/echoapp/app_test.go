package echoapp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func start(t *testing.T, cfg Config) *App {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"127.0.0.1:0"}
	}
	if cfg.Admin == "" {
		cfg.Admin = "127.0.0.1:0"
	}
	a, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, a.Start())
	t.Cleanup(a.Close)
	return a
}

func get(t *testing.T, url string) (int, http.Header, error) {
	t.Helper()
	c := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// dep is a loopback dependency that fails its first n calls, then answers 200.
func dep(t *testing.T, fail int) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= int64(fail) {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s, &calls
}

func TestRequestsCallDependenciesWithRetries(t *testing.T) {
	for _, tc := range []struct {
		name            string
		fail, attempts  int
		want            int
		calls, callErrs int64
		retries         int64
	}{
		{"no retry, dependency fails", 1, 1, 500, 1, 1, 0},
		{"retry rescues", 2, 3, 200, 3, 2, 2},
		{"retries exhausted", 5, 3, 500, 3, 3, 2},
		{"healthy", 0, 3, 200, 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, calls := dep(t, tc.fail)
			a := start(t, Config{Name: "payments", Deps: []string{d.URL + "/"}, Retry: Retry{Attempts: tc.attempts, Backoff: Duration(time.Millisecond), MaxBackoff: Duration(2 * time.Millisecond)}})
			code, h, err := get(t, "http://"+a.Addrs()[0]+"/v1/pay")
			require.NoError(t, err)
			assert.Equal(t, tc.want, code)
			assert.Equal(t, "payments", h.Get(HeaderApp), "the app marks its own answers")
			assert.Equal(t, tc.calls, calls.Load())
			st := a.Stats()
			assert.Equal(t, tc.callErrs, st.CallErrors)
			assert.Equal(t, tc.retries, st.Retries)
		})
	}
}

func TestRetryWaitDoublesToTheCap(t *testing.T) {
	r := Retry{Attempts: 5, Backoff: Duration(100 * time.Millisecond), MaxBackoff: Duration(300 * time.Millisecond)}
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond},
		[]time.Duration{r.Wait(1), r.Wait(2), r.Wait(3), r.Wait(4)})
}

func TestDeepReadinessCallsTheChecks(t *testing.T) {
	auth, _ := dep(t, 1<<30) // always fails
	db, _ := dep(t, 0)
	for _, tc := range []struct {
		name       string
		deep       bool
		checks     []string
		ready, req int
	}{
		{"shallow ignores the failing check", false, []string{auth.URL}, 200, 200},
		{"deep fails with auth down", true, []string{db.URL, auth.URL}, 503, 200},
		{"deep passes with healthy checks", true, []string{db.URL}, 200, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := start(t, Config{Name: "rates", ReadyPath: "/ready", ProbePaths: []string{"/healthz"}, Deep: tc.deep, Checks: tc.checks, Deps: []string{db.URL}})
			code, _, err := get(t, "http://"+a.Addrs()[0]+"/ready")
			require.NoError(t, err)
			assert.Equal(t, tc.ready, code, "readiness")
			code, _, err = get(t, "http://"+a.Addrs()[0]+"/healthz")
			require.NoError(t, err)
			assert.Equal(t, 200, code, "liveness stays shallow")
			code, _, err = get(t, "http://"+a.Addrs()[0]+"/v1/rates")
			require.NoError(t, err)
			assert.Equal(t, tc.req, code, "a request needs only its dependencies, not the checks")
		})
	}
}

func TestFaultModes(t *testing.T) {
	dir := t.TempDir()
	a := start(t, Config{Name: "auth", StateDir: dir, ReadyPath: "/ready"})
	url := "http://" + a.Addrs()[0] + "/"
	admin := "http://" + a.AdminAddr() + "/mode?set="

	code, _, err := get(t, admin+ModeFail)
	require.NoError(t, err)
	require.Equal(t, 200, code)
	_, _, err = get(t, url)
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "fail: nothing listens, got %v", err)
	b, err := os.ReadFile(filepath.Join(dir, "mode"))
	require.NoError(t, err)
	assert.Equal(t, "fail\n", string(b), "the mode survives a container restart")

	// a restarted container (same state directory) comes back failed
	b2, err := New(Config{Name: "auth", StateDir: dir, Listen: []string{"127.0.0.1:0"}})
	require.NoError(t, err)
	assert.Equal(t, ModeFail, b2.Mode())

	_, _, err = get(t, admin+ModeHang)
	require.NoError(t, err)
	_, _, err = get(t, url)
	var ne interface{ Timeout() bool }
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "hang: the caller times out, got %v", err)

	_, _, err = get(t, admin+ModeOK)
	require.NoError(t, err)
	code, _, err = get(t, url)
	require.NoError(t, err)
	assert.Equal(t, 200, code, "ok: serving again on the same address")

	code, _, err = get(t, admin+"bogus")
	require.NoError(t, err)
	assert.Equal(t, 400, code)
}

func TestTerminate(t *testing.T) {
	for _, tc := range []struct {
		policy    string
		exit      bool
		connClose bool
	}{
		{"", true, false},
		{SIGTERMExit, true, false},
		{SIGTERMKeepServing, false, false},
		{SIGTERMConnectionClose, false, true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			a := start(t, Config{Name: "api", OnSIGTERM: tc.policy})
			assert.Equal(t, tc.exit, a.Terminate())
			if tc.exit {
				return
			}
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+a.Addrs()[0]+"/", nil)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode, "still serving after SIGTERM")
			assert.Equal(t, tc.connClose, resp.Close, "Connection: close")
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no address", Config{}, "listen"},
		{"bad policy", Config{Listen: []string{":1"}, OnSIGTERM: "linger"}, "onSIGTERM"},
		{"too many attempts", Config{Listen: []string{":1"}, Retry: Retry{Attempts: 99}}, "retry"},
		{"not a URL", Config{Listen: []string{":1"}, Deps: []string{"auth"}}, "http://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorContains(t, tc.cfg.Validate(), tc.want)
		})
	}
	t.Setenv(EnvConfig, `{"listen":[":8080"],"retry":{"attempts":3,"backoff":"100ms"},"bogus":1}`)
	_, err := FromEnv()
	assert.ErrorContains(t, err, "bogus", "unknown fields are refused")
	t.Setenv(EnvConfig, `{"listen":[":8080"],"retry":{"attempts":3,"backoff":"100ms"}}`)
	c, err := FromEnv()
	require.NoError(t, err)
	assert.Equal(t, Duration(100*time.Millisecond), c.Retry.Backoff)
}

func TestFaultModeEndsByItself(t *testing.T) {
	dir := t.TempDir()
	a := start(t, Config{Name: "auth", StateDir: dir})
	until := time.Now().Add(300 * time.Millisecond)
	code, _, err := get(t, "http://"+a.AdminAddr()+"/mode?set=fail&until="+until.UTC().Format(time.RFC3339Nano))
	require.NoError(t, err)
	require.Equal(t, 200, code)
	_, _, err = get(t, "http://"+a.Addrs()[0]+"/")
	require.Error(t, err, "failed")
	// a container restarting now reads the fault with its end
	b, err := New(Config{Name: "auth", StateDir: dir, Listen: []string{"127.0.0.1:0"}})
	require.NoError(t, err)
	assert.Equal(t, ModeFail, b.Mode())
	require.Eventually(t, func() bool { return a.Mode() == ModeOK }, 3*time.Second, 20*time.Millisecond, "the fault ends at until without being told")
	code, _, err = get(t, "http://"+a.Addrs()[0]+"/")
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	// ... and a container restarting after the end starts healthy
	c, err := New(Config{Name: "auth", StateDir: dir, Listen: []string{"127.0.0.1:0"}})
	require.NoError(t, err)
	assert.Equal(t, ModeOK, c.Mode())
	os.WriteFile(filepath.Join(dir, "mode"), []byte("hang "+time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)+"\n"), 0o644)
	d, err := New(Config{Name: "auth", StateDir: dir, Listen: []string{"127.0.0.1:0"}})
	require.NoError(t, err)
	assert.Equal(t, ModeOK, d.Mode(), "a fault whose end has passed is over")
}
