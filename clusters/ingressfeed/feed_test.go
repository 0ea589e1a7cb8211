package ingressfeed

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChangesArriveAfterTheirLag(t *testing.T) {
	f, err := New(Config{Port: 8080, Routes: []Route{{Path: "/", Service: "default/api"}}, Lag: Lag{Min: 10 * time.Second, Max: 40 * time.Second}, Seed: 7})
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Settle("default/api", []string{"10.0.0.1:8080", "10.0.0.2:8080"})
	f.Observe(t0, "default/api", []string{"10.0.0.2:8080", "10.0.0.3:8080"}) // .1 leaves, .3 joins
	assert.Empty(t, f.Due(t0.Add(10*time.Second-time.Nanosecond)), "nothing before the smallest lag")
	assert.Equal(t, []string{"10.0.0.1:8080", "10.0.0.2:8080"}, f.Believed("default/api"))
	got := f.Due(t0.Add(40 * time.Second))
	require.Len(t, got, 2)
	for _, a := range got {
		assert.GreaterOrEqual(t, a.Lag, 10*time.Second)
		assert.LessOrEqual(t, a.Lag, 40*time.Second)
	}
	assert.ElementsMatch(t, []string{"10.0.0.2:8080", "10.0.0.3:8080"}, f.Believed("default/api"))
	assert.True(t, f.Next().IsZero())
}

func TestAnOvertakenChangeIsDropped(t *testing.T) {
	f, err := New(Config{Port: 8080, Routes: []Route{{Path: "/", Service: "default/api"}}, Lag: Lag{Min: time.Second, Max: time.Second}})
	require.NoError(t, err)
	t0 := time.Unix(0, 0)
	f.Settle("default/api", []string{"a:1"})
	f.Observe(t0, "default/api", nil)                                       // a leaves: due at 1 s
	f.Observe(t0.Add(500*time.Millisecond), "default/api", []string{"a:1"}) // and is back: due at 1.5 s
	f.Due(t0.Add(2 * time.Second))
	assert.Equal(t, []string{"a:1"}, f.Believed("default/api"), "the later change wins")
}

func TestRender(t *testing.T) {
	f, err := New(Config{Port: 8080, Routes: []Route{
		{Host: "api.example", Path: "/v1/pay", Service: "default/payments"},
		{Host: "api.example", Path: "/v1/rates", Service: "default/rates"},
	}})
	require.NoError(t, err)
	f.Settle("default/payments", []string{"10.0.0.1:8080"})
	conf := string(f.Render("/tmp/x"))
	assert.Contains(t, conf, "upstream svc_default_payments {\n    server 10.0.0.1:8080;\n  }")
	assert.Contains(t, conf, "location /v1/rates {\n      return 503;", "no endpoint believed ready: 503, as a load balancer without backends")
	assert.Contains(t, conf, "proxy_next_upstream off;")
	assert.Contains(t, conf, "server_name api.example;")
	_, err = New(Config{Port: 8080, Routes: []Route{{Path: "/x; return 200", Service: "default/a"}}})
	assert.ErrorContains(t, err, "routes[0]", "nothing unsafe is written into the configuration")
}

// TestNginxOnLoopback runs Debian's nginx with a rendered configuration (set FAULTLINE_NGINX to
// its binary; skipped otherwise): a live endpoint answers, a dead one is a 502, a Service without
// endpoints a 503.
func TestNginxOnLoopback(t *testing.T) {
	bin := os.Getenv("FAULTLINE_NGINX")
	if bin == "" {
		t.Skip("FAULTLINE_NGINX is not set (the path of an nginx binary)")
	}
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer live.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	f, err := New(Config{Port: port, Routes: []Route{{Path: "/live", Service: "d/live"}, {Path: "/dead", Service: "d/dead"}, {Path: "/none", Service: "d/none"}}})
	require.NoError(t, err)
	f.Settle("d/live", []string{strings.TrimPrefix(live.URL, "http://")})
	f.Settle("d/dead", []string{dead})
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(conf, f.Render(dir), 0o644))
	cmd := exec.Command(bin, "-e", "stderr", "-c", conf, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the master and its worker, by the group we made
		_ = cmd.Wait()
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := &http.Client{Timeout: 2 * time.Second}
	var resp *http.Response
	for i := 0; i < 50; i++ {
		if resp, err = c.Get(base + "/live"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	for path, want := range map[string]int{"/dead": 502, "/none": 503} {
		resp, err := c.Get(base + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, path)
	}
}
