package proc

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Owner names a process that owns something left on the machine (a throwaway cluster, the
// objects and faults of a run), so that a later process can tell whether the owner is still
// alive: its PID, its start time in clock ticks since boot and the boot's id. A PID alone is not
// enough, since the kernel reuses PIDs, and a start time alone is not enough across reboots.
type Owner struct {
	PID    int    `json:"pid"`
	Start  uint64 `json:"startTicks"`
	BootID string `json:"bootID,omitempty"`
}

var (
	selfOnce sync.Once
	self     Owner
)

// Self is the calling process as an Owner.
func Self() Owner {
	selfOnce.Do(func() {
		self = Owner{PID: os.Getpid(), BootID: bootID()}
		if info, err := Inspect(self.PID); err == nil {
			self.Start = info.Start
		}
	})
	return self
}

// Alive reports whether the owner process still runs: same boot, the PID present, not a zombie,
// started at the recorded instant. Where /proc cannot say (no /proc, no start time recorded), it
// answers true: what cannot be proven abandoned is left alone.
func (o Owner) Alive() bool {
	if o.PID <= 0 {
		return false
	}
	if o.BootID != "" {
		if b := bootID(); b != "" && b != o.BootID {
			return false // the machine rebooted: every process of the earlier boot is gone
		}
	}
	info, err := Inspect(o.PID)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil || o.Start == 0 {
		return true
	}
	if info.State == 'Z' || info.State == 'X' {
		return false
	}
	return info.Start == o.Start
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ExitedOwner starts a short-lived process and returns it as an Owner once it has exited and
// been reaped: an owner that is certainly dead, for tests of what is done with leftovers.
func ExitedOwner() (Owner, error) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return Owner{}, err
	}
	cmd := exec.Command(sleep, "300")
	if err := cmd.Start(); err != nil {
		return Owner{}, err
	}
	info, err := Inspect(cmd.Process.Pid)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err != nil {
		return Owner{}, err
	}
	return Owner{PID: cmd.Process.Pid, Start: info.Start, BootID: bootID()}, nil
}
