//go:build !linux

package build

import "syscall"

// buildSysProcAttr puts go build in a process group of its own.
func buildSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
