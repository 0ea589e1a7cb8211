// Package keep holds what the simulator's reuse of memory from one world to the next shares
// (sim.Scratch, scheduler.Reset): emptying a buffer for the next world without letting it pin the
// last world's objects or a huge world's room.
package keep

// Empty returns s emptied for reuse: its elements up to its capacity zeroed, so that none keeps
// an object of the last use alive, or nil when it has room for more than limit elements, so that
// one huge use does not pin its memory for the small ones after it.
func Empty[T any](s []T, limit int) []T {
	if cap(s) > limit {
		return nil
	}
	s = s[:cap(s)]
	clear(s)
	return s[:0]
}
