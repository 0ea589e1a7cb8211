package scheduler

// Reset readies s for another cluster State, as New(s.Config()) returns it, but keeps its parse of
// the pod specs seen so far (keyed by the specs' pointers, which the cache keeps alive, and never
// changing a result): a replay of many seeds of one scenario on one goroutine parses each spec
// once instead of once per seed.
func (s *Scheduler) Reset() {
	specs := s.specs
	*s = *New(s.cfg)
	s.specs = specs
}
