// Package search looks for what to change in a scenario rather than scoring what is already
// written: Optimize finds the cheapest setting of one or more knobs (paths as in
// Scenario.Set) at which every objective meets its target with stated confidence, Shrink reduces
// a scenario that misses an objective on one seed to the smallest one that still does (delta
// debugging), and Explore generates fault schedules from the simulator's vocabulary, steered
// toward runs that reach states not seen before, and shrinks every miss it finds into a
// scenario file ready for the library.
//
// Everything plays scenarios through package runner (seeds in parallel, merged in seed order)
// and is deterministic given the scenario, the seeds and, for Explore, its own seed.
package search
