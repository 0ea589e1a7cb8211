// Command faultline-runc is the OCI runtime that the kind provider's dockerd uses by default: it
// drops the capabilities that this machine's capability bounding set lacks from the container's
// configuration and then execs runc (see package runcwrap).
//
// Its first argument may be --faultline-runc=PATH, the runc to exec (the daemon's runtimeArgs
// put it there); without it, runc is looked up on PATH.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/faultline-dev/faultline/clusters/kind/internal/runcwrap"
)

func main() {
	args := os.Args[1:]
	runc := ""
	if len(args) > 0 {
		if v, ok := strings.CutPrefix(args[0], "--faultline-runc="); ok {
			runc, args = v, args[1:]
		}
	}
	if err := run(runc, args); err != nil {
		fmt.Fprintln(os.Stderr, "faultline-runc:", err)
		os.Exit(1)
	}
}

func run(runc string, args []string) error {
	if runc == "" {
		p, err := exec.LookPath("runc")
		if err != nil {
			return fmt.Errorf("runc: %w", err)
		}
		runc = p
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	act := runcwrap.Parse(args, cwd)
	if act.File != "" {
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return err
		}
		allowed, err := runcwrap.BoundingSet(string(status))
		if err != nil {
			return err
		}
		if _, err := runcwrap.FilterFile(act, allowed); err != nil {
			return fmt.Errorf("%s: %w", act.File, err)
		}
	}
	return syscall.Exec(runc, append([]string{"runc"}, args...), os.Environ())
}
