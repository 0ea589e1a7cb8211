// Package registry is the real image registry of a real run: an OCI registry (the Distribution
// project's registry, distribution/distribution v3, used as a library with in-memory storage and
// manifest deletion enabled) that a kind cluster's kubelets pull a scenario's images from, so
// that a scenario's registry model (sim.Registry: images deleted by a rollout, restored by a
// roll-back, resolved at run time by the platform) happens to real pulls.
//
//   - Handler is the registry as an http.Handler; the program internal/cmd/faultline-registry
//     serves it (package clusters/kind runs it as a container on the kind network);
//   - Client speaks the OCI distribution API to it: Push (blobs, then the manifest under its
//     tag), Delete (DELETE /v2/<name>/manifests/<digest>, as a consolidation rollout deletes an
//     image) and Restore (the same manifest pushed back, as a roll-back would);
//   - NewImage builds the image pushed under every scenario image name: faultline-echo's static
//     program as its only layer, the app's name as a config label (so each app's image has its
//     own digest, as the per-app images had);
//   - PlanFor turns a sim.Input's registry model into what a real run does at which offset: the
//     images to seed, each deletion and restoration at the instant the simulator's model places
//     it (the same order, the same window), and the run-time resolution (a CronJob's image
//     replaced once its image is gone and the fix is in place).
package registry
