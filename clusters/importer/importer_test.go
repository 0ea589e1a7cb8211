package importer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/importer"
	"github.com/faultline-dev/faultline/scenarios"
)

func TestImportFromFiles(t *testing.T) {
	snap, err := importer.ReadFiles("testdata", importer.Filter{})
	require.NoError(t, err)
	res, err := importer.Build(snap, importer.Options{Name: "shop", Duration: 30 * time.Minute})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, res.Write(dir))

	t.Run("pools are grouped by shape and split where zones are uneven", func(t *testing.T) {
		var got []string
		for _, p := range res.Pools {
			cpu := p.Capacity["cpu"]
			got = append(got, p.Name+" "+cpu.String()+" "+strings.Join(p.Zones, "/")+" "+strings.Repeat("n", p.Count))
		}
		// m5: 2+2 over two zones: one pool; c5: 2 in a, 1 in b: one pool per zone. The kube-system
		// agent (100m per node) is taken off the capacity.
		assert.Equal(t, []string{"m5-xlarge 3900m zone-a/zone-b nnnn", "c5-2xlarge-zone-a 7900m zone-a nn", "c5-2xlarge-zone-b 7900m zone-b n"}, got)
		assert.Len(t, res.Pools[1].Taints, 1)
		assert.Equal(t, "m5-xlarge-2", res.SimNode["ip-10-0-0-2"], "zone-b node: second in the round robin")
	})

	t.Run("manifests are plain", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "manifests.yaml"))
		require.NoError(t, err)
		m := string(b)
		for _, server := range []string{"managedFields", "uid:", "resourceVersion", "generation", "status:", "clusterIP", "last-applied", "revision", "creationTimestamp"} {
			assert.NotContains(t, m, server)
		}
		assert.Contains(t, m, "team: shop", "the author's annotations stay")
		assert.Contains(t, m, "faultline.dev/imported-as: StatefulSet")
	})

	t.Run("the README says what was left out and why", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "README.md"))
		require.NoError(t, err)
		r := string(b)
		assert.Contains(t, r, "PodDisruptionBudget: not modelled")
		assert.Contains(t, r, "StatefulSet shop/db as a Deployment")
		assert.Contains(t, r, "mean CPU use from metrics.k8s.io for 1 workloads, the CPU requests for 2")
		assert.NotContains(t, r, "DaemonSet:", "kube-system is not imported, so its DaemonSet is not listed")
	})

	t.Run("it validates and runs; the placement matches the cluster's per pool and zone", func(t *testing.T) {
		sc, err := scenarios.Open(dir)
		require.NoError(t, err)
		assert.Equal(t, "shop", sc.Name())
		cpu := map[string]string{}
		for _, l := range sc.Spec.Spec.Load {
			cpu[l.Target] = l.CPUPerReplica.String()
		}
		assert.Equal(t, map[string]string{"deployment/shop/web": "300m", "deployment/shop/batch": "2", "deployment/shop/db": "1"}, cpu,
			"web's load from metrics, the others' from requests")
		p, err := importer.ComparePlacement(dir, res.Live, 1, 10*time.Minute)
		require.NoError(t, err)
		var sb strings.Builder
		p.Write(&sb)
		t.Log("\n" + sb.String())
		require.True(t, p.Equal(), "%+v", p.Groups)
		assert.Equal(t, 11, sum(p.Sim))
		assert.LessOrEqual(t, p.KS, 0.5)
	})
}

func TestReadFilesErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(f, []byte("apiVersion: v1\nkind: List\nitems:\n- {kind: Pod}\n"), 0o644))
	_, err := importer.ReadFiles(f, importer.Filter{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad.yaml: document 1: items[0]")
	_, err = importer.ReadFiles(t.TempDir(), importer.Filter{})
	assert.ErrorContains(t, err, "no *.yaml")
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
