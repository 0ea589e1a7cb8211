package realrun

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/internal/proc"
	"github.com/faultline-dev/faultline/clusters/local"
)

func deadOwner(t *testing.T) proc.Owner {
	t.Helper()
	o, err := proc.ExitedOwner()
	require.NoError(t, err)
	require.False(t, o.Alive())
	return o
}

func writeLedger(t *testing.T, dir, name string, lines ...ledgerLine) string {
	t.Helper()
	var b []byte
	for _, l := range lines {
		j, err := json.Marshal(l)
		require.NoError(t, err)
		b = append(append(b, j...), '\n')
	}
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// A run that cleans up leaves no ledger; one that does not keeps it for the next command.
func TestLedgerRemovedOnlyWhenEveryRunCleanedUp(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLedger(dir, LedgerTarget{Local: "c", Server: "https://127.0.0.1:1"})
	require.NoError(t, err)
	r := &run{id: "a", opts: Options{Ledger: l}}
	require.NoError(t, r.ledgerObjects())
	require.NoError(t, r.ledgerLease("pool-1"))
	r.ledgerEnd(true)
	require.NoError(t, l.Close())
	_, err = os.Stat(l.Path())
	assert.True(t, os.IsNotExist(err), "a clean run's ledger is removed")

	l, err = OpenLedger(dir, LedgerTarget{Local: "c", Server: "https://127.0.0.1:1"})
	require.NoError(t, err)
	r = &run{id: "b", opts: Options{Ledger: l}}
	require.NoError(t, r.ledgerCordon("node-1"))
	r.ledgerEnd(false)
	assert.Error(t, l.Close())
	b, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	assert.Contains(t, string(b), `"op":"cordon","nodes":["node-1"]`)
	assert.NoError(t, (*Ledger)(nil).Close(), "no ledger (a throwaway cluster): nothing to do")
}

// Collect leaves the ledgers of live processes alone, removes those whose runs all ended or
// whose cluster is gone, and reads a ledger whose last line a crash cut short.
func TestCollectSkipsLiveOwnersAndForgetsFinishedLedgers(t *testing.T) {
	root := t.TempDir()
	lp, err := local.New(local.WithStateDir(filepath.Join(root, "clusters")), local.WithCacheDir(t.TempDir()))
	require.NoError(t, err)
	dir := LedgerDir(lp)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	me, dead := proc.Self(), deadOwner(t)
	tgt := &LedgerTarget{Local: "gone", Server: "https://127.0.0.1:1"}
	live := writeLedger(t, dir, "live.jsonl", ledgerLine{Owner: &me, Target: tgt}, ledgerLine{Seq: 1, Run: "x", Op: opNodes, Nodes: []string{"p-1"}})
	ended := writeLedger(t, dir, "ended.jsonl", ledgerLine{Owner: &dead, Target: tgt}, ledgerLine{Seq: 1, Run: "x", Op: opNodes, Nodes: []string{"p-1"}},
		ledgerLine{Seq: 2, Run: "x", Op: opEnd})
	gone := writeLedger(t, dir, "gone.jsonl", ledgerLine{Owner: &dead, Target: tgt}, ledgerLine{Seq: 1, Run: "x", Op: opNodes, Nodes: []string{"p-1"}})
	f, err := os.OpenFile(gone, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, _ = f.WriteString(`{"seq":2,"run":"x","op":"take-le`) // cut short by SIGKILL
	f.Close()

	done, err := Collect(t.Context(), dir, lp, nil)
	require.NoError(t, err)
	assert.Len(t, done, 1, "%v", done)
	_, err = os.Stat(live)
	assert.NoError(t, err, "a live process's ledger is kept")
	for _, p := range []string{ended, gone} {
		_, err = os.Stat(p)
		assert.True(t, os.IsNotExist(err), "%s removed", p)
	}
}
