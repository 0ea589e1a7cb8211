// Package simadapter runs the platform inside a simulated World: it implements sim.Extension
// with the platform's decision code (packages platform/cron and platform/placement) and
// implements their client interfaces over sim.API, the simulator's object store and virtual
// clock. The cron scheduler is event driven here as in a real cluster: a CronJob is synced at
// the start, when one of its Jobs finishes and when the requeue delay its last sync returned
// has passed (an AfterFunc on the virtual clock); there is no polling. The spreading webhook is
// the World's admission plugin for the scenario's Deployments and StatefulSets.
//
// Not run in simulation: the consolidation's shared Deployments (the scenarios model the web
// side of consolidation as an image registry rollout, sim.Registry); the image resolution it
// implies for cron jobs is.
package simadapter
