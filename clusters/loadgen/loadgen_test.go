package loadgen

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/echoapp"
)

func server(t *testing.T, h http.HandlerFunc) string {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL + "/"
}

// TestOutcomes sends an open-loop stream to each kind of loopback server and checks that every
// request is counted once, as what became of it.
func TestOutcomes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	streams := []struct {
		url  string
		want Outcome
	}{
		{server(t, func(w http.ResponseWriter, r *http.Request) {}), OK},
		{server(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(echoapp.HeaderApp, "api")
			w.WriteHeader(500)
		}), AppError},
		{server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }), Proxy502},
		{server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }), Proxy503},
		{server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(504) }), ProxyOther},
		{refused, Refused},
		{server(t, func(w http.ResponseWriter, r *http.Request) {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.(*net.TCPConn).SetLinger(0) // RST, not FIN
			c.Close()
		}), Reset},
		{server(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}), Timeout},
	}
	cfg := Config{Start: time.Now().Add(50 * time.Millisecond), Duration: echoapp.Duration(time.Second), Timeout: echoapp.Duration(300 * time.Millisecond)}
	for _, s := range streams {
		cfg.Streams = append(cfg.Streams, Stream{Target: "deployment/x", URL: s.url, RPS: 20, Via: ViaService})
	}
	var out bytes.Buffer
	g, err := New(cfg, &out)
	require.NoError(t, err)
	t0 := time.Now()
	require.NoError(t, g.Run(context.Background()))
	assert.Less(t, time.Since(t0), 3*time.Second, "stops by itself after duration + timeout")
	parsed, err := Parse(strings.NewReader("kubelet noise\n"+out.String()), len(streams))
	require.NoError(t, err)
	for i, s := range streams {
		tot := g.Totals(i)
		assert.Equal(t, int64(20), tot.Total(), "stream %d: 20 requests/s for 1 s, open loop", i)
		assert.Equal(t, int64(20), tot[s.want], "stream %d: every request %s, got %v", i, s.want, tot)
		var fromLog Counts
		for _, c := range parsed[i] {
			for o, v := range c {
				fromLog[o] += v
			}
		}
		assert.Equal(t, tot, fromLog, "stream %d: the record read back equals the counts", i)
	}
}

func TestOpenLoopKeepsTheRateWhenTheServerIsSlow(t *testing.T) {
	slow := server(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(400 * time.Millisecond) })
	cfg := Config{Start: time.Now(), Duration: echoapp.Duration(time.Second), Timeout: echoapp.Duration(time.Second),
		Streams: []Stream{{Target: "deployment/a", URL: slow, RPS: 50, Via: ViaService}}}
	var out bytes.Buffer
	g, err := New(cfg, &out)
	require.NoError(t, err)
	require.NoError(t, g.Run(context.Background()))
	tot := g.Totals(0)
	assert.Equal(t, int64(50), tot[OK], "a closed loop would have sent about 3 per connection-second; open loop sends all 50")
}

func TestValidate(t *testing.T) {
	ok := Stream{Target: "deployment/a", URL: "http://a/", RPS: 10, Via: ViaService}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no streams", Config{Duration: echoapp.Duration(time.Second)}, "streams"},
		{"too long", Config{Duration: echoapp.Duration(5 * time.Hour), Streams: []Stream{ok}}, "duration"},
		{"too fast", Config{Duration: echoapp.Duration(time.Second), Streams: []Stream{{Target: "a", URL: "http://a/", RPS: 5000, Via: ViaService}}}, "at most"},
		{"bad via", Config{Duration: echoapp.Duration(time.Second), Streams: []Stream{{Target: "a", URL: "http://a/", RPS: 1, Via: "udp"}}}, "via"},
		{"zero rate", Config{Duration: echoapp.Duration(time.Second), Streams: []Stream{{Target: "a", URL: "http://a/", Via: ViaService}}}, "rps"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.ErrorContains(t, tc.cfg.Validate(), tc.want) })
	}
	_, err := Parse(strings.NewReader(Prefix+`{"t":1,"s":3,"n":{}}`), 2)
	assert.ErrorContains(t, err, "out of range")
	_, err = Parse(strings.NewReader(Prefix+`{"t":1,"s":0,"n":{"teapot":1}}`), 2)
	assert.ErrorContains(t, err, "teapot")
}
