// Package echoapp is the app faultline-echo plays on real nodes in place of a scenario's images:
// the behaviour a scenario's load entry gives its workload (package sim's Load), made real.
//
//   - Requests: every path that is not a probe path is a request. The app calls each of its
//     dependencies (Config.Deps, the dependencies' Services) with the load's retry policy, a new
//     connection per attempt so that kube-proxy picks an endpoint each time, and answers 200 when
//     every call succeeded, else 500 with the header X-Faultline-App (an app error, not a proxy's).
//   - Readiness: the readiness probe's path answers 200 while the process serves; with deep
//     readiness it first calls every checked dependency once and answers 503 when any call fails
//     (one call per probe, as a shared health library does). Other probe paths answer 200.
//   - SIGTERM (Config.OnSIGTERM): exit at once; keep serving until the kubelet's SIGKILL; or keep
//     serving while closing every connection after its answer (Connection: close).
//   - Faults, through the admin address (never a probe or Service port): "fail" closes the app's
//     listeners (Chaos Mesh's pod-failure runs a pause image: nothing listens, connections are
//     refused, probes fail); "hang" accepts connections and never answers (a NetworkChaos loss of
//     every packet as a caller sees it: its calls and the kubelet's probes time out); "ok" serves
//     again. The mode is kept in Config.StateDir (an emptyDir) so that it survives the container
//     restarts failed liveness probes cause, as the real faults do.
//
// It imports nothing from Kubernetes: the same code runs in the pod and in its loopback tests.
package echoapp
