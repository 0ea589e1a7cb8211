package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every kind names itself after its Go type, has a message of its own and prints as valid JSON.
func TestEveryKind(t *testing.T) {
	kinds, msgs := map[string]bool{}, map[string]bool{}
	for _, e := range All {
		if pu, ok := e.(PodUnschedulable); ok { // its error field must not be nil to print
			pu.Err = errors.New("unschedulable: none")
			e = pu
		}
		name := reflect.TypeOf(e).Name()
		assert.Equal(t, name, e.Kind())
		assert.False(t, kinds[name], "kind %s listed twice in All", name)
		assert.False(t, msgs[e.Message()], "message %q used by two kinds", e.Message())
		kinds[name], msgs[e.Message()] = true, true
		var b bytes.Buffer
		NewJSON(&b).Emit(time.Second, e)
		assert.True(t, json.Valid(b.Bytes()), "%s: %s", name, b.String())
		assert.True(t, strings.HasPrefix(Text(e), e.Message()))
	}
	require.Len(t, kinds, 56)
}

func TestTextAndJSON(t *testing.T) {
	at := 90*time.Minute + 1500*time.Millisecond
	var text, js bytes.Buffer
	ts, j := NewText(&text), &JSONSink{W: &js, Variant: "baseline", Seed: 7}
	sched := time.Date(2024, 1, 1, 3, 0, 0, 0, time.FixedZone("X", 3600))
	for _, e := range []Event{
		PodBound{Pod: "web-1", Node: "n-2"},
		NodeSaturated{Node: "n-1", Demand: 3.456, Allocatable: 4},
		ContainerRestarted{Pod: "p\"q", Probe: "liveness", Restarts: 2, Backoff: 10 * time.Second},
		CronRunSkipped{CronJob: "ns/cj", Scheduled: sched, Reason: "missedDeadline"},
		PodUnschedulable{Pod: "x", Attempt: 1, Err: errors.New("unschedulable: 0/3 nodes are available")},
		FullDisruption{},
	} {
		ts.Emit(at, e)
		j.Emit(at, e)
	}
	assert.Equal(t, `+00d01:30:01.500  pod bound pod=web-1 node=n-2
+00d01:30:01.500  node saturated node=n-1 demand=3.46 allocatable=4.00
+00d01:30:01.500  container restart pod=p"q probe=liveness restarts=2 backoff=10s
+00d01:30:01.500  cron run skipped cronjob=ns/cj scheduled=2024-01-01T02:00:00Z reason=missedDeadline
+00d01:30:01.500  pod unschedulable pod=x attempt=1 reason=0/3 nodes are available
+00d01:30:01.500  full disruption: evictions stopped
`, text.String())
	const pre = `{"variant":"baseline","seed":7,"at":"+00d01:30:01.500","ns":5401500000000,`
	assert.Equal(t, pre+`"kind":"PodBound","pod":"web-1","node":"n-2"}
`+pre+`"kind":"NodeSaturated","node":"n-1","demand":3.456,"allocatable":4}
`+pre+`"kind":"ContainerRestarted","pod":"p\"q","probe":"liveness","restarts":2,"backoff":10000000000}
`+pre+`"kind":"CronRunSkipped","cronjob":"ns/cj","scheduled":"2024-01-01T02:00:00Z","reason":"missedDeadline"}
`+pre+`"kind":"PodUnschedulable","pod":"x","attempt":1,"reason":"0/3 nodes are available"}
`+pre+`"kind":"FullDisruption"}
`, js.String())
}

func TestJSONString(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\slash", "ctl\x01\n\t\r", "ünï", "bad\xffutf8"} {
		b := appendJSONString(nil, s)
		require.True(t, json.Valid(b), "%q -> %s", s, b)
		var back string
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, strings.ToValidUTF8(s, "\ufffd"), back)
	}
}

func TestRecorderHelpers(t *testing.T) {
	var r Recorder
	Tee{&r}.Emit(time.Second, PodReady{Pod: "a"})
	r.Emit(2*time.Second, NodeReady{Node: "n"})
	r.Emit(3*time.Second, PodReady{Pod: "b"})
	assert.Equal(t, []PodReady{{Pod: "a"}, {Pod: "b"}}, Of[PodReady](r.Events))
	assert.Equal(t, []time.Duration{3 * time.Second}, Times(r.Events, func(e PodReady) bool { return e.Pod == "b" }))
	assert.Equal(t, []time.Duration{2 * time.Second}, Times[NodeReady](r.Events, nil))
}
