// Package local is the local cluster provider: a real control plane on this machine, with no
// containers and no root. etcd, kube-apiserver, kube-controller-manager and kube-scheduler are
// built from Go modules (once per version, cached under os.UserCacheDir()/faultline/bin; see
// internal/build), KWOK plays the kubelet of every node, and every process listens on 127.0.0.1
// only, on free ports, in its own process group. Every connection is TLS with client
// certificates from the cluster's own CA, etcd's included (its client and peer ports require a
// certificate the CA signed; the API server presents apiserver-etcd-client).
//
// Each cluster lives in a state directory, by default $XDG_STATE_HOME/faultline/clusters/NAME
// (~/.local/state/...), holding cluster.json (the marker that faultline created it, the ports,
// and every process's PID, binary and start time), the PKI, the admin kubeconfig, etcd's data and
// the logs. Delete stops the recorded processes (SIGTERM to the group, SIGKILL after a grace
// period) after checking each PID still runs the recorded binary, also finds processes of the
// cluster that a crashed run never recorded (their command line names the state directory and
// their binary is in the cache), and removes the directory. Directories without the marker are
// never touched.
//
// The processes outlive the faultline command that started them: `faultline cluster up` returns
// and the cluster keeps running until `faultline cluster down`.
package local
