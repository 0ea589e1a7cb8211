// Package kind is the kind cluster provider: real nodes (kubelet, containerd, kube-proxy) in
// Docker containers, made by sigs.k8s.io/kind/pkg/cluster.
//
// It brings its own Docker: unless DOCKER_HOST is set, it installs the Debian packages it needs
// (apt-get, once) and starts faultline's dockerd (package internal/dockerd: own data root, exec
// root, socket and address pool, a capability-dropping runtime wrapper, no iptables rules),
// stopped by its recorded PID when the last faultline kind cluster is deleted. Every kind cluster
// is named faultline-NAME, on a Docker network of its own (faultline-kind, bridge
// faultline-kind0).
//
// Node image: kind's official kindest/node where it can be pulled (cgroup v2 hosts; the official
// images of kind v0.33 need it), else faultline's offline image, built from Debian packages and
// Go modules by images/kind-node/build.sh (`make kind-image`) and named by
// ~/.cache/faultline/kind/node-image.ref.
//
// What the provider changes on the machine, and undoes when the last cluster is deleted, is
// recorded in $XDG_STATE_HOME/faultline/kind/host.json: the /lib/modules stand-in kind's
// containers bind (created only if missing), and ACCEPT rules for the kind bridge in the FORWARD
// chain (added only if its policy is DROP).
//
// Images of our own: BuildGoImage builds a Go main package static (CGO_ENABLED=0) into a
// one-layer image holding only the program (StaticImageTar), LoadImage puts it into every node's
// containerd. InstallPlatform does that for faultline itself (PlatformImage) and creates
// platform/deploy's manifests as PlatformObjects returns them: image and pull policy Never set in
// code, plus a self-signed serving certificate Secret and the webhook's caBundle (no
// cert-manager needed). The manifest files are not forked.
//
// Scenarios run on kind through package realrun (`faultline run --cluster kind`): a throwaway
// cluster per run from the scenario's pools, its control plane given the scenario's model flags
// (CreateOptions.ExtraArgs become kubeadm ClusterConfiguration patches, ExtraArgsPatches), the
// scenario's images replaced by faultline-echo (EchoImage, LoadEcho), node faults by
// NodeFaultAction Pause and Resume.
//
// A scenario's registry model gets a real registry (registry.go): StartRegistry runs package
// clusters/registry's OCI registry as a container on the kind network, enables containerd's
// per-host configuration on the nodes and maps the scenario's image hosts to it, so that real
// kubelets pull those images and fail once the run deletes them through the registry API.
package kind
