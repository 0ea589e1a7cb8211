package build

import "syscall"

// buildSysProcAttr puts go build in a process group of its own (so that cancelling kills its
// compilers too) and kills it if faultline dies: a build never outlives the process waiting for
// it, and nothing is lost, since the Go build cache keeps every package already compiled.
func buildSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
