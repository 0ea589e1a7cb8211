// Package loadgen is the load generator of real runs: it sends a scenario's traffic from inside
// the cluster (faultline-echo's load mode, run as a Job) and records what became of every
// request, so that the real run's request indicators come from real requests.
//
// Open loop: one stream per load entry, request i sent at Start + i/RPS whether or not earlier
// ones have answered (a closed loop would slow down exactly when the system does and hide the
// outage). Each request uses a new connection, so that kube-proxy (or the ingress proxy) picks an
// endpoint for each, as the simulator's data planes spread requests. Its outcome is classified
// (Outcome) and counted per stream and per second of its sending time; the counts are printed as
// JSON lines (Line) as each second completes, and read back by package realrun from the pod's
// log. It is bounded in rate (MaxRPS), in flight (MaxInFlight) and time (Start + Duration +
// Timeout), and stops by itself.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/clusters/echoapp"
)

// Bounds.
const (
	MaxRPS      = 2000 // all streams together
	MaxDuration = 4 * time.Hour
	MaxStreams  = 32
	MaxInFlight = 4000
	MaxTimeout  = 30 * time.Second
)

// Prefix starts every record line in the generator's output.
const Prefix = "faultline-load "

// Stream is one load entry's traffic.
type Stream struct {
	Target string  `json:"target"` // the load's target, deployment/NAME
	URL    string  `json:"url"`    // where requests go: the Service, or the ingress proxy
	Host   string  `json:"host,omitempty"`
	RPS    float64 `json:"rps"`
	// Via is "service" (kube-proxy) or "ingress" (the ingress proxy): how outcomes are read.
	Via string `json:"via"`
}

// Config is one run's traffic.
type Config struct {
	Start    time.Time        `json:"start"`
	Duration echoapp.Duration `json:"duration"`
	Timeout  echoapp.Duration `json:"timeout,omitempty"` // per request, default 2 s
	Streams  []Stream         `json:"streams"`
}

// Validate checks the bounds; errors name the field.
func (c *Config) Validate() error {
	if len(c.Streams) == 0 || len(c.Streams) > MaxStreams {
		return fmt.Errorf("streams: %d; expected 1 to %d", len(c.Streams), MaxStreams)
	}
	if d := time.Duration(c.Duration); d <= 0 || d > MaxDuration {
		return fmt.Errorf("duration: %v; expected (0, %v]", d, MaxDuration)
	}
	if t := time.Duration(c.Timeout); t < 0 || t > MaxTimeout {
		return fmt.Errorf("timeout: %v; expected 0 (2 s) up to %v", t, MaxTimeout)
	}
	total := 0.0
	for i, s := range c.Streams {
		if s.RPS <= 0 || math.IsNaN(s.RPS) || math.IsInf(s.RPS, 0) {
			return fmt.Errorf("streams[%d].rps: %v; expected > 0", i, s.RPS)
		}
		if !strings.HasPrefix(s.URL, "http://") {
			return fmt.Errorf("streams[%d].url: %q; expected an http:// URL", i, s.URL)
		}
		if s.Via != ViaService && s.Via != ViaIngress {
			return fmt.Errorf("streams[%d].via: %q; expected %s or %s", i, s.Via, ViaService, ViaIngress)
		}
		total += s.RPS
	}
	if total > MaxRPS {
		return fmt.Errorf("streams: %v requests/s in all; expected at most %d", total, MaxRPS)
	}
	return nil
}

// Ways in.
const (
	ViaService = "service"
	ViaIngress = "ingress"
)

// Outcome is what became of one request.
type Outcome int

const (
	OK         Outcome = iota // a 2xx answer
	AppError                  // a non-2xx answer from the app (echoapp.HeaderApp set)
	Proxy502                  // 502 from a proxy (no app header)
	Proxy503                  // 503 from a proxy
	ProxyOther                // any other non-2xx answer without the app header (504, ...)
	Refused                   // connection refused (nothing listening, or kube-proxy's reject rule)
	Reset                     // connection reset or closed before an answer
	Timeout                   // no answer within the timeout
	OtherError                // any other client error (DNS, ...)
	Dropped                   // not sent: MaxInFlight requests were waiting already
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "app", "proxy502", "proxy503", "proxyOther", "refused", "reset", "timeout", "other", "dropped"}

func (o Outcome) String() string { return outcomeNames[o] }

// Counts holds a count per outcome.
type Counts [numOutcomes]int64

// Total is every request counted.
func (c *Counts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// MarshalJSON writes the non-zero counts by outcome name.
func (c Counts) MarshalJSON() ([]byte, error) {
	m := map[string]int64{}
	for o, v := range c {
		if v != 0 {
			m[outcomeNames[o]] = v
		}
	}
	return json.Marshal(m)
}

func (c *Counts) UnmarshalJSON(b []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, v := range m {
		i := -1
		for o, n := range outcomeNames {
			if n == k {
				i = o
			}
		}
		if i < 0 {
			return fmt.Errorf("unknown outcome %q", k)
		}
		c[i] = v
	}
	return nil
}

// Line is one record: the requests stream S sent in second T (from Start) and their outcomes.
type Line struct {
	T int    `json:"t"`
	S int    `json:"s"`
	N Counts `json:"n"`
}

// Classify maps a response or an error to an outcome.
func Classify(resp *http.Response, err error) Outcome {
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return Refused
		case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
			return Reset
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
			return Timeout
		}
		return OtherError
	}
	if resp.StatusCode/100 == 2 {
		return OK
	}
	if resp.Header.Get(echoapp.HeaderApp) != "" {
		return AppError
	}
	switch resp.StatusCode {
	case http.StatusBadGateway:
		return Proxy502
	case http.StatusServiceUnavailable:
		return Proxy503
	}
	return ProxyOther
}

// Generator runs a Config.
type Generator struct {
	cfg    Config
	client *http.Client
	out    io.Writer
	now    func() time.Time

	mu       sync.Mutex
	counts   [][]Counts // [stream][second]
	pending  [][]int    // requests not yet answered
	flushed  []int      // per stream: seconds written
	inFlight int
	err      error
}

// New makes a generator writing its record to out.
func New(cfg Config, out io.Writer) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = echoapp.Duration(2 * time.Second)
	}
	secs := int(math.Ceil(time.Duration(cfg.Duration).Seconds()))
	g := &Generator{cfg: cfg, out: out, now: time.Now, flushed: make([]int, len(cfg.Streams))}
	g.client = &http.Client{
		Timeout:   time.Duration(cfg.Timeout),
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: time.Duration(cfg.Timeout)}).DialContext},
		// a redirect is an answer, not something to follow
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for range cfg.Streams {
		g.counts = append(g.counts, make([]Counts, secs))
		g.pending = append(g.pending, make([]int, secs))
	}
	return g, nil
}

// Run sends every stream's requests until Start + Duration, waits for the last answers (at most
// Timeout), writes the record and returns. Cancelling ctx stops sending early.
func (g *Generator) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	end := g.cfg.Start.Add(time.Duration(g.cfg.Duration))
	var sends sync.WaitGroup
	for si := range g.cfg.Streams {
		sends.Add(1)
		go func() {
			defer sends.Done()
			g.stream(ctx, si, end, &wg)
		}()
	}
	tick := time.NewTicker(time.Second)
	done := make(chan struct{})
	go func() { sends.Wait(); wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			tick.Stop()
			g.flush(math.MaxInt)
			return g.err
		case <-tick.C:
			g.flush(int(g.now().Sub(g.cfg.Start).Seconds()))
		}
	}
}

// stream sends stream si's requests at their times.
func (g *Generator) stream(ctx context.Context, si int, end time.Time, wg *sync.WaitGroup) {
	s := g.cfg.Streams[si]
	interval := time.Duration(float64(time.Second) / s.RPS)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := int64(0); ; i++ {
		at := g.cfg.Start.Add(time.Duration(i) * interval)
		if !at.Before(end) {
			return
		}
		if d := at.Sub(g.now()); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		sec := int(at.Sub(g.cfg.Start) / time.Second)
		g.mu.Lock()
		if g.inFlight >= MaxInFlight {
			g.counts[si][sec][Dropped]++
			g.mu.Unlock()
			continue
		}
		g.inFlight++
		g.pending[si][sec]++
		g.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := g.send(s)
			g.mu.Lock()
			g.inFlight--
			g.pending[si][sec]--
			g.counts[si][sec][o]++
			g.mu.Unlock()
		}()
	}
}

func (g *Generator) send(s Stream) Outcome {
	req, err := http.NewRequest(http.MethodGet, s.URL, nil)
	if err != nil {
		return OtherError
	}
	if s.Host != "" {
		req.Host = s.Host
	}
	resp, err := g.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if err != nil { // the answer was cut short: the status line came, the body did not
			return Classify(nil, err)
		}
	}
	return Classify(resp, err)
}

// flush writes, in order, every stream's seconds before upTo whose requests have all answered.
func (g *Generator) flush(upTo int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for si := range g.counts {
		for g.flushed[si] < len(g.counts[si]) && g.flushed[si] < upTo && g.pending[si][g.flushed[si]] == 0 {
			sec := g.flushed[si]
			b, _ := json.Marshal(Line{T: sec, S: si, N: g.counts[si][sec]})
			if _, err := fmt.Fprintf(g.out, "%s%s\n", Prefix, b); err != nil && g.err == nil {
				g.err = err
			}
			g.flushed[si]++
		}
	}
}

// Totals are the counts of a stream over every second (tests, summaries).
func (g *Generator) Totals(si int) Counts {
	g.mu.Lock()
	defer g.mu.Unlock()
	var c Counts
	for _, s := range g.counts[si] {
		for o, v := range s {
			c[o] += v
		}
	}
	return c
}

// Parse reads the record lines from a generator's output (other lines are skipped): counts per
// stream and second. It refuses a line it cannot read, naming it.
func Parse(r io.Reader, streams int) ([][]Counts, error) {
	out := make([][]Counts, streams)
	b, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, err
	}
	for n, line := range strings.Split(string(b), "\n") {
		i := strings.Index(line, Prefix)
		if i < 0 {
			continue
		}
		var l Line
		if err := json.Unmarshal([]byte(line[i+len(Prefix):]), &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if l.S < 0 || l.S >= streams || l.T < 0 || l.T > int(MaxDuration/time.Second) {
			return nil, fmt.Errorf("line %d: stream %d second %d out of range (%d streams)", n+1, l.S, l.T, streams)
		}
		for len(out[l.S]) <= l.T {
			out[l.S] = append(out[l.S], Counts{})
		}
		for o, v := range l.N {
			out[l.S][l.T][o] += v
		}
	}
	return out, nil
}

// EnvConfig carries a Config as JSON to faultline-echo's load mode.
const EnvConfig = "FAULTLINE_LOAD"

// FromEnv reads the Config from EnvConfig.
func FromEnv() (Config, error) {
	var c Config
	v := os.Getenv(EnvConfig)
	if v == "" {
		return c, fmt.Errorf("%s is not set", EnvConfig)
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", EnvConfig, err)
	}
	return c, c.Validate()
}
