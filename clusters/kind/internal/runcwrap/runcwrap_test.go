package runcwrap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCapMask(t *testing.T) {
	tests := []struct {
		name    string
		mask    string
		has     []string
		hasNot  []string
		wantErr bool
	}{
		{name: "everything but CAP_SYS_RESOURCE (the measured VM)", mask: "000001fffeffffff",
			has: []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_CHECKPOINT_RESTORE"}, hasNot: []string{"CAP_SYS_RESOURCE"}},
		{name: "full set", mask: "000001ffffffffff", has: []string{"CAP_SYS_RESOURCE", "CAP_CHOWN"}},
		{name: "only CAP_CHOWN and CAP_KILL", mask: "21", has: []string{"CAP_CHOWN", "CAP_KILL"}, hasNot: []string{"CAP_DAC_OVERRIDE"}},
		{name: "not hex", mask: "zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseCapMask(tt.mask)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			for _, c := range tt.has {
				assert.True(t, set[c], c)
			}
			for _, c := range tt.hasNot {
				assert.False(t, set[c], c)
			}
		})
	}
}

func TestBoundingSet(t *testing.T) {
	set, err := BoundingSet("Name:\tx\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000001\n")
	require.NoError(t, err)
	assert.Equal(t, CapSet{"CAP_CHOWN": true}, set)
	_, err = BoundingSet("Name:\tx\n")
	assert.ErrorContains(t, err, "CapBnd")
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Action
	}{
		{name: "containerd shim create", args: []string{"--root", "/run/x/runtime-runc/moby", "--log", "/run/x/log.json", "--log-format", "json", "--systemd-cgroup", "create", "--bundle", "/run/b", "--pid-file", "/run/b/init.pid", "abc"},
			want: Action{Command: "create", File: "/run/b/config.json"}},
		{name: "create with -b=", args: []string{"create", "-b=/run/b", "abc"}, want: Action{Command: "create", File: "/run/b/config.json"}},
		{name: "run in the working directory", args: []string{"run", "abc"}, want: Action{Command: "run", File: "/cwd/config.json"}},
		{name: "relative bundle", args: []string{"run", "--bundle", "b", "abc"}, want: Action{Command: "run", File: "/cwd/b/config.json"}},
		{name: "exec with a process file", args: []string{"--root", "/r", "exec", "--process", "/tmp/runc-process1", "--detach", "--pid-file", "/p", "abc"},
			want: Action{Command: "exec", File: "/tmp/runc-process1"}},
		{name: "exec -p", args: []string{"exec", "-p", "proc.json", "abc"}, want: Action{Command: "exec", File: "/cwd/proc.json"}},
		{name: "exec without a process file", args: []string{"exec", "abc", "ls"}, want: Action{Command: "exec"}},
		{name: "exec whose command has a -p after --", args: []string{"exec", "abc", "--", "ps", "-p", "1"}, want: Action{Command: "exec"}},
		{name: "other commands are left alone", args: []string{"--root", "/r", "delete", "--force", "abc"}, want: Action{Command: "delete"}},
		{name: "only flags", args: []string{"--version"}, want: Action{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Parse(tt.args, "/cwd"))
		})
	}
}

func TestFilterConfig(t *testing.T) {
	allowed, err := ParseCapMask("000001fffeffffff") // no CAP_SYS_RESOURCE
	require.NoError(t, err)
	all := []string{"CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"}
	tests := []struct {
		name        string
		doc         map[string]any
		isProcess   bool
		wantRemoved []string
		capsAt      func(map[string]any) map[string]any
	}{
		{
			name: "bundle config: every set filtered, other fields kept",
			doc: map[string]any{"ociVersion": "1.2.0", "hostname": "n1", "process": map[string]any{
				"args":         []any{"/sbin/init"},
				"capabilities": map[string]any{"bounding": all, "effective": all, "permitted": all, "inheritable": all, "ambient": []string{}},
			}},
			wantRemoved: []string{"CAP_SYS_RESOURCE"},
			capsAt: func(d map[string]any) map[string]any {
				return d["process"].(map[string]any)["capabilities"].(map[string]any)
			},
		},
		{
			name:        "exec process file: capabilities at the top",
			doc:         map[string]any{"args": []any{"sh"}, "capabilities": map[string]any{"bounding": all, "effective": all}},
			isProcess:   true,
			wantRemoved: []string{"CAP_SYS_RESOURCE"},
			capsAt:      func(d map[string]any) map[string]any { return d["capabilities"].(map[string]any) },
		},
		{
			name: "nothing to remove: unchanged",
			doc:  map[string]any{"process": map[string]any{"capabilities": map[string]any{"bounding": []string{"CAP_CHOWN"}}}},
			capsAt: func(d map[string]any) map[string]any {
				return d["process"].(map[string]any)["capabilities"].(map[string]any)
			},
		},
		{name: "no process", doc: map[string]any{"ociVersion": "1.2.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := json.Marshal(tt.doc)
			require.NoError(t, err)
			out, removed, err := FilterConfig(in, tt.isProcess, allowed)
			require.NoError(t, err)
			assert.Equal(t, tt.wantRemoved, removed)
			if len(tt.wantRemoved) == 0 {
				assert.Equal(t, in, out)
				return
			}
			var got map[string]any
			require.NoError(t, json.Unmarshal(out, &got))
			for set, v := range tt.capsAt(got) {
				for _, c := range v.([]any) {
					assert.NotEqual(t, "CAP_SYS_RESOURCE", c, set)
				}
			}
			assert.Contains(t, tt.capsAt(got)["bounding"], "CAP_SYS_ADMIN")
			if !tt.isProcess {
				assert.Equal(t, "n1", got["hostname"])
				assert.Equal(t, []any{"/sbin/init"}, got["process"].(map[string]any)["args"])
				assert.Equal(t, []any{}, tt.capsAt(got)["ambient"])
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		_, _, err := FilterConfig([]byte("{"), false, allowed)
		assert.Error(t, err)
	})
	t.Run("a set that is not a list", func(t *testing.T) {
		_, _, err := FilterConfig([]byte(`{"process":{"capabilities":{"bounding":"CAP_CHOWN"}}}`), false, allowed)
		assert.ErrorContains(t, err, "capabilities.bounding")
	})
}

func TestFilterFileRewritesInPlace(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"]}}}`), 0o600))
	removed, err := FilterFile(Parse([]string{"create", "--bundle", dir, "x"}, "/"), CapSet{"CAP_CHOWN": true})
	require.NoError(t, err)
	assert.Equal(t, []string{"CAP_SYS_RESOURCE"}, removed)
	b, err := os.ReadFile(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"process":{"capabilities":{"bounding":["CAP_CHOWN"]}}}`, string(b))
	fi, err := os.Stat(cfg)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}
