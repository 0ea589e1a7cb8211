// Package ingressfeed feeds the ingress proxy of real runs: nginx (Debian's package, unchanged),
// standing in for a cloud load balancer in front of an Ingress. It turns the ready endpoints of
// the Ingress's Services (their EndpointSlices) into nginx's configuration, each endpoint change
// taking effect after a lag drawn between Lag.Min and Lag.Max: the cloud load balancer's delay
// (package sim's models.network.ingressLag, the NEG controller detaching or attaching an
// endpoint), which kind does not have and which nginx has no setting for.
//
// What is real: nginx proxying each request on a new connection to one endpoint, answering 502
// when the connection is refused or reset before the answer (the process is gone), 504 when the
// endpoint does not answer in time, and 503 (configured) for a route whose Service has no
// endpoint it believes ready; no retry on another endpoint (proxy_next_upstream off), as a cloud
// load balancer passes a backend's failure on. What is set: the lag, drawn per endpoint change as
// the simulator draws it.
package ingressfeed

import (
	"bytes"
	"container/heap"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Route sends requests for Host (any when empty) whose path starts with Path to Service.
type Route struct {
	Host    string `json:"host,omitempty"`
	Path    string `json:"path"`
	Service string `json:"service"` // namespace/name
}

// Lag is the propagation delay of one endpoint change.
type Lag struct {
	Min time.Duration `json:"min"`
	Max time.Duration `json:"max"`
}

// Config is the proxy's routing and lag.
type Config struct {
	Port   int     `json:"port"`
	Routes []Route `json:"routes"`
	Lag    Lag     `json:"lag"`
	Seed   uint64  `json:"seed"`
	// Timeout bounds the connection and the answer of one proxied request (default 5 s).
	Timeout time.Duration `json:"timeout,omitempty"`
}

var safeName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
var safePath = regexp.MustCompile(`^/[A-Za-z0-9/._~-]*$`)
var safeHost = regexp.MustCompile(`^[A-Za-z0-9.-]*$`)

// Validate checks the bounds, and that everything written into nginx's configuration is plain.
func (c *Config) Validate() error {
	if c.Port <= 0 || c.Port > 65535 {
		return fmt.Errorf("port: %d; expected 1-65535", c.Port)
	}
	if len(c.Routes) == 0 || len(c.Routes) > 64 {
		return fmt.Errorf("routes: %d; expected 1 to 64", len(c.Routes))
	}
	for i, r := range c.Routes {
		if !safeName.MatchString(r.Service) || !safePath.MatchString(r.Path) || !safeHost.MatchString(r.Host) {
			return fmt.Errorf("routes[%d]: host %q, path %q, service %q: expected a DNS host, an absolute path and namespace/name", i, r.Host, r.Path, r.Service)
		}
	}
	if c.Lag.Min < 0 || c.Lag.Max < c.Lag.Min || c.Lag.Max > 10*time.Minute {
		return fmt.Errorf("lag: min %v, max %v; expected 0 <= min <= max <= 10m", c.Lag.Min, c.Lag.Max)
	}
	if c.Timeout < 0 || c.Timeout > time.Minute {
		return fmt.Errorf("timeout: %v; expected 0 (5 s) up to 1m", c.Timeout)
	}
	return nil
}

// Services lists the routed Services, sorted.
func (c *Config) Services() []string {
	var out []string
	for _, r := range c.Routes {
		if !slices.Contains(out, r.Service) {
			out = append(out, r.Service)
		}
	}
	slices.Sort(out)
	return out
}

// change is one endpoint's readiness on its way to the proxy.
type change struct {
	at      time.Time
	svc     string
	addr    string
	ready   bool
	seq     uint64
	applied time.Duration // the lag drawn, for the log
}

type queue []change

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(change)) }
func (q *queue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// Feeder holds what the cluster says (observed) and what the proxy believes (believed), and the
// changes in between. It is not safe for concurrent use.
type Feeder struct {
	cfg      Config
	rng      *rand.Rand
	observed map[string]map[string]bool // service → address → ready
	believed map[string][]string        // service → addresses the proxy routes to, in the order learned
	last     map[string]uint64          // service+address → sequence of the latest change
	applied  map[string]uint64
	q        queue
	seq      uint64
}

// New makes a feeder.
func New(cfg Config) (*Feeder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Feeder{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x696e677265737321)), observed: map[string]map[string]bool{},
		believed: map[string][]string{}, last: map[string]uint64{}, applied: map[string]uint64{}}, nil
}

// Settle takes the cluster's state as what the proxy believes already (it has been running).
func (f *Feeder) Settle(svc string, ready []string) {
	f.observed[svc] = map[string]bool{}
	for _, a := range ready {
		f.observed[svc][a] = true
	}
	f.believed[svc] = slices.Clone(ready)
	slices.Sort(f.believed[svc])
}

// Observe records the Service's ready endpoints now; each endpoint that changed is scheduled to
// reach the proxy after its lag.
func (f *Feeder) Observe(now time.Time, svc string, ready []string) {
	prev := f.observed[svc]
	cur := map[string]bool{}
	for _, a := range ready {
		cur[a] = true
	}
	var addrs []string
	for a := range prev {
		addrs = append(addrs, a)
	}
	for a := range cur {
		if !prev[a] {
			addrs = append(addrs, a)
		}
	}
	slices.Sort(addrs) // a deterministic order of draws
	for _, a := range addrs {
		if prev[a] == cur[a] {
			continue
		}
		f.seq++
		lag := f.cfg.Lag.Min
		if span := f.cfg.Lag.Max - f.cfg.Lag.Min; span > 0 {
			lag += time.Duration(f.rng.Int64N(int64(span) + 1))
		}
		f.last[svc+" "+a] = f.seq
		heap.Push(&f.q, change{at: now.Add(lag), svc: svc, addr: a, ready: cur[a], seq: f.seq, applied: lag})
	}
	f.observed[svc] = cur
}

// Next is when the next change is due (zero: none pending).
func (f *Feeder) Next() time.Time {
	if len(f.q) == 0 {
		return time.Time{}
	}
	return f.q[0].at
}

// Applied is one change that reached the proxy.
type Applied struct {
	Service, Addr string
	Ready         bool
	Lag           time.Duration
}

// Due applies the changes due by now and returns them (none: the configuration is unchanged).
// A change overtaken by a later one that arrived first is dropped, as in the simulator.
func (f *Feeder) Due(now time.Time) []Applied {
	var out []Applied
	for len(f.q) > 0 && !f.q[0].at.After(now) {
		c := heap.Pop(&f.q).(change)
		k := c.svc + " " + c.addr
		if c.seq <= f.applied[k] {
			continue
		}
		f.applied[k] = c.seq
		eps := f.believed[c.svc]
		at := slices.Index(eps, c.addr)
		switch {
		case c.ready && at < 0:
			f.believed[c.svc] = append(eps, c.addr)
		case !c.ready && at >= 0:
			f.believed[c.svc] = slices.Delete(eps, at, at+1)
		default:
			continue
		}
		out = append(out, Applied{Service: c.svc, Addr: c.addr, Ready: c.ready, Lag: c.applied})
	}
	return out
}

// Believed returns the addresses the proxy routes the Service to.
func (f *Feeder) Believed(svc string) []string { return slices.Clone(f.believed[svc]) }

// upstream is the nginx upstream name of a Service.
func upstream(svc string) string {
	return "svc_" + strings.NewReplacer("/", "_", "-", "_", ".", "_").Replace(svc)
}

// Render writes nginx's configuration for what the proxy believes now. tmp is a writable
// directory for nginx's pid and temporary files.
func (f *Feeder) Render(tmp string) []byte {
	var b bytes.Buffer
	secs := int(f.cfg.Timeout / time.Second)
	fmt.Fprintf(&b, `# written by faultline-ingress: what the proxy believes, each endpoint change after its lag
worker_processes 1;
user root;
pid %[1]s/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  # one try per request: a backend's failure is the client's, as at a cloud load balancer
  proxy_next_upstream off;
  proxy_connect_timeout %[2]ds;
  proxy_read_timeout %[2]ds;
  proxy_send_timeout %[2]ds;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
`, tmp, max(secs, 1))
	svcs := f.cfg.Services()
	for _, s := range svcs {
		if eps := f.believed[s]; len(eps) > 0 {
			fmt.Fprintf(&b, "  upstream %s {\n", upstream(s))
			for _, a := range eps {
				fmt.Fprintf(&b, "    server %s;\n", a)
			}
			b.WriteString("  }\n")
		}
	}
	hosts := []string{}
	for _, r := range f.cfg.Routes {
		if !slices.Contains(hosts, r.Host) {
			hosts = append(hosts, r.Host)
		}
	}
	for _, h := range hosts {
		fmt.Fprintf(&b, "  server {\n    listen %d%s;\n", f.cfg.Port, map[bool]string{true: " default_server", false: ""}[h == ""])
		if h != "" {
			fmt.Fprintf(&b, "    server_name %s;\n", h)
		}
		hasRoot := false
		for _, r := range f.cfg.Routes {
			if r.Host != h {
				continue
			}
			hasRoot = hasRoot || r.Path == "/"
			fmt.Fprintf(&b, "    location %s {\n", r.Path)
			if len(f.believed[r.Service]) > 0 {
				fmt.Fprintf(&b, "      proxy_pass http://%s;\n", upstream(r.Service))
			} else {
				b.WriteString("      return 503;\n") // no endpoint believed ready
			}
			b.WriteString("    }\n")
		}
		if !hasRoot {
			b.WriteString("    location / { return 404; }\n")
		}
		b.WriteString("  }\n")
	}
	if !slices.Contains(hosts, "") {
		fmt.Fprintf(&b, "  server {\n    listen %d default_server;\n    location / { return 404; }\n  }\n", f.cfg.Port)
	}
	b.WriteString("}\n")
	return b.Bytes()
}
