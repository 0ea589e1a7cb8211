// Package runcwrap is the logic of faultline-runc, the OCI runtime wrapper that the kind
// provider's dockerd uses as its default runtime.
//
// Some VMs run every process with a capability bounding set that lacks capabilities Docker grants
// a privileged container (CAP_SYS_RESOURCE on the machines faultline was measured on). runc then
// fails to create the container ("unable to apply caps: operation not permitted"), so kind's
// privileged node containers cannot start. The wrapper removes from the OCI configuration every
// capability the bounding set lacks (the bundle's config.json on create and run, the --process
// JSON on exec) and then execs the real runc with the unchanged arguments. A capability the
// bounding set lacks can never be held anyway, so nothing that could work is taken away.
package runcwrap

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// capNames are the Linux capabilities by number (linux/capability.h), as the OCI spec names them.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// CapSet is a set of capability names (CAP_...).
type CapSet map[string]bool

// ParseCapMask turns a hexadecimal capability mask (the CapBnd line of /proc/PID/status) into
// the set of capabilities it holds. Bits beyond the capabilities this package knows are ignored:
// an OCI config cannot name them.
func ParseCapMask(hex string) (CapSet, error) {
	mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
	if err != nil {
		return nil, fmt.Errorf("capability mask %q: expected hexadecimal digits: %w", hex, err)
	}
	set := CapSet{}
	for i, name := range capNames {
		if mask&(1<<uint(i)) != 0 {
			set[name] = true
		}
	}
	return set, nil
}

// BoundingSet reads the calling process's capability bounding set from status, the contents of
// /proc/self/status.
func BoundingSet(status string) (CapSet, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return ParseCapMask(v)
		}
	}
	return nil, fmt.Errorf("/proc/self/status: no CapBnd line")
}

// Action says what a runc command line asks for and which JSON file the wrapper must filter.
type Action struct {
	Command string // create, run, exec, or any other runc command (left alone)
	File    string // config.json of the bundle, or the --process file; "" when nothing to filter
}

// runc's global flags that take a value (runc --help); needed to find the command after them.
var globalWithValue = map[string]bool{
	"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true,
}

// Parse finds the command in runc's arguments (args without the program name) and the file the
// wrapper must filter: for create and run the bundle's config.json (--bundle/-b, else the working
// directory cwd), for exec the --process/-p file (exec without one takes the process from its
// arguments and the bundle's config, which create already filtered).
func Parse(args []string, cwd string) Action {
	i := 0
	for i < len(args) {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			break
		}
		if globalWithValue[a] {
			i++
		}
		i++
	}
	if i >= len(args) {
		return Action{}
	}
	act := Action{Command: args[i]}
	rest := args[i+1:]
	switch act.Command {
	case "create", "run":
		bundle := cwd
		if v, ok := flagValue(rest, "--bundle", "-b"); ok {
			bundle = v
		}
		if !filepath.IsAbs(bundle) {
			bundle = filepath.Join(cwd, bundle)
		}
		act.File = filepath.Join(bundle, "config.json")
	case "exec":
		if v, ok := flagValue(rest, "--process", "-p"); ok {
			if !filepath.IsAbs(v) {
				v = filepath.Join(cwd, v)
			}
			act.File = v
		}
	}
	return act
}

// flagValue finds a flag given as "--name value", "--name=value", "-n value" or "-n=value".
func flagValue(args []string, long, short string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			return "", false
		}
		for _, name := range []string{long, short} {
			if a == name && i+1 < len(args) {
				return args[i+1], true
			}
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

// capSets are the fields of an OCI LinuxCapabilities object.
var capSets = []string{"bounding", "effective", "inheritable", "permitted", "ambient"}

// FilterConfig removes from an OCI runtime config (bundle config.json, process at "process") or
// an OCI process (exec's --process file, capabilities at the top) every capability that allowed
// lacks. Every other field is kept as it was. It reports the capabilities it removed.
func FilterConfig(data []byte, isProcess bool, allowed CapSet) ([]byte, []string, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("OCI %s: %w", kind(isProcess), err)
	}
	proc := doc
	if !isProcess {
		raw, ok := doc["process"]
		if !ok || string(raw) == "null" {
			return data, nil, nil
		}
		proc = nil // a fresh map: Unmarshal would otherwise add the process's fields to doc
		if err := json.Unmarshal(raw, &proc); err != nil {
			return nil, nil, fmt.Errorf("OCI config: process: %w", err)
		}
	}
	rawCaps, ok := proc["capabilities"]
	if !ok || string(rawCaps) == "null" {
		return data, nil, nil
	}
	var caps map[string]json.RawMessage
	if err := json.Unmarshal(rawCaps, &caps); err != nil {
		return nil, nil, fmt.Errorf("OCI %s: capabilities: %w", kind(isProcess), err)
	}
	var removed []string
	for _, set := range capSets {
		raw, ok := caps[set]
		if !ok || string(raw) == "null" {
			continue
		}
		var names []string
		if err := json.Unmarshal(raw, &names); err != nil {
			return nil, nil, fmt.Errorf("OCI %s: capabilities.%s: expected a list of names: %w", kind(isProcess), set, err)
		}
		kept := names[:0:0]
		for _, n := range names {
			if allowed[strings.ToUpper(n)] {
				kept = append(kept, n)
			} else if !slices.Contains(removed, n) {
				removed = append(removed, n)
			}
		}
		if len(kept) == len(names) {
			continue
		}
		b, err := json.Marshal(kept)
		if err != nil {
			return nil, nil, err
		}
		caps[set] = b
	}
	if len(removed) == 0 {
		return data, nil, nil
	}
	var err error
	if proc["capabilities"], err = json.Marshal(caps); err != nil {
		return nil, nil, err
	}
	if !isProcess {
		if doc["process"], err = json.Marshal(proc); err != nil {
			return nil, nil, err
		}
	}
	out, err := json.Marshal(doc)
	slices.Sort(removed)
	return out, removed, err
}

func kind(isProcess bool) string {
	if isProcess {
		return "process"
	}
	return "config"
}

// FilterFile applies FilterConfig to the file act names, rewriting it in place when something
// was removed.
func FilterFile(act Action, allowed CapSet) ([]string, error) {
	if act.File == "" {
		return nil, nil
	}
	data, err := os.ReadFile(act.File)
	if err != nil {
		return nil, err
	}
	out, removed, err := FilterConfig(data, act.Command == "exec", allowed)
	if err != nil || len(removed) == 0 {
		return nil, err
	}
	fi, err := os.Stat(act.File)
	if err != nil {
		return nil, err
	}
	tmp := act.File + ".faultline-runc"
	if err := os.WriteFile(tmp, out, fi.Mode().Perm()); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, act.File); err != nil {
		return nil, err
	}
	return removed, nil
}
