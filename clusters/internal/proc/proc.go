// Package proc starts the cluster providers' processes (the local control plane's servers, the
// kind provider's dockerd), each in its own process group, and stops them again by their recorded
// PID, only after checking that the PID still runs the binary that was recorded and was started at
// the recorded instant (Linux /proc), so that a PID reused after a crash or a reboot is never
// signalled.
package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Record is what is kept about a started process, enough to find it again from another run.
type Record struct {
	Name   string   `json:"name"`
	PID    int      `json:"pid"`
	Binary string   `json:"binary"`     // absolute path, as /proc/PID/exe shows it
	Start  uint64   `json:"startTicks"` // /proc/PID/stat field 22: start time in clock ticks since boot
	Args   []string `json:"args"`
	Log    string   `json:"log"`
}

// Start runs binary with args in its own process group (so that a terminal's Ctrl-C does not
// reach it and Stop can signal the whole group), stdin from /dev/null and output appended to
// logPath. The process outlives the caller; Start reaps it if it exits while the caller runs.
func Start(name, binary string, args []string, logPath string) (Record, error) {
	binary, err := filepath.Abs(binary)
	if err != nil {
		return Record{}, err
	}
	if resolved, err := filepath.EvalSymlinks(binary); err == nil {
		binary = resolved
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Record{}, err
	}
	defer logf.Close()
	cmd := exec.Command(binary, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return Record{}, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = cmd.Wait() }() // reap, so that a dead child does not linger as a zombie
	r := Record{Name: name, PID: cmd.Process.Pid, Binary: binary, Args: args, Log: logPath}
	if info, err := Inspect(r.PID); err == nil {
		r.Start = info.Start
	}
	return r, nil
}

// Info is what /proc says about a PID.
type Info struct {
	Exe     string // target of /proc/PID/exe, without " (deleted)"
	Start   uint64 // start time in clock ticks since boot
	PGID    int
	State   byte // R, S, D, Z, ...
	Cmdline []string
}

// ErrNoProc means /proc is not available: processes cannot be identified, so none is signalled.
var ErrNoProc = errors.New("/proc is not available; cannot identify processes")

// Inspect reads /proc/PID. It fails with os.ErrNotExist when there is no such process.
func Inspect(pid int) (Info, error) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return Info{}, ErrNoProc
	}
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return Info{}, err
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses, so cut at the last ')'
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Info{}, fmt.Errorf("%s/stat: unexpected %q", dir, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return Info{}, fmt.Errorf("%s/stat: unexpected %q", dir, s)
	}
	info := Info{State: f[0][0]}
	info.PGID, _ = strconv.Atoi(f[2])
	info.Start, _ = strconv.ParseUint(f[19], 10, 64)
	if exe, err := os.Readlink(dir + "/exe"); err == nil {
		info.Exe = strings.TrimSuffix(exe, " (deleted)")
	}
	if cl, err := os.ReadFile(dir + "/cmdline"); err == nil {
		info.Cmdline = strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	}
	return info, nil
}

// Running reports whether r's PID is alive and still the recorded process: same binary and,
// when recorded, same start time. A zombie is not running.
func (r Record) Running() (bool, error) {
	if r.PID <= 0 {
		return false, nil
	}
	info, err := Inspect(r.PID)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return r.matches(info), nil
}

func (r Record) matches(info Info) bool {
	if info.State == 'Z' || info.State == 'X' || info.Exe == "" {
		return false
	}
	if info.Exe != r.Binary {
		return false
	}
	return r.Start == 0 || info.Start == r.Start
}

// Stop ends r: SIGTERM to its process group, then SIGKILL after grace. It signals only when the
// PID still runs the recorded binary (see Running); a PID that is gone or now belongs to
// something else is left alone. It returns once the process is gone.
func Stop(ctx context.Context, r Record, grace time.Duration) error {
	running, err := r.Running()
	if err != nil || !running {
		return err
	}
	info, err := Inspect(r.PID)
	if err != nil {
		return nil
	}
	target := r.PID
	if info.PGID == r.PID {
		target = -r.PID // the group Start made; anything the process spawned goes with it
	}
	if err := syscall.Kill(target, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s (pid %d): %w", r.Name, r.PID, err)
	}
	if waitGone(ctx, r, grace) {
		return nil
	}
	if running, _ := r.Running(); running {
		if err := syscall.Kill(target, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill %s (pid %d): %w", r.Name, r.PID, err)
		}
	}
	// once SIGKILL is sent, wait for the exit even if ctx has ended: the caller must not go on
	// believing the process is still there (or gone) when it is merely being reaped
	if !waitGone(context.WithoutCancel(ctx), r, 10*time.Second) {
		return fmt.Errorf("%s (pid %d) is still running after SIGKILL", r.Name, r.PID)
	}
	return nil
}

func waitGone(ctx context.Context, r Record, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if gone(r) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gone reports whether r's process has finished exiting: no such PID, a zombie waiting to be
// reaped, or a PID reused by a later process. A process in the middle of exiting has already
// lost its /proc/PID/exe (so Running says false) but still holds its resources: not gone yet.
func gone(r Record) bool {
	info, err := Inspect(r.PID)
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	if info.State == 'Z' || info.State == 'X' {
		return true
	}
	return r.Start != 0 && info.Start != r.Start
}

// Find lists the processes whose command line mentions marker (a cluster's state directory)
// and whose binary is under binRoot (faultline's binary cache): the processes of a cluster
// whose PIDs were never recorded because the run that started them crashed first.
func Find(marker, binRoot string) ([]Record, error) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return nil, ErrNoProc
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	binRoot = filepath.Clean(binRoot) + string(filepath.Separator)
	var out []Record
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		info, err := Inspect(pid)
		if err != nil || info.Exe == "" || !strings.HasPrefix(info.Exe, binRoot) {
			continue
		}
		for _, a := range info.Cmdline {
			if strings.Contains(a, marker) {
				out = append(out, Record{Name: filepath.Base(info.Exe), PID: pid, Binary: info.Exe, Start: info.Start, Args: info.Cmdline})
				break
			}
		}
	}
	return out, nil
}
