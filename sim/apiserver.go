package sim

import (
	"time"
)

// tokenBucket is a client-side rate limiter on virtual time.
//
// Model: client-go's flowcontrol token bucket (golang.org/x/time/rate underneath), used the way
// rate.Limiter.ReserveN(t, 1) is: a request at t takes a token, going into debt if none is left,
// and waits until the debt is paid; tokens refill at QPS up to Burst. It is computed in closed
// form, so a request is a few arithmetic operations and no event (TestTokenBucketMatchesRate
// checks it against rate.Limiter).
// Left out: an object store with resource versions and watches (controllers read the simulator's
// state directly, as an informer cache that is never stale would), server-side API Priority and
// Fairness, and request latency that grows with load: a request costs RequestLatency after its
// token, and a LIST additionally ListLatencyPerObject per object returned.
type tokenBucket struct {
	interval float64 // nanoseconds per token
	burst    float64
	tokens   float64
	last     time.Duration
	// the last refill's and the last wait's operands and results: a client in debt issues a
	// serial chain of requests whose gaps and debts repeat (each waits out the debt the last
	// one left, and then its latency), so most requests find the very same float64 operations
	// done already; reusing their results is exact and spares a division and a multiplication
	// on a chain where each request waits for the one before (the v1 CronJob controller's
	// UpdateStatus per CronJob per pass)
	refillDt   time.Duration
	refill     float64 // float64(refillDt) / interval
	waitTokens float64
	wait       time.Duration // time.Duration(-waitTokens * interval)
}

func newTokenBucket(qps float64, burst int) *tokenBucket {
	return &tokenBucket{interval: float64(time.Second) / qps, burst: float64(burst), tokens: float64(burst)}
}

// take reserves one token for a request issued at t and returns when the request may go out.
func (b *tokenBucket) take(t time.Duration) time.Duration {
	if t > b.last {
		if dt := t - b.last; dt != b.refillDt { // refillDt is 0 at first, and dt never is
			b.refillDt, b.refill = dt, float64(dt)/b.interval
		}
		b.tokens += b.refill
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = t
	} else {
		t = b.last // requests are issued in time order by one client; a late one waits its turn
	}
	b.tokens--
	if b.tokens >= 0 {
		return t
	}
	if b.tokens != b.waitTokens { // waitTokens is 0 at first, and tokens here is negative
		b.waitTokens, b.wait = b.tokens, time.Duration(-b.tokens*b.interval)
	}
	return t + b.wait
}

// apiClient is one component's connection to the API server: its token bucket and latencies.
type apiClient struct {
	b            *tokenBucket
	latency      time.Duration
	perObject    time.Duration
	pageSize     int
	requests     uint64
	throttled    time.Duration // total time requests waited for tokens
	lastComplete time.Duration
}

func newAPIClient(a APIServer, qps float64, burst int) *apiClient {
	return &apiClient{
		b:         newTokenBucket(qps, burst),
		latency:   a.RequestLatency.Duration,
		perObject: a.ListLatencyPerObject.Duration,
		pageSize:  a.ListPageSize,
	}
}

// do issues one request at t and returns when its response arrives (synchronous client).
func (c *apiClient) do(t time.Duration) time.Duration {
	go_ := c.b.take(t)
	c.requests++
	if go_ > t {
		c.throttled += go_ - t
	}
	c.lastComplete = go_ + c.latency
	return c.lastComplete
}

// list issues a paged LIST of n objects at t and returns when the last page arrives.
func (c *apiClient) list(t time.Duration, n int) time.Duration {
	pages := max(1, (n+c.pageSize-1)/c.pageSize)
	for range pages {
		t = c.do(t)
	}
	return t + time.Duration(n)*c.perObject
}
