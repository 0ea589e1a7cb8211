package scheduler

import (
	"unsafe"

	"github.com/faultline-dev/faultline/sim/cluster"
	"github.com/faultline-dev/faultline/sim/internal/keep"
)

// Reset keeps the memory of a scheduler's last world for the next one: a Monte Carlo replay runs
// thousands of short worlds of one Input through one Scheduler, and rebuilding the podIndex's
// tables, topologies and groups and every scratch slice for each of them was about half of what
// a replay allocated, which the garbage collector then took from the cores the replays run on.
// What is kept is only memory: every object taken back from a free list is initialized anew, so
// a reset scheduler decides as a new one. It is bounded, so that one huge world does not pin its
// memory for the small ones that follow: a slice with room for more than keepLen elements (a
// slice of slices is kept only with each of them, each bounded alone), a map with more than
// keepEntries entries (of a map of slices, each slice too), and free-listed objects beyond
// keepCells cells of arrays or keepObjects objects are left to the garbage collector. (Variables,
// for a test to lower them; TestResetKeepsWithinBounds walks what Reset keeps.)
var (
	keepLen     = 1 << 16 // elements of a scratch slice
	keepEntries = 1 << 12 // entries of a map
	keepCells   = 1 << 20 // int32 cells held by the free-listed objects (4 MiB)
	keepObjects = 1 << 12 // objects in one free list
)

// reuse returns b emptied, its elements zeroed (so that it pins nothing of the last world), or
// nil when it is too large to keep.
func reuse[T any](b []T) []T { return keep.Empty(b, keepLen) }

// reuseEach is reuse on b and on each slice it holds, up to its capacity; the slices keep their
// length.
func reuseEach[T any](b [][]T) [][]T {
	b = boundEach(b)
	for _, s := range b[:cap(b)] {
		clear(s[:cap(s)])
	}
	return b
}

// boundEach returns b, as it is but for the slices it holds (up to its capacity) with room for
// more than keepLen elements, which it drops, or nil when b itself has more room than that.
func boundEach[T any](b [][]T) [][]T {
	if cap(b) > keepLen {
		return nil
	}
	all := b[:cap(b)]
	for i, s := range all {
		if cap(s) > keepLen {
			all[i] = nil
		}
	}
	return b
}

// zeroed returns n zeroed cells, in b when it is large enough.
func zeroed(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// emptied returns m emptied, keeping its buckets unless it held more than keepEntries entries.
func emptied[K comparable, V any](m map[K]V) map[K]V {
	if m = cleared(m); m == nil {
		return make(map[K]V)
	}
	return m
}

// cleared returns m emptied, or nil when it held more than keepEntries entries.
func cleared[K comparable, V any](m map[K]V) map[K]V {
	if len(m) > keepEntries {
		return nil
	}
	clear(m)
	return m
}

// indexPool holds the podIndex's objects of an earlier world (or of an index rebuilt when nodes
// were added), with their arrays, for the next ones to reuse. Objects enter it only when the index
// is detached from its State (podIndex.detach), never during a cycle, whose plugins may still
// read a table the index has just dropped.
type indexPool struct {
	tables []*countTable
	doms   []*domainCounts
	topos  []*topology
	groups []*group
	terms  []*groupTerm
	cells  int // cells of 4 bytes of the pooled objects' arrays (countTable.cells)
}

// hold reports whether the pool may take an object with cells cells of arrays into a list of
// length n.
func (p *indexPool) hold(n, cells int) bool {
	if n >= keepObjects || p.cells+cells > keepCells {
		return false
	}
	p.cells += cells
	return true
}

// table returns an empty table with n zeroed node cells.
func (p *indexPool) table(n int) *countTable {
	k := len(p.tables)
	if k == 0 {
		return &countTable{node: make([]int32, n)}
	}
	t := p.tables[k-1]
	p.tables[k-1], p.tables = nil, p.tables[:k-1]
	p.cells -= t.cells()
	t.node = zeroed(t.node, n)
	return t
}

// Sizes of array elements in cells of 4 bytes, rounded up.
const (
	partCells = (unsafe.Sizeof(matchPart{}) + 3) / 4
	kvCells   = (unsafe.Sizeof(labelKV{}) + 3) / 4
	ptrCells  = (unsafe.Sizeof(uintptr(0)) + 3) / 4
)

// cells is the number of cells of 4 bytes of the arrays t holds.
func (t *countTable) cells() int {
	n := cap(t.node) + cap(t.keys)*int(ptrCells) + cap(t.parts)*int(partCells)
	for _, m := range t.parts[:cap(t.parts)] {
		n += (cap(m.sel.eq) + cap(m.eq) + cap(m.neq)) * int(kvCells)
	}
	return n
}

// putTable takes t, and its domain counts, back; t must no longer be read.
func (p *indexPool) putTable(t *countTable) {
	for _, k := range t.keys {
		own := k.count
		if sameArray(own, t.node) {
			own = nil // over a topology whose every node has its own domain: the node cells
		}
		p.putDomains(k, own)
	}
	parts := t.parts[:cap(t.parts)]
	if len(parts) > keepLen {
		parts = nil
	}
	for i := range parts {
		m := &parts[i]
		*m = matchPart{sel: labelMatcher{eq: reuse(m.sel.eq)}, eq: reuse(m.eq), neq: reuse(m.neq)}
	}
	*t = countTable{parts: parts[:0], node: t.node, keys: reuse(t.keys)}
	if !p.hold(len(p.tables), t.cells()) {
		return
	}
	p.tables = append(p.tables, t)
}

// domains returns domain counts over topo with n zeroed cells of its own (none when n < 0).
func (p *indexPool) domains(topo *topology, n int) *domainCounts {
	var k *domainCounts
	if last := len(p.doms); last > 0 {
		k = p.doms[last-1]
		p.doms[last-1], p.doms = nil, p.doms[:last-1]
		p.cells -= cap(k.count)
	} else {
		k = &domainCounts{}
	}
	buf := k.count
	*k = domainCounts{topo: topo}
	if n >= 0 {
		k.count = zeroed(buf, n)
	}
	return k
}

// putDomains takes k back, with own, the cells it does not share with its table.
func (p *indexPool) putDomains(k *domainCounts, own []int32) {
	if !p.hold(len(p.doms), cap(own)) {
		return
	}
	*k = domainCounts{count: own[:0]}
	p.doms = append(p.doms, k)
}

// topology returns a topology of key with n domain cells, not yet numbered.
func (p *indexPool) topology(key string, n int) *topology {
	k := len(p.topos)
	if k == 0 {
		return &topology{key: key, dom: make([]int32, n), empty: -1}
	}
	t := p.topos[k-1]
	p.topos[k-1], p.topos = nil, p.topos[:k-1]
	p.cells -= cap(t.dom)
	*t = topology{key: key, dom: zeroed(t.dom, n), empty: -1}
	return t
}

func (p *indexPool) putTopology(t *topology) {
	if !p.hold(len(p.topos), cap(t.dom)) {
		return
	}
	*t = topology{dom: t.dom[:0]}
	p.topos = append(p.topos, t)
}

// group returns a group of rep with an empty table of n node cells.
func (p *indexPool) group(rep *cluster.Pod, n int) *group {
	var g *group
	if k := len(p.groups); k > 0 {
		g = p.groups[k-1]
		p.groups[k-1], p.groups = nil, p.groups[:k-1]
	} else {
		g = &group{}
	}
	*g = group{rep: rep, table: p.table(n)}
	return g
}

func (p *indexPool) putGroup(g *group) {
	p.putTable(g.table)
	*g = group{}
	if len(p.groups) < keepObjects {
		p.groups = append(p.groups, g)
	}
}

func (p *indexPool) term() *groupTerm {
	k := len(p.terms)
	if k == 0 {
		return &groupTerm{}
	}
	gt := p.terms[k-1]
	p.terms[k-1], p.terms = nil, p.terms[:k-1]
	return gt
}

func (p *indexPool) putTerm(gt *groupTerm) {
	*gt = groupTerm{}
	if len(p.terms) < keepObjects {
		p.terms = append(p.terms, gt)
	}
}

// sameArray reports whether a and b share their first cell.
func sameArray(a, b []int32) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0]
}
