// Package prometheus runs a Prometheus server beside a real run: it scrapes what the real cluster
// exposes (the kube-apiserver's /metrics with a client certificate, the platform's /metrics where
// the platform runs), so that a scenario's PromQL objectives and alerting rules are evaluated
// against a real Prometheus over the run's window (package measure/promql, EvaluateAPI).
//
// The server is Prometheus itself, built from the Go module github.com/prometheus/prometheus at
// the version faultline's simulator uses as its query engine (package measure/promql), so both
// worlds evaluate PromQL with the same engine (see the local provider's EnsurePrometheus). It
// listens on 127.0.0.1 only, on a free port, keeps its TSDB in a temporary directory of its own,
// runs in its own process group and is stopped by its recorded PID (package clusters/internal/proc:
// only when that PID still runs the recorded binary). A server whose faultline process died is
// stopped, and its directory removed, by the next Start on the machine (Sweep).
package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/faultline-dev/faultline/clusters/internal/proc"
)

// EnvBinary names a prometheus program to run instead of the one built from the pinned module
// (for instance a distribution's package); it must accept Prometheus' flags.
const EnvBinary = "FAULTLINE_PROMETHEUS"

// Target is one endpoint to scrape.
type Target struct {
	Job string
	// URL is the endpoint, scheme://host:port/path (the path defaults to /metrics).
	URL string
	// TLS client authentication and the CA to verify the server with (PEM); empty: none.
	CA, Cert, Key []byte
	// BearerToken authenticates instead of a client certificate.
	BearerToken string
}

// Config says what a server scrapes.
type Config struct {
	// Binary is the prometheus program.
	Binary string
	// ScrapeInterval is how often every target is scraped (at least 1 s).
	ScrapeInterval time.Duration
	Targets        []Target
	// Keep, when not empty, are the only metric names stored (a metric_relabel_configs keep
	// rule, as the simulator's scrape keeps only the families a scenario reads); "up" is kept
	// too.
	Keep []string
	// Dir is where the server's temporary directory is made (default os.TempDir()).
	Dir string
}

// Server is a running Prometheus.
type Server struct {
	// URL is the server's HTTP address, http://127.0.0.1:PORT.
	URL string
	// API is the server's query API.
	API v1.API
	dir string
	rec proc.Record
}

const (
	dirPrefix  = "faultline-prometheus-"
	recordFile = "server.json"
)

// record is what a server's directory says about it, for Sweep.
type record struct {
	Owner      int         `json:"ownerPid"`   // the faultline process that started it
	OwnerStart uint64      `json:"ownerStart"` // and its start time, against PID reuse
	Server     proc.Record `json:"server"`
}

// Start writes the configuration, starts the server and waits until it answers. The caller
// must Stop it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Binary == "" {
		return nil, errors.New("prometheus: no binary")
	}
	if cfg.ScrapeInterval < time.Second {
		cfg.ScrapeInterval = time.Second
	}
	base := cfg.Dir
	if base == "" {
		base = os.TempDir()
	}
	Sweep(base)
	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	ok := false
	defer func() {
		if !ok {
			_ = s.Stop(context.WithoutCancel(ctx))
		}
	}()
	conf, err := writeConfig(dir, cfg)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{
		"--config.file=" + conf,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=1d",
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}
	// the owner is recorded before the server exists, so that a crash in between leaves
	// nothing Sweep could not find
	self, _ := proc.Inspect(os.Getpid())
	rec := record{Owner: os.Getpid(), OwnerStart: self.Start}
	if err := writeRecord(dir, rec); err != nil {
		return nil, err
	}
	s.rec, err = proc.Start("prometheus", cfg.Binary, args, filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return nil, err
	}
	rec.Server = s.rec
	if err := writeRecord(dir, rec); err != nil {
		return nil, err
	}
	s.URL = "http://" + addr
	client, err := api.NewClient(api.Config{Address: s.URL})
	if err != nil {
		return nil, err
	}
	s.API = v1.NewAPI(client)
	if err := s.waitReady(ctx, time.Minute); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// Dir is the server's directory: its configuration, TSDB and log.
func (s *Server) Dir() string { return s.dir }

// PID is the server's process id.
func (s *Server) PID() int { return s.rec.PID }

// Stop stops the server by its recorded PID and removes its directory.
func (s *Server) Stop(ctx context.Context) error {
	var err error
	if s.rec.PID > 0 {
		err = proc.Stop(ctx, s.rec, 10*time.Second)
	}
	if err == nil && s.dir != "" {
		err = os.RemoveAll(s.dir)
	}
	return err
}

// Log is the end of the server's log, for error messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "prometheus.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if running, _ := s.rec.Running(); !running {
			return fmt.Errorf("prometheus exited at start: %s", s.Log())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus not ready after %s: %s", limit, s.Log())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitScraped waits until every target has been scraped successfully once (up == 1).
func (s *Server) WaitScraped(ctx context.Context, jobs []string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		missing := s.down(ctx, jobs)
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus: no successful scrape of %s after %s (%s)", strings.Join(missing, ", "), limit, s.lastErrors(ctx))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Server) down(ctx context.Context, jobs []string) []string {
	var missing []string
	for _, j := range jobs {
		v, _, _, err := s.API.Query(ctx, fmt.Sprintf("up{job=%q}", j), time.Now())
		vec, ok := v.(model.Vector)
		if err != nil || !ok || len(vec) == 0 || vec[0].Value != 1 {
			missing = append(missing, j)
		}
	}
	return missing
}

// lastErrors are the targets' last scrape errors.
func (s *Server) lastErrors(ctx context.Context) string {
	ts, err := s.API.Targets(ctx)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, t := range ts.Active {
		if t.LastError != "" {
			out = append(out, t.ScrapeURL+": "+t.LastError)
		}
	}
	if len(out) == 0 {
		return "no scrape errors yet"
	}
	return strings.Join(out, "; ")
}

// Names are the metric names the server holds between start and end.
func (s *Server) Names(ctx context.Context, start, end time.Time) (map[string]bool, error) {
	vals, _, _, err := s.API.LabelValues(ctx, model.MetricNameLabel, nil, start, end)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(vals))
	for _, v := range vals {
		out[string(v)] = true
	}
	return out, nil
}

// The configuration file: one job per target, static, TLS material in files beside it.
type promConfig struct {
	Global struct {
		ScrapeInterval string `json:"scrape_interval"`
		ScrapeTimeout  string `json:"scrape_timeout"`
	} `json:"global"`
	ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
}

type scrapeConfig struct {
	JobName        string         `json:"job_name"`
	Scheme         string         `json:"scheme,omitempty"`
	MetricsPath    string         `json:"metrics_path,omitempty"`
	TLSConfig      map[string]any `json:"tls_config,omitempty"`
	Authorization  map[string]any `json:"authorization,omitempty"`
	StaticConfigs  []staticConfig `json:"static_configs"`
	MetricRelabels []relabel      `json:"metric_relabel_configs,omitempty"`
}

type staticConfig struct {
	Targets []string `json:"targets"`
}

type relabel struct {
	SourceLabels []string `json:"source_labels"`
	Regex        string   `json:"regex"`
	Action       string   `json:"action"`
}

func writeConfig(dir string, cfg Config) (string, error) {
	var c promConfig
	iv := model.Duration(cfg.ScrapeInterval.Truncate(time.Millisecond)).String()
	c.Global.ScrapeInterval, c.Global.ScrapeTimeout = iv, iv
	var keep []relabel
	if len(cfg.Keep) > 0 {
		names := []string{"up"}
		for _, k := range cfg.Keep {
			names = append(names, regexp.QuoteMeta(k))
		}
		keep = []relabel{{SourceLabels: []string{model.MetricNameLabel}, Regex: strings.Join(names, "|"), Action: "keep"}}
	}
	seen := map[string]bool{}
	for i, t := range cfg.Targets {
		if t.Job == "" || seen[t.Job] {
			return "", fmt.Errorf("prometheus: target %d: job %q: expected a unique job name", i, t.Job)
		}
		seen[t.Job] = true
		u, err := parseTarget(t.URL)
		if err != nil {
			return "", fmt.Errorf("prometheus: job %s: %w", t.Job, err)
		}
		sc := scrapeConfig{JobName: t.Job, Scheme: u.scheme, MetricsPath: u.path, StaticConfigs: []staticConfig{{Targets: []string{u.host}}}, MetricRelabels: keep}
		tls := map[string]any{}
		for name, data := range map[string][]byte{"ca_file": t.CA, "cert_file": t.Cert, "key_file": t.Key} {
			if len(data) == 0 {
				continue
			}
			f := filepath.Join(dir, t.Job+"-"+strings.TrimSuffix(name, "_file")+".pem")
			if err := os.WriteFile(f, data, 0o600); err != nil {
				return "", err
			}
			tls[name] = f
		}
		if len(tls) > 0 {
			sc.TLSConfig = tls
		}
		if t.BearerToken != "" {
			f := filepath.Join(dir, t.Job+"-token")
			if err := os.WriteFile(f, []byte(t.BearerToken), 0o600); err != nil {
				return "", err
			}
			sc.Authorization = map[string]any{"type": "Bearer", "credentials_file": f}
		}
		c.ScrapeConfigs = append(c.ScrapeConfigs, sc)
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return "", err
	}
	f := filepath.Join(dir, "prometheus.yml")
	return f, os.WriteFile(f, b, 0o600)
}

type targetURL struct{ scheme, host, path string }

func parseTarget(raw string) (targetURL, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme != "http" && scheme != "https" {
		return targetURL{}, fmt.Errorf("url %q: expected http:// or https://", raw)
	}
	host, path, _ := strings.Cut(rest, "/")
	if host == "" {
		return targetURL{}, fmt.Errorf("url %q: no host", raw)
	}
	return targetURL{scheme: scheme, host: host, path: "/" + path}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeRecord(dir string, r record) error {
	b, _ := json.Marshal(r)
	return os.WriteFile(filepath.Join(dir, recordFile), b, 0o600)
}

// Sweep stops the servers under base whose faultline process is gone, by their recorded PID
// (only when it still runs the recorded binary), and removes their directories. Directories
// without a record are left alone.
func Sweep(base string) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, recordFile))
		if err != nil {
			continue
		}
		var r record
		if json.Unmarshal(b, &r) != nil || r.Owner <= 0 {
			continue
		}
		if info, err := proc.Inspect(r.Owner); err == nil && (r.OwnerStart == 0 || info.Start == r.OwnerStart) && info.State != 'Z' {
			continue // its owner still runs
		}
		if r.Server.PID > 0 {
			if err := proc.Stop(context.Background(), r.Server, 5*time.Second); err != nil {
				continue
			}
		}
		_ = os.RemoveAll(dir)
	}
}
