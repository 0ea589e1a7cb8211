package scheduler

// Reset readies s for another cluster State, as New(s.Config()) returns it, and keeps what the
// last State's worlds had built up that a new scheduler would build again: its parse of the pod
// specs seen so far (keyed by the specs' pointers, which the cache keeps alive, and never changing
// a result), and the memory of its scratch slices, node order and copy, and podIndex (whose
// tables, topologies and groups go to free lists, pool.go). A replay of many seeds of one
// scenario on one goroutine then parses each spec once and allocates little per seed.
//
// Only content is dropped, never a decision changed: every field that a cycle reads before it
// writes it is set here as New sets it, and everything kept is rebuilt before it is read (the
// State is forgotten, so the node order, the node copy and the index are rebuilt on the next
// cycle, even for a State at the address of the last one). The last FitError is kept: it is
// returned again only for the same failure on as many nodes, which makes the same message, and
// callers treat it as read-only. TestResetDecidesAsNew plays worlds through one reset scheduler
// and a new one each.
func (s *Scheduler) Reset() {
	s.nextStart = 0
	s.order.reset()
	s.mirror.reset()
	s.cyc = cycle{}
	s.counting.reset()
	s.subset = reuse(s.subset)
	s.feasible = reuse(s.feasible)
	s.resScores = reuse(s.resScores)
	s.wFit, s.wBal, s.feasibleTaint = 0, 0, false
	s.keys = nil
	s.keysBuf = reuse(s.keysBuf)
	s.statuses = reuse(s.statuses)
	s.raw = reuse(s.raw)
	s.total = reuse(s.total)
	s.failSig = reuse(s.failSig)
}

// reset forgets the State, keeping the arrays (unless they grew beyond keepLen).
func (o *nodeOrder) reset() {
	zones := o.zones[:cap(o.zones)]
	if len(zones) > keepLen {
		zones = nil
	}
	for i := range zones {
		zones[i] = zoneBucket{nodes: reuse(zones[i].nodes)}
	}
	*o = nodeOrder{list: reuse(o.list), zones: zones[:0]}
}

// reset stops following the State, keeping the rows' arrays (unless they grew beyond keepLen).
func (m *nodeMirror) reset() {
	if m.st != nil {
		m.st.Unobserve(m)
	}
	*m = nodeMirror{rows: reuse(m.rows), res: reuse(m.res)}
}

func (c *indexedCounting) reset() {
	c.index.detach()
	c.spread.reset()
	c.interPod.reset()
}

// reset drops the last cycle's constraints and counts, keeping the scratch arrays. seen and stamp
// are kept as they are, but for seen's arrays beyond keepLen: every mark in seen is older than the
// next stamp.
func (p *podTopologySpread) reset() {
	*p = podTopologySpread{
		hardDom:    reuse(p.hardDom),
		hardSelf:   reuse(p.hardSelf),
		softTable:  reuse(p.softTable),
		softDom:    reuse(p.softDom),
		softWeight: reuse(p.softWeight),
		ignored:    reuse(p.ignored),
		hardBuf:    reuse(p.hardBuf),
		softBuf:    reuse(p.softBuf),
		parts:      reuse(p.parts),
		eqBufs:     reuseEach(p.eqBufs),
		sums:       reuseEach(p.sums),
		marks:      reuseEach(p.marks),
		seen:       boundEach(p.seen),
		stamp:      p.stamp,
		terms:      reuseEach(p.terms),
		norm:       reuse(p.norm),
		hostZone:   reuse(p.hostZone),
		keyNorm:    reuse(p.keyNorm),
	}
}

// reset drops the last cycle's pod and counts, keeping the scratch arrays.
func (p *interPodAffinity) reset() {
	*p = interPodAffinity{
		affinity: reuse(p.affinity),
		anti:     reuse(p.anti),
		existing: reuse(p.existing),
		scores:   reuse(p.scores),
		parts:    reuse(p.parts),
		eqBufs:   reuseEach(p.eqBufs),
		neqBuf:   reuseEach(p.neqBuf),
	}
}

// Follows reports whether s follows a State: its node order, node copy or pod index was built for
// one and holds its nodes or pods. False after Reset until the next cycle; a caller that keeps a
// scheduler while its State moves on can check that it let go.
func (s *Scheduler) Follows() bool {
	if s.order.state != nil || s.mirror.st != nil {
		return true
	}
	c, ok := s.counting.(*indexedCounting)
	return ok && c.index.st != nil
}
