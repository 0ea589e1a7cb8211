package scheduler

import (
	"math"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// podIndex keeps the counts of bound pods that PodTopologySpread and InterPodAffinity need, up to
// date on every bind, unbind and change to or from Terminating (it is a cluster.Observer), so that
// a scheduling cycle reads them instead of visiting every bound pod. Upstream gets the same effect
// from its scheduler cache (NodeInfo per node, updated on bind and delete) and the snapshot's
// HavePodsWithAffinity / HavePodsWithRequiredAntiAffinity lists; its PreFilter still walks every
// pod of those nodes each cycle, which is what made a cycle here cost O(bound pods).
//
//   - A countTable counts, per node and per topology domain, the bound pods matching one
//     predicate: a namespace and label selector (a topology spread constraint, counting only pods
//     that are not Terminating), or the conjunction of an incoming pod's affinity terms resolved
//     against that pod (counting Terminating pods too, as upstream). Tables are built by one scan
//     the first time a predicate is asked for and then kept up to date: a change visits only the
//     tables indexed under one of the pod's labels (the first label the selector requires) plus the
//     few that require none.
//   - A group gathers the bound pods that share a PodSpec with pod (anti-)affinity and the things
//     its terms read from their owner (namespace, matchLabelKeys/mismatchLabelKeys values): for
//     the symmetric checks (existing pods' required anti-affinity, existing pods' terms in the
//     score) a cycle evaluates each group's terms once against the incoming pod, not once per pod.
//     Group terms are indexed by the first label their selector requires, so a cycle only looks at
//     the groups whose terms can match the incoming pod's labels.
//   - Domains are numbered per topology key, in node order; a key whose every node has its own
//     value (kubernetes.io/hostname) shares the table's per-node counts.
//
// Counts are integers, so the order in which changes arrive or maps are walked cannot change a
// result. The index assumes what the node order already assumes: nodes are only appended and a
// node's labels do not change once added. Appending nodes, or switching to another State, rebuilds
// the index on the next cycle, in the memory of the last build (pool.go). Tables other than groups are dropped all at once when they exceed a
// memory budget and rebuilt on demand: the budget changes the cost, never a decision.
type podIndex struct {
	st    *cluster.State
	nodes int  // len(st.Nodes) when built
	stale bool // a change the index could not follow: rebuild on the next cycle
	specs *specCache

	topos    map[string]*topology
	tables   map[string]*countTable
	byLabel  map[labelKV][]*countTable // a key's slice may be empty (kept for its array)
	labeled  int                       // tables in byLabel
	anyLabel []*countTable             // tables that require no particular label
	cells    int                       // int32 cells held by tables (groups excluded)
	zero     *countTable               // the table of an empty spread selector: it counts nothing

	groups        map[groupKey]*group
	groupCells    int                      // int32 cells held by groups
	groupTerms    map[labelKV][]*groupTerm // a key's slice may be empty (kept for its array)
	labeledTerms  int                      // terms in groupTerms
	anyGroupTerms []*groupTerm

	// bound is the number of bound pods on the index's nodes.
	bound int
	// withLabel holds the bound pods by each of their labels, so that building a table whose
	// predicate requires a label visits only the pods that have it, not every bound pod: with a
	// table per workload, scanning every pod made a placement of n workloads O(n^2). Built on the
	// first such table once labelIndexMin pods are bound (below that a scan of every pod costs
	// less than keeping the sets), then kept up to date with the tables; nil until then.
	withLabel map[labelKV]map[*cluster.Pod]struct{}

	// pool keeps the objects of the index's last build for its next one (a rebuild, or the next
	// State after Scheduler.Reset).
	pool indexPool
	ids  map[string]int32 // topology's scratch
	// names holds the tables' keys as strings, kept from build to build: the next world asks
	// for the same predicates
	names map[string]string
	buf   []byte
	ns    nsLabels
}

// labelIndexMin is the number of bound pods from which a table is built from withLabel rather
// than by a scan of every bound pod.
const labelIndexMin = 256

// maxTableCells bounds the memory of the tables (4 bytes a cell): 256 MiB.
const maxTableCells = 1 << 26

// topology numbers the domains of one topology key.
type topology struct {
	key     string
	dom     []int32 // by node index: the node's domain, -1 when it lacks the label
	n       int     // number of domains
	missing int     // nodes without the label
	empty   int32   // the domain of the value "", -1 when no node has it
	unique  bool    // every node has the label with its own value: dom[i] == i
}

// countTable counts the bound pods matching a predicate, per node and per domain of the topology
// keys asked for.
type countTable struct {
	parts []matchPart // all must match
	live  bool        // count only pods that are not Terminating
	node  []int32     // by node index
	keys  []*domainCounts
}

// domainCounts is a table's count per domain of one topology key.
type domainCounts struct {
	topo  *topology
	count []int32 // by domain; the table's node slice when topo.unique
	total int64   // pods on nodes that have the key

	// minimum over all domains, kept while minOK: atMin domains hold it
	min   int32
	atMin int32
	minOK bool
}

// matchPart is one conjunct of a table's predicate: a namespace condition, a label selector and
// the label (mis)matches that matchLabelKeys/mismatchLabelKeys add.
type matchPart struct {
	nsOwn      bool   // the namespace must be ns
	ns         string // when nsOwn
	namespaces []string
	nsSel      labels.Selector // may be nil
	nsSelKey   string          // nsSel.String()
	sel        labelMatcher
	selKey     string // sel.sel.String() when !sel.fast ("" = compute it)
	eq, neq    []labelKV
}

// copyFrom makes m a copy of src that owns its slices (src's are a cycle's scratch), reusing m's
// arrays.
func (m *matchPart) copyFrom(src *matchPart) {
	selEq, eq, neq := m.sel.eq[:0], m.eq[:0], m.neq[:0]
	*m = *src
	m.sel.eq = append(selEq, src.sel.eq...)
	m.eq = append(eq, src.eq...)
	m.neq = append(neq, src.neq...)
}

func (m *matchPart) matches(q *cluster.Pod, ns *nsLabels) bool {
	if m.nsOwn {
		if q.Namespace != m.ns {
			return false
		}
	} else if !slices.Contains(m.namespaces, q.Namespace) {
		if m.nsSel == nil {
			return false
		}
		ns.name = q.Namespace
		if !m.nsSel.Matches(ns) {
			return false
		}
	}
	if !m.sel.matches(q.Labels) {
		return false
	}
	for _, kv := range m.eq {
		if v, ok := q.Labels[kv.key]; !ok || v != kv.value {
			return false
		}
	}
	for _, kv := range m.neq {
		if v, ok := q.Labels[kv.key]; ok && v == kv.value {
			return false
		}
	}
	return true
}

// indexLabel is a label every pod matching m carries, to index the table under.
func (m *matchPart) indexLabel() (labelKV, bool) {
	if m.sel.fast && len(m.sel.eq) > 0 {
		return m.sel.eq[0], true
	}
	if len(m.eq) > 0 {
		return m.eq[0], true
	}
	return labelKV{}, false
}

// termPart resolves affinity term t against its owner pod (the namespace a term without
// namespaces means, and the owner's values for matchLabelKeys / mismatchLabelKeys).
func termPart(t *affinityTerm, owner *cluster.Pod, eqBuf, neqBuf []labelKV) matchPart {
	m := matchPart{sel: t.selector, selKey: t.selKey}
	if t.ownNS {
		m.nsOwn, m.ns = true, owner.Namespace
	} else {
		m.namespaces, m.nsSel, m.nsSelKey = t.namespaces, t.nsSelector, t.nsSelKey
	}
	m.eq, m.neq = eqBuf[:0], neqBuf[:0]
	for _, k := range t.matchKeys {
		if v, ok := owner.Labels[k]; ok {
			m.eq = append(m.eq, labelKV{k, v})
		}
	}
	for _, k := range t.mismatch {
		if v, ok := owner.Labels[k]; ok {
			m.neq = append(m.neq, labelKV{k, v})
		}
	}
	return m
}

// groupKey identifies a group: pods with the same spec, namespace and owner label values for the
// keys the spec's terms read (specInfo.ownerKeys).
type groupKey struct {
	spec  *corev1.PodSpec
	ns    string
	owner string
}

// group is the bound pods of one groupKey.
type group struct {
	rep   *cluster.Pod // a member: what its terms read of it is what every member has
	pods  int
	table *countTable // no predicate: members are counted directly
}

// Kinds of group terms.
const (
	existingAnti  = iota // required anti-affinity: filter
	existingScore        // required affinity (hard weight) or preferred terms: score
)

// groupTerm is one affinity term of a group's spec.
type groupTerm struct {
	g      *group
	t      *affinityTerm
	kind   int
	weight int64
	dom    *domainCounts // the group's counts over the term's topology key
}

// sync attaches the index to st, rebuilding it when st, its number of nodes or a missed change
// asks for it.
func (x *podIndex) sync(st *cluster.State, specs *specCache) {
	if x.st == st && !x.stale && x.nodes == len(st.Nodes) {
		return
	}
	x.detach()
	x.st, x.nodes, x.specs = st, len(st.Nodes), specs
	st.Observe(x)
	for i, n := range st.Nodes {
		for _, p := range n.Pods {
			x.bound++
			x.groupChange(p, i, 1)
		}
	}
}

// detach stops following the State and empties the index, as a new one, handing its tables,
// topologies and groups to the pool. It is called between cycles only: no plugin reads them
// any more. The maps are walked in any order: an object taken from the pool is initialized anew.
func (x *podIndex) detach() {
	// Not for the decisions: a State left observed would only make nodeOf, which finds none of
	// its nodes among the index's, mark the index stale at each of its changes (a rebuild per
	// cycle while it changes), and would keep the index reachable from it.
	if x.st != nil {
		x.st.Unobserve(x)
	}
	// the tables before the topologies: a table's domain counts over a topology whose every node
	// has its own domain share the table's node cells
	for _, t := range x.tables {
		x.pool.putTable(t)
	}
	if x.zero != nil {
		x.pool.putTable(x.zero)
	}
	for _, g := range x.groups {
		x.pool.putGroup(g)
	}
	for _, gts := range x.groupTerms {
		for _, gt := range gts {
			x.pool.putTerm(gt)
		}
	}
	for _, gt := range x.anyGroupTerms {
		x.pool.putTerm(gt)
	}
	for _, t := range x.topos {
		x.pool.putTopology(t)
	}
	x.dropTables()
	*x = podIndex{
		specs:         x.specs,
		topos:         emptied(x.topos),
		tables:        x.tables,
		byLabel:       x.byLabel,
		anyLabel:      x.anyLabel,
		groups:        emptied(x.groups),
		groupTerms:    truncated(x.groupTerms),
		anyGroupTerms: reuse(x.anyGroupTerms),
		pool:          x.pool,
		ids:           cleared(x.ids),
		names:         x.names,
		buf:           reuse(x.buf),
	}
}

// dropTables forgets every table (not the groups). Mid-cycle, when the tables exceed their
// budget, the tables dropped are left to the garbage collector: the cycle may still read them.
func (x *podIndex) dropTables() {
	x.tables = emptied(x.tables)
	x.byLabel = truncated(x.byLabel)
	x.labeled = 0
	x.anyLabel = reuse(x.anyLabel)
	x.cells = 0
	x.zero = nil
}

// truncated returns m with every slice emptied, keeping the keys and the slices' arrays (but those
// with room for more than keepLen elements, whose keys it deletes), or a new map when m has more
// than keepEntries keys (the keys come from label values, which may not repeat).
func truncated[K comparable, V any](m map[K][]V) map[K][]V {
	if m == nil || len(m) > keepEntries {
		return make(map[K][]V)
	}
	for k, v := range m {
		if cap(v) > keepLen {
			delete(m, k)
			continue
		}
		clear(v[:cap(v)])
		m[k] = v[:0]
	}
	return m
}

// topology returns the domains of key.
func (x *podIndex) topology(key string) *topology {
	if t, ok := x.topos[key]; ok {
		return t
	}
	t := x.pool.topology(key, x.nodes)
	x.ids = emptied(x.ids)
	ids := x.ids
	for i, n := range x.st.Nodes {
		v, ok := n.Labels[key]
		if !ok {
			t.dom[i] = -1
			t.missing++
			continue
		}
		d, seen := ids[v]
		if !seen {
			d = int32(len(ids))
			ids[v] = d
		}
		t.dom[i] = d
	}
	t.n = len(ids)
	if d, ok := ids[""]; ok {
		t.empty = d
	}
	t.unique = t.missing == 0 && t.n == x.nodes
	x.topos[key] = t
	return t
}

// table returns the table of parts (nil parts: the zero table), building it on first use.
func (x *podIndex) table(live bool, parts []matchPart) *countTable {
	if parts == nil {
		if x.zero == nil {
			x.zero = x.pool.table(x.nodes)
		}
		return x.zero
	}
	b := x.buf[:0]
	if live {
		b = append(b, 'S')
	} else {
		b = append(b, 'A')
	}
	for i := range parts {
		b = appendPartKey(b, &parts[i])
	}
	x.buf = b
	if t, ok := x.tables[string(b)]; ok {
		return t
	}
	if x.cells+x.nodes > maxTableCells {
		x.dropTables()
	}
	t := x.pool.table(x.nodes)
	t.live = live
	t.parts = slices.Grow(t.parts[:0], len(parts))[:len(parts)]
	for i := range parts {
		t.parts[i].copyFrom(&parts[i])
	}
	count := func(q *cluster.Pod) {
		if (!live || q.Phase != cluster.PodTerminating) && t.matches(q, &x.ns) {
			t.node[q.Node.Index]++ // integer counts: the order of the visits cannot matter
		}
	}
	if kv, ok := t.parts[0].indexLabel(); ok && x.labelIndex() {
		for q := range x.withLabel[kv] {
			count(q)
		}
	} else {
		for _, n := range x.st.Nodes {
			for _, q := range n.Pods {
				count(q)
			}
		}
	}
	x.cells += x.nodes
	x.tables[x.keyName(b)] = t
	if kv, ok := t.parts[0].indexLabel(); ok {
		x.byLabel[kv] = append(x.byLabel[kv], t)
		x.labeled++
	} else {
		x.anyLabel = append(x.anyLabel, t)
	}
	return t
}

// keyName returns b as a string, the same string for the same b while names holds it.
func (x *podIndex) keyName(b []byte) string {
	if name, ok := x.names[string(b)]; ok {
		return name
	}
	if x.names == nil || len(x.names) >= keepEntries {
		x.names = make(map[string]string)
	}
	name := string(b)
	x.names[name] = name
	return name
}

// appendPartKey appends a key that identifies m's predicate: equal keys mean the same predicate.
// Label keys, values and namespaces never hold a NUL, which separates them.
func appendPartKey(b []byte, m *matchPart) []byte {
	if m.nsOwn {
		b = append(b, 'o')
		b = append(b, m.ns...)
		b = append(b, 0)
	} else {
		b = append(b, 'l')
		b = strconv.AppendInt(b, int64(len(m.namespaces)), 10)
		for _, ns := range m.namespaces {
			b = append(b, 0)
			b = append(b, ns...)
		}
		if m.nsSel != nil {
			b = append(b, 0, 's')
			b = append(b, m.nsSelKey...)
		}
		b = append(b, 0)
	}
	if m.sel.fast {
		b = appendKVs(b, 'F', m.sel.eq)
	} else {
		b = append(b, 'S')
		if m.selKey != "" {
			b = append(b, m.selKey...)
		} else {
			b = append(b, m.sel.sel.String()...)
		}
		b = append(b, 0)
	}
	b = appendKVs(b, '=', m.eq)
	b = appendKVs(b, '!', m.neq)
	return append(b, 1)
}

func appendKVs(b []byte, tag byte, kvs []labelKV) []byte {
	b = append(b, tag)
	b = strconv.AppendInt(b, int64(len(kvs)), 10)
	for _, kv := range kvs {
		b = append(b, 0)
		b = append(b, kv.key...)
		b = append(b, 0)
		b = append(b, kv.value...)
	}
	return append(b, 0)
}

func (t *countTable) matches(q *cluster.Pod, ns *nsLabels) bool {
	for i := range t.parts {
		if !t.parts[i].matches(q, ns) {
			return false
		}
	}
	return true
}

// domains returns t's counts over topo, computing them on first use.
func (x *podIndex) domains(t *countTable, topo *topology) *domainCounts {
	for _, k := range t.keys {
		if k.topo == topo {
			return k
		}
	}
	var k *domainCounts
	if topo.unique {
		k = x.pool.domains(topo, -1)
		k.count = t.node
	} else {
		k = x.pool.domains(topo, topo.n)
		for i, d := range topo.dom {
			if d >= 0 {
				k.count[d] += t.node[i]
			}
		}
	}
	for i, d := range topo.dom {
		if d >= 0 {
			k.total += int64(t.node[i])
		}
	}
	t.keys = append(t.keys, k)
	return k
}

// add counts delta more pods on node n.
func (t *countTable) add(n int, delta int32) {
	t.node[n] += delta
	for _, k := range t.keys {
		d := k.topo.dom[n]
		if d < 0 {
			continue
		}
		if !k.topo.unique {
			k.count[d] += delta
		}
		k.total += int64(delta)
		if k.minOK {
			k.track(k.count[d]-delta, k.count[d])
		}
	}
}

// track updates the minimum when one domain goes from old to now (by one).
func (k *domainCounts) track(old, now int32) {
	switch {
	case now < k.min:
		k.min, k.atMin = now, 1
	case now == k.min:
		k.atMin++
	case old == k.min:
		k.atMin--
		if k.atMin == 0 {
			k.minOK = false // recomputed on demand
		}
	}
}

// minimum is the smallest count over all domains (math.MaxInt32 without domains).
func (k *domainCounts) minimum() int32 {
	if !k.minOK {
		k.min, k.atMin = math.MaxInt32, 0
		for _, c := range k.count {
			switch {
			case c < k.min:
				k.min, k.atMin = c, 1
			case c == k.min:
				k.atMin++
			}
		}
		k.minOK = true
	}
	return k.min
}

// PodBound implements cluster.Observer.
func (x *podIndex) PodBound(p *cluster.Pod) { x.change(p, 1) }

// PodUnbound implements cluster.Observer.
func (x *podIndex) PodUnbound(p *cluster.Pod) { x.change(p, -1) }

// PodPhaseChanged implements cluster.Observer: a Terminating pod leaves the topology spread counts.
func (x *podIndex) PodPhaseChanged(p *cluster.Pod, _ cluster.PodPhase) {
	n, ok := x.nodeOf(p)
	if !ok {
		return
	}
	var delta int32 = 1
	if p.Phase == cluster.PodTerminating {
		delta = -1
	}
	x.tablesChange(p, n, delta, true)
}

// nodeOf returns the index of p's node, marking the index stale when it does not know the node.
func (x *podIndex) nodeOf(p *cluster.Pod) (int, bool) {
	if x.stale || p.Node == nil {
		return 0, false
	}
	n := p.Node.Index
	if n >= x.nodes || n >= len(x.st.Nodes) || x.st.Nodes[n] != p.Node {
		x.stale = true // a node added since the last cycle
		return 0, false
	}
	return n, true
}

func (x *podIndex) change(p *cluster.Pod, delta int32) {
	n, ok := x.nodeOf(p)
	if !ok {
		return
	}
	x.bound += int(delta)
	x.tablesChange(p, n, delta, false)
	x.groupChange(p, n, delta)
	if x.withLabel != nil {
		x.labelsChange(p, delta)
	}
}

// labelIndex reports whether tables are to be built from withLabel, building it when the index
// has labelIndexMin bound pods.
func (x *podIndex) labelIndex() bool {
	if x.withLabel == nil {
		if x.bound < labelIndexMin {
			return false
		}
		x.indexLabels()
	}
	return true
}

// indexLabels builds withLabel from the bound pods.
func (x *podIndex) indexLabels() {
	x.withLabel = make(map[labelKV]map[*cluster.Pod]struct{})
	for _, n := range x.st.Nodes[:x.nodes] {
		for _, p := range n.Pods {
			x.labelsChange(p, 1)
		}
	}
}

// labelsChange adds p to (delta > 0) or removes it from withLabel.
func (x *podIndex) labelsChange(p *cluster.Pod, delta int32) {
	for k, v := range p.Labels {
		kv := labelKV{k, v}
		set := x.withLabel[kv]
		if delta < 0 {
			delete(set, p)
			if len(set) == 0 {
				delete(x.withLabel, kv)
			}
			continue
		}
		if set == nil {
			set = make(map[*cluster.Pod]struct{})
			x.withLabel[kv] = set
		}
		set[p] = struct{}{}
	}
}

// tablesChange adds delta on node n to the tables whose predicate p matches: the live ones only
// when liveOnly, and the live ones only if p is not Terminating otherwise.
func (x *podIndex) tablesChange(p *cluster.Pod, n int, delta int32, liveOnly bool) {
	terminating := p.Phase == cluster.PodTerminating
	visit := func(ts []*countTable) {
		for _, t := range ts {
			if t.live {
				if !liveOnly && terminating {
					continue
				}
			} else if liveOnly {
				continue
			}
			if t.matches(p, &x.ns) {
				t.add(n, delta)
			}
		}
	}
	if x.labeled > 0 {
		for k, v := range p.Labels { // any order: each table is visited at most once
			if ts := x.byLabel[labelKV{k, v}]; len(ts) > 0 {
				visit(ts)
			}
		}
	}
	visit(x.anyLabel)
}

// groupChange adds delta on node n to p's group, when p's spec has pod (anti-)affinity.
func (x *podIndex) groupChange(p *cluster.Pod, n int, delta int32) {
	spec := podSpec(p)
	if !specHasPodAffinity(spec) {
		return
	}
	info, err := x.specs.get(spec)
	if err != nil {
		return // an unparsable existing pod has no terms
	}
	key := groupKey{spec: spec, ns: p.Namespace}
	if len(info.ownerKeys) > 0 {
		key.owner = ownerValues(info.ownerKeys, p)
	}
	g, ok := x.groups[key]
	if !ok {
		g = x.newGroup(key, info, p)
	}
	g.pods += int(delta)
	g.table.add(n, delta)
}

// ownerValues renders p's values for keys: what a group's members have in common.
func ownerValues(keys []string, p *cluster.Pod) string {
	var b []byte
	for _, k := range keys {
		if v, ok := p.Labels[k]; ok {
			b = append(b, '+')
			b = append(b, v...)
		} else {
			b = append(b, '-')
		}
		b = append(b, 0)
	}
	return string(b)
}

func (x *podIndex) newGroup(key groupKey, info *specInfo, rep *cluster.Pod) *group {
	g := x.pool.group(rep, x.nodes)
	x.groups[key] = g
	add := func(terms []affinityTerm, kind int, weight func(*affinityTerm) int64) {
		for i := range terms {
			t := &terms[i]
			gt := x.pool.term()
			*gt = groupTerm{g: g, t: t, kind: kind, weight: weight(t), dom: x.domains(g.table, x.topology(t.topologyKey))}
			if t.selector.fast && len(t.selector.eq) > 0 {
				kv := t.selector.eq[0]
				x.groupTerms[kv] = append(x.groupTerms[kv], gt)
				x.labeledTerms++
			} else {
				x.anyGroupTerms = append(x.anyGroupTerms, gt)
			}
		}
	}
	add(info.requiredAntiAffinity, existingAnti, func(*affinityTerm) int64 { return 0 })
	add(info.requiredAffinity, existingScore, func(*affinityTerm) int64 { return hardPodAffinityWeight })
	add(info.preferredAffinity, existingScore, func(t *affinityTerm) int64 { return t.weight })
	add(info.preferredAnti, existingScore, func(t *affinityTerm) int64 { return -t.weight })
	x.groupCells += x.nodes
	if x.groupCells > maxTableCells {
		x.stale = true // rebuilt on the next cycle with only the groups that have pods
	}
	return g
}

// matchGroups calls f for each term of a group with bound pods that matches pod.
func (x *podIndex) matchGroups(pod *cluster.Pod, f func(*groupTerm)) {
	visit := func(gts []*groupTerm) {
		for _, gt := range gts {
			if gt.g.pods > 0 && gt.t.matches(gt.g.rep, pod, &x.ns, 0) {
				f(gt)
			}
		}
	}
	if x.labeledTerms > 0 { // no label walk when no group has a term to index
		for k, v := range pod.Labels { // any order: the counts found are summed or any-tested
			if gts := x.groupTerms[labelKV{k, v}]; len(gts) > 0 {
				visit(gts)
			}
		}
	}
	visit(x.anyGroupTerms)
}
