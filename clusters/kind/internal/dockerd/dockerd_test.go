package dockerd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigIsolatesTheDaemon(t *testing.T) {
	d := &Daemon{DataRoot: "/d", ExecRoot: "/e", AddressPool: "10.250.0.0/16", Runc: "/usr/sbin/runc", Wrapper: "/c/faultline-runc"}
	b, err := json.Marshal(d.Config())
	require.NoError(t, err)
	var c struct {
		DataRoot       string   `json:"data-root"`
		ExecRoot       string   `json:"exec-root"`
		Pidfile        string   `json:"pidfile"`
		Hosts          []string `json:"hosts"`
		Bridge         string   `json:"bridge"`
		IPTables       *bool    `json:"iptables"`
		IP6Tables      *bool    `json:"ip6tables"`
		DefaultRuntime string   `json:"default-runtime"`
		Runtimes       map[string]struct {
			Path        string   `json:"path"`
			RuntimeArgs []string `json:"runtimeArgs"`
		} `json:"runtimes"`
		Pools []struct {
			Base string `json:"base"`
			Size int    `json:"size"`
		} `json:"default-address-pools"`
	}
	require.NoError(t, json.Unmarshal(b, &c))
	assert.Equal(t, "/d", c.DataRoot)
	assert.Equal(t, "/e", c.ExecRoot)
	assert.Equal(t, "/e/dockerd.pid", c.Pidfile)
	assert.Equal(t, []string{"unix:///e/docker.sock"}, c.Hosts, "only its own unix socket, no TCP")
	assert.Equal(t, "none", c.Bridge, "no docker0")
	require.NotNil(t, c.IPTables)
	assert.False(t, *c.IPTables, "the daemon must not touch the host's iptables")
	require.NotNil(t, c.IP6Tables)
	assert.False(t, *c.IP6Tables)
	assert.Equal(t, "faultline-runc", c.DefaultRuntime)
	assert.Equal(t, "/c/faultline-runc", c.Runtimes["faultline-runc"].Path)
	assert.Equal(t, []string{"--faultline-runc=/usr/sbin/runc"}, c.Runtimes["faultline-runc"].RuntimeArgs)
	require.Len(t, c.Pools, 1)
	assert.Equal(t, "10.250.0.0/16", c.Pools[0].Base)
}

func TestStopWithoutRecordIsANoop(t *testing.T) {
	d := &Daemon{DataRoot: t.TempDir(), ExecRoot: filepath.Join(t.TempDir(), "run")}
	require.NoError(t, d.Stop(context.Background()))
	assert.False(t, d.Running(context.Background()))
}

// A record whose PID now runs another program (here: this test) is never signalled.
func TestStopLeavesAReusedPIDAlone(t *testing.T) {
	d := &Daemon{DataRoot: t.TempDir(), ExecRoot: filepath.Join(t.TempDir(), "run")}
	rec := map[string]any{"name": "dockerd", "pid": os.Getpid(), "binary": "/usr/sbin/dockerd"}
	b, _ := json.Marshal(rec)
	require.NoError(t, os.WriteFile(d.recordPath(), b, 0o644))
	require.NoError(t, d.Stop(context.Background()))
	_, err := os.Stat(d.recordPath())
	assert.ErrorIs(t, err, os.ErrNotExist, "the stale record is removed")
}
