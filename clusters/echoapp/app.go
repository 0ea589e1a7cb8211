package echoapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EnvConfig is the environment variable that carries a Config as JSON to faultline-echo.
const EnvConfig = "FAULTLINE_APP"

// SIGTERM policies (package sim's Load.OnSIGTERM).
const (
	SIGTERMExit            = "exit"
	SIGTERMKeepServing     = "keep-serving"
	SIGTERMConnectionClose = "connection-close"
)

// Fault modes set through the admin address.
const (
	ModeOK   = "ok"
	ModeFail = "fail"
	ModeHang = "hang"
)

// HeaderApp marks an answer the app itself gave (an app error), as against a proxy's.
const HeaderApp = "X-Faultline-App"

// Limits on a Config: what one pod may be asked to do.
const (
	MaxAddrs    = 16
	MaxCalls    = 16 // dependencies or checks
	MaxAttempts = 10
)

// Config is one workload's app behaviour.
type Config struct {
	// Name is the workload ("deployment/default/api"); answers carry it.
	Name string `json:"name"`
	// Listen are the app's addresses: every port its probes and containerPorts name.
	Listen []string `json:"listen"`
	// Admin is the fault switch's address; empty: none.
	Admin string `json:"admin,omitempty"`
	// StateDir keeps the fault mode across container restarts (an emptyDir); empty: in memory.
	StateDir string `json:"stateDir,omitempty"`
	// ProbePaths answer 200 while the process serves (liveness, startup); ReadyPath is the
	// readiness probe's path, deep when Deep.
	ProbePaths []string `json:"probePaths,omitempty"`
	ReadyPath  string   `json:"readyPath,omitempty"`
	Deep       bool     `json:"deep,omitempty"`
	// Checks are the URLs a deep readiness check calls; Deps those every request calls.
	Checks []string `json:"checks,omitempty"`
	Deps   []string `json:"deps,omitempty"`
	Retry  Retry    `json:"retry"`
	// CallTimeout bounds one dependency or check call (default 1 s).
	CallTimeout Duration `json:"callTimeout,omitempty"`
	// OnSIGTERM: exit (default), keep-serving or connection-close.
	OnSIGTERM string `json:"onSIGTERM,omitempty"`
}

// Retry is a caller's retry policy: up to Attempts tries per call, Backoff before the first
// retry, doubling up to MaxBackoff (0: no cap).
type Retry struct {
	Attempts   int      `json:"attempts"`
	Backoff    Duration `json:"backoff,omitempty"`
	MaxBackoff Duration `json:"maxBackoff,omitempty"`
}

// Wait is the back-off before retry k (1-based), as package sim's Retry.wait.
func (r Retry) Wait(k int) time.Duration {
	b := time.Duration(r.Backoff)
	for i := 1; i < k; i++ {
		b *= 2
		if r.MaxBackoff > 0 && b >= time.Duration(r.MaxBackoff) {
			return time.Duration(r.MaxBackoff)
		}
	}
	return b
}

// Duration is a time.Duration written as Go's duration text in JSON ("1.5s").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: expected a string like \"1s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Validate checks the bounds of a Config; errors name the field.
func (c *Config) Validate() error {
	if len(c.Listen) == 0 || len(c.Listen) > MaxAddrs {
		return fmt.Errorf("listen: %d addresses; expected 1 to %d", len(c.Listen), MaxAddrs)
	}
	if len(c.Deps) > MaxCalls || len(c.Checks) > MaxCalls {
		return fmt.Errorf("deps/checks: %d/%d URLs; expected at most %d each", len(c.Deps), len(c.Checks), MaxCalls)
	}
	if c.Retry.Attempts < 0 || c.Retry.Attempts > MaxAttempts || c.Retry.Backoff < 0 || c.Retry.MaxBackoff < 0 {
		return fmt.Errorf("retry: attempts %d, backoff %v, maxBackoff %v; expected 0..%d attempts and back-offs >= 0",
			c.Retry.Attempts, time.Duration(c.Retry.Backoff), time.Duration(c.Retry.MaxBackoff), MaxAttempts)
	}
	if c.CallTimeout < 0 || time.Duration(c.CallTimeout) > time.Minute {
		return fmt.Errorf("callTimeout: %v; expected 0 (1 s) up to 1 m", time.Duration(c.CallTimeout))
	}
	switch c.OnSIGTERM {
	case "", SIGTERMExit, SIGTERMKeepServing, SIGTERMConnectionClose:
	default:
		return fmt.Errorf("onSIGTERM: %q; expected exit, keep-serving or connection-close", c.OnSIGTERM)
	}
	for _, u := range append(slices.Clone(c.Deps), c.Checks...) {
		if !strings.HasPrefix(u, "http://") {
			return fmt.Errorf("deps/checks: %q: expected an http:// URL", u)
		}
	}
	return nil
}

// Stats are the app's counters since it started.
type Stats struct {
	Requests      int64 `json:"requests"`
	AppErrors     int64 `json:"appErrors"`
	CallErrors    int64 `json:"callErrors"` // failed dependency attempts, retries included
	Retries       int64 `json:"retries"`
	RetryWaitNano int64 `json:"retryWaitNanos"`
	ChecksFailed  int64 `json:"checksFailed"`
}

// App is a running app.
type App struct {
	cfg    Config
	client *http.Client
	sleep  func(context.Context, time.Duration) bool

	mu      sync.Mutex
	mode    string
	until   time.Time      // the fault mode ends by itself then (zero: when told)
	expiry  *time.Timer    // ... armed here
	servers []*http.Server // app servers while listening (nil in fail mode)
	admin   *http.Server
	closing atomic.Bool // connection-close after SIGTERM

	stats struct{ requests, appErrors, callErrors, retries, retryWait, checksFailed atomic.Int64 }
	addrs []string // the bound app addresses (":0" resolved), for tests
	done  chan struct{}
}

// New makes an app from a validated Config; Start binds it.
func New(cfg Config) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Retry.Attempts == 0 {
		cfg.Retry.Attempts = 1
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = Duration(time.Second)
	}
	if cfg.OnSIGTERM == "" {
		cfg.OnSIGTERM = SIGTERMExit
	}
	a := &App{cfg: cfg, mode: ModeOK, done: make(chan struct{})}
	// a new connection per attempt: each picks an endpoint afresh, as the simulator's calls do
	a.client = &http.Client{Timeout: time.Duration(cfg.CallTimeout), Transport: &http.Transport{DisableKeepAlives: true}}
	a.sleep = func(ctx context.Context, d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	if cfg.StateDir != "" {
		if b, err := os.ReadFile(filepath.Join(cfg.StateDir, "mode")); err == nil {
			m, until := parseState(string(b))
			if (m == ModeFail || m == ModeHang) && (until.IsZero() || time.Now().Before(until)) {
				a.mode, a.until = m, until
			}
		}
	}
	return a, nil
}

// parseState reads the state file: the mode, and when it ends (RFC 3339; absent: when told).
func parseState(s string) (string, time.Time) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ModeOK, time.Time{}
	}
	var until time.Time
	if len(f) > 1 {
		until, _ = time.Parse(time.RFC3339Nano, f[1])
	}
	return f[0], until
}

// Start binds the admin address and, unless the kept mode is fail, the app's addresses.
func (a *App) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.Admin != "" {
		ln, err := net.Listen("tcp", a.cfg.Admin)
		if err != nil {
			return fmt.Errorf("admin %s: %w", a.cfg.Admin, err)
		}
		a.admin = &http.Server{Handler: http.HandlerFunc(a.serveAdmin), ReadHeaderTimeout: 5 * time.Second}
		go a.admin.Serve(ln)
		a.cfg.Admin = ln.Addr().String()
	}
	a.armLocked()
	if a.mode != ModeFail {
		return a.listenLocked()
	}
	return nil
}

// armLocked makes a fault mode with an end go back to ok then, whether or not anyone can reach
// the admin address at that moment (the container may be restarting).
func (a *App) armLocked() {
	if a.expiry != nil {
		a.expiry.Stop()
		a.expiry = nil
	}
	if a.mode == ModeOK || a.until.IsZero() {
		return
	}
	until := a.until
	a.expiry = time.AfterFunc(time.Until(until), func() {
		a.mu.Lock()
		current := a.until.Equal(until)
		a.mu.Unlock()
		if current {
			_ = a.SetMode(ModeOK, time.Time{})
		}
	})
}

func (a *App) listenLocked() error {
	var lns []net.Listener
	addrs := a.addrs
	if addrs == nil {
		addrs = a.cfg.Listen
	}
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}
	if a.addrs == nil {
		for _, ln := range lns {
			a.addrs = append(a.addrs, ln.Addr().String())
		}
	}
	for _, ln := range lns {
		s := &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 10 * time.Second}
		if a.closing.Load() {
			s.SetKeepAlivesEnabled(false)
		}
		a.servers = append(a.servers, s)
		go s.Serve(ln)
	}
	return nil
}

// Addrs are the app's bound addresses; AdminAddr the admin's.
func (a *App) Addrs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.addrs)
}

func (a *App) AdminAddr() string { return a.cfg.Admin }

// Mode is the fault mode now.
func (a *App) Mode() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mode
}

// SetMode switches the fault mode and keeps it in StateDir; a fail or hang mode with an until
// ends by itself then, also across container restarts.
func (a *App) SetMode(m string, until time.Time) error {
	switch m {
	case ModeOK, ModeFail, ModeHang:
	default:
		return fmt.Errorf("mode %q: expected ok, fail or hang", m)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	state := m
	if !until.IsZero() && m != ModeOK {
		state += " " + until.UTC().Format(time.RFC3339Nano)
	}
	if a.cfg.StateDir != "" {
		if err := os.WriteFile(filepath.Join(a.cfg.StateDir, "mode"), []byte(state+"\n"), 0o644); err != nil {
			return err
		}
	}
	prev := a.mode
	a.mode, a.until = m, until
	if m == ModeOK {
		a.until = time.Time{}
	}
	a.armLocked()
	switch {
	case m == ModeFail && prev != ModeFail:
		for _, s := range a.servers {
			s.Close() // listeners and connections: what follows is refused
		}
		a.servers = nil
	case m != ModeFail && prev == ModeFail:
		return a.listenLocked()
	}
	return nil
}

// Terminate is SIGTERM: it reports whether the process should exit now. keep-serving changes
// nothing (the kubelet's SIGKILL ends it); connection-close keeps serving with keep-alives off.
func (a *App) Terminate() bool {
	switch a.cfg.OnSIGTERM {
	case SIGTERMKeepServing:
		return false
	case SIGTERMConnectionClose:
		a.closing.Store(true)
		a.mu.Lock()
		for _, s := range a.servers {
			s.SetKeepAlivesEnabled(false)
		}
		a.mu.Unlock()
		return false
	}
	return true
}

// Close stops every server.
func (a *App) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.servers {
		s.Close()
	}
	a.servers = nil
	if a.expiry != nil {
		a.expiry.Stop()
	}
	if a.admin != nil {
		a.admin.Close()
	}
}

// Stats returns the counters.
func (a *App) Stats() Stats {
	return Stats{
		Requests: a.stats.requests.Load(), AppErrors: a.stats.appErrors.Load(), CallErrors: a.stats.callErrors.Load(),
		Retries: a.stats.retries.Load(), RetryWaitNano: a.stats.retryWait.Load(), ChecksFailed: a.stats.checksFailed.Load(),
	}
}

func (a *App) serve(w http.ResponseWriter, r *http.Request) {
	if a.Mode() == ModeHang {
		<-r.Context().Done() // never answer: the caller times out
		return
	}
	if a.closing.Load() {
		w.Header().Set("Connection", "close")
	}
	w.Header().Set(HeaderApp, a.cfg.Name)
	switch {
	case r.URL.Path == a.cfg.ReadyPath && a.cfg.ReadyPath != "":
		if a.cfg.Deep {
			for _, u := range a.cfg.Checks {
				if err := a.call(r.Context(), u); err != nil {
					a.stats.checksFailed.Add(1)
					http.Error(w, "check "+u+": "+err.Error(), http.StatusServiceUnavailable)
					return
				}
			}
		}
		fmt.Fprintln(w, "ready")
		return
	case slices.Contains(a.cfg.ProbePaths, r.URL.Path):
		fmt.Fprintln(w, "ok")
		return
	}
	a.stats.requests.Add(1)
	for _, u := range a.cfg.Deps {
		if err := a.callRetrying(r.Context(), u); err != nil {
			a.stats.appErrors.Add(1)
			http.Error(w, "dependency "+u+": "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	host, _ := os.Hostname()
	fmt.Fprintln(w, host)
}

// callRetrying calls u with the retry policy.
func (a *App) callRetrying(ctx context.Context, u string) error {
	var err error
	for k := 1; k <= a.cfg.Retry.Attempts; k++ {
		if k > 1 {
			d := a.cfg.Retry.Wait(k - 1)
			a.stats.retries.Add(1)
			a.stats.retryWait.Add(int64(d))
			if !a.sleep(ctx, d) {
				return ctx.Err()
			}
		}
		if err = a.call(ctx, u); err == nil {
			return nil
		}
		a.stats.callErrors.Add(1)
	}
	return err
}

// call makes one attempt: success is a 2xx answer.
func (a *App) call(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// serveAdmin: POST /mode?set=ok|fail|hang[&until=RFC3339], GET /mode, GET /stats.
func (a *App) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/mode":
		if r.Method == http.MethodPost || r.URL.Query().Has("set") {
			var until time.Time
			if u := r.URL.Query().Get("until"); u != "" {
				t, err := time.Parse(time.RFC3339Nano, u)
				if err != nil {
					http.Error(w, "until: "+err.Error(), http.StatusBadRequest)
					return
				}
				until = t
			}
			if err := a.SetMode(r.URL.Query().Get("set"), until); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		fmt.Fprintln(w, a.Mode())
	case "/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.Stats())
	default:
		http.NotFound(w, r)
	}
}

// ErrNoConfig is returned by FromEnv when EnvConfig is unset.
var ErrNoConfig = errors.New(EnvConfig + " is not set")

// FromEnv reads the Config from EnvConfig.
func FromEnv() (Config, error) {
	v := os.Getenv(EnvConfig)
	if v == "" {
		return Config{}, ErrNoConfig
	}
	var c Config
	if len(v) > 1<<16 {
		return c, fmt.Errorf("%s: %d bytes; expected at most 64 KiB", EnvConfig, len(v))
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", EnvConfig, err)
	}
	return c, c.Validate()
}
