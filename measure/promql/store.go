package promql

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/faultline-dev/faultline/sim"
)

// Store is a run's series as a storage.Queryable for the Prometheus query engine. Samples are
// produced on the fly from the change points: one per scrape while a series exists, a staleness
// marker where it went away, as a Prometheus server scraping the run would have stored them.
type Store struct {
	s      *sim.PromSeries
	lsets  []labels.Labels
	start  int64 // virtual time 0 in milliseconds since the epoch
	stepMs int64
	endMs  int64
}

// NewStore wraps a run's series.
func NewStore(s *sim.PromSeries) *Store {
	st := &Store{s: s, start: s.Start.UnixMilli(), stepMs: s.Interval.Milliseconds()}
	st.endMs = st.ms(s.End)
	st.lsets = make([]labels.Labels, len(s.Series))
	for i, se := range s.Series {
		b := labels.NewScratchBuilder(len(se.Labels)/2 + 1)
		b.Add(labels.MetricName, se.Name)
		for j := 0; j+1 < len(se.Labels); j += 2 {
			b.Add(se.Labels[j], se.Labels[j+1])
		}
		b.Sort()
		st.lsets[i] = b.Labels()
	}
	return st
}

func (st *Store) ms(d time.Duration) int64 { return st.start + d.Milliseconds() }

// Querier implements storage.Queryable.
func (st *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{st: st, mint: mint, maxt: maxt}, nil
}

type querier struct {
	st         *Store
	mint, maxt int64
}

func (q *querier) Select(_ context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	var out []int
	for i, ls := range q.st.lsets {
		ok := true
		for _, m := range ms {
			if !m.Matches(ls.Get(m.Name)) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, i)
		}
	}
	if sortSeries {
		slices.SortFunc(out, func(a, b int) int { return labels.Compare(q.st.lsets[a], q.st.lsets[b]) })
	}
	return &seriesSet{st: q.st, idx: out, pos: -1, mint: mint, maxt: maxt}
}

func (q *querier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	var vals []string
	for _, ls := range q.st.lsets {
		v := ls.Get(name)
		if v == "" || seen[v] || !matchAll(ls, ms) {
			continue
		}
		seen[v] = true
		vals = append(vals, v)
	}
	slices.Sort(vals)
	return vals, nil, nil
}

func (q *querier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	var names []string
	for _, ls := range q.st.lsets {
		if !matchAll(ls, ms) {
			continue
		}
		ls.Range(func(l labels.Label) {
			if !seen[l.Name] {
				seen[l.Name] = true
				names = append(names, l.Name)
			}
		})
	}
	slices.Sort(names)
	return names, nil, nil
}

func (q *querier) Close() error { return nil }

func matchAll(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

type seriesSet struct {
	st         *Store
	idx        []int
	pos        int
	mint, maxt int64
}

func (s *seriesSet) Next() bool {
	s.pos++
	return s.pos < len(s.idx)
}

func (s *seriesSet) At() storage.Series {
	return &series{st: s.st, i: s.idx[s.pos], mint: s.mint, maxt: s.maxt}
}

func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

type series struct {
	st         *Store
	i          int
	mint, maxt int64
}

func (s *series) Labels() labels.Labels { return s.st.lsets[s.i] }

func (s *series) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(newSamples(s.st, s.st.s.Series[s.i].Points))
}

// samples are a series' samples, produced on demand from its change points: one per scrape k
// (time start + k·step) from a point to the next, with the point's value; a NaN point is one
// staleness marker at its own scrape.
type samples struct {
	st     *Store
	pts    []sim.PromPoint
	k0     []int64 // per point: its first scrape
	prefix []int   // per point: the samples before it; prefix[len(pts)] is the total
}

func newSamples(st *Store, pts []sim.PromPoint) *samples {
	ss := &samples{st: st, pts: pts, k0: make([]int64, len(pts)), prefix: make([]int, len(pts)+1)}
	step := st.s.Interval
	last := int64(st.s.End / step)
	for j, p := range pts {
		k0 := int64(p.T / step)
		k1 := last + 1
		if j+1 < len(pts) {
			k1 = int64(pts[j+1].T / step)
		}
		if math.IsNaN(p.V) {
			k1 = k0 + 1
		}
		ss.k0[j] = k0
		ss.prefix[j+1] = ss.prefix[j] + int(max(0, k1-k0))
	}
	return ss
}

func (ss *samples) Len() int { return ss.prefix[len(ss.pts)] }

func (ss *samples) Get(i int) chunks.Sample {
	// the point whose samples hold i: the last j with prefix[j] <= i
	j := sort.Search(len(ss.pts), func(j int) bool { return ss.prefix[j+1] > i })
	k := ss.k0[j] + int64(i-ss.prefix[j])
	v := ss.pts[j].V
	if math.IsNaN(v) {
		v = math.Float64frombits(value.StaleNaN)
	}
	return fsample{t: ss.st.start + k*ss.st.stepMs, f: v}
}

// fsample is one float sample.
type fsample struct {
	t int64
	f float64
}

func (s fsample) T() int64                      { return s.t }
func (s fsample) ST() int64                     { return 0 }
func (s fsample) F() float64                    { return s.f }
func (s fsample) H() *histogram.Histogram       { return nil }
func (s fsample) FH() *histogram.FloatHistogram { return nil }
func (s fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fsample) Copy() chunks.Sample           { return s }
