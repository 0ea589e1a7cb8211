package realrun

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline-dev/faultline/clusters"
	"github.com/faultline-dev/faultline/clusters/internal/proc"
	"github.com/faultline-dev/faultline/clusters/local"
	"github.com/faultline-dev/faultline/sim"
)

// A Ledger records, before it happens, everything the runs of one faultline process create or
// change on an existing cluster: the nodes it creates, the objects it applies (Chaos Mesh
// objects included), the nodes it cordons, the node leases it takes (node faults) and the
// control-plane processes it stops. A run that ends normally reverts and deletes all of it and
// says so in the ledger, and the process removes the ledger when it closes it. A process killed
// in between (SIGKILL, a crash, a power cut) leaves the ledger behind, naming its owner (PID,
// start time, boot); Collect, which the next faultline command runs, finds ledgers whose owner is
// dead and undoes what they record, so that the next run on that cluster starts clean.
//
// The ledger is a file of JSON lines under the state directory ($XDG_STATE_HOME/faultline/runs),
// synced to disk after each line. It holds no credentials: it names the kubeconfig and context
// (or the faultline cluster) the runs used, and the API server they pointed at, which must still
// match when Collect connects.
//
// Throwaway clusters need no ledger: the cluster itself is recorded as the run's (its owner), and
// removing it removes everything in it.
type Ledger struct {
	mu    sync.Mutex
	path  string
	f     *os.File
	seq   int
	open  map[string]bool // runs begun and not ended
	dirty bool            // a run ended without cleaning up completely
}

// LedgerTarget is the cluster a ledger's runs wrote to.
type LedgerTarget struct {
	// Local names a faultline local cluster (under the provider's state directory); else the
	// kubeconfig and context below are used.
	Local      string   `json:"local,omitempty"`
	KubeConfig []string `json:"kubeconfig,omitempty"` // the files, in client-go's precedence
	Context    string   `json:"context,omitempty"`
	Server     string   `json:"server"`
}

// ObjectRef names an applied object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// ledgerLine is one line: the header (Owner and Target set) or an entry.
type ledgerLine struct {
	Owner  *proc.Owner    `json:"owner,omitempty"`
	Target *LedgerTarget  `json:"target,omitempty"`
	Seq    int            `json:"seq,omitempty"`
	Run    string         `json:"run,omitempty"`
	Op     string         `json:"op,omitempty"`
	Nodes  []string       `json:"nodes,omitempty"`
	Object []ObjectRef    `json:"objects,omitempty"`
	Comp   string         `json:"component,omitempty"`
	Extra  map[string]any `json:"extra,omitempty"`
}

// Ledger operations.
const (
	opNodes   = "create-nodes"  // KWOK nodes created (deleted by the undo)
	opObjects = "apply-objects" // objects applied (deleted)
	opCordon  = "cordon"        // nodes cordoned (uncordoned)
	opLease   = "take-lease"    // node leases taken from KWOK (given back)
	opProcess = "stop-process"  // a control-plane process stopped (started again)
	opEnd     = "end"           // the run reverted and deleted everything it recorded
)

// DefaultLedgerDir is $XDG_STATE_HOME/faultline/runs (~/.local/state/faultline/runs).
func DefaultLedgerDir() (string, error) {
	d, err := local.DefaultStateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(d), "runs"), nil
}

// OpenLedger starts this process's ledger in dir for runs on target.
func OpenLedger(dir string, target LedgerTarget) (*Ledger, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	owner := proc.Self()
	path := filepath.Join(dir, fmt.Sprintf("%d-%d.jsonl", owner.PID, owner.Start))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l := &Ledger{path: path, f: f, open: map[string]bool{}}
	if err := l.write(ledgerLine{Owner: &owner, Target: &target}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return l, nil
}

// Path is the ledger's file.
func (l *Ledger) Path() string { return l.path }

func (l *Ledger) write(line ledgerLine) error {
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("ledger %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("ledger %s: %w", l.path, err)
	}
	return nil
}

// record adds an entry for run before the change it describes is made. A nil ledger records
// nothing (throwaway clusters).
func (l *Ledger) record(run string, line ledgerLine) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	line.Seq, line.Run = l.seq, run
	if line.Op != opEnd {
		l.open[run] = true
	}
	return l.write(line)
}

// end says run has undone everything it recorded (clean) or not.
func (l *Ledger) end(run string, clean bool) {
	if l == nil {
		return
	}
	if !clean {
		l.mu.Lock()
		l.dirty = true
		l.mu.Unlock()
		return
	}
	if err := l.record(run, ledgerLine{Op: opEnd}); err == nil {
		l.mu.Lock()
		delete(l.open, run)
		l.mu.Unlock()
	}
}

// Close removes the ledger when every run cleaned up after itself; otherwise it keeps it for
// Collect, once this process has exited, and says so.
func (l *Ledger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Close()
	if len(l.open) == 0 && !l.dirty {
		return os.Remove(l.path)
	}
	return fmt.Errorf("the runs left changes in the cluster that they could not undo; %s records them and the next faultline command undoes them", l.path)
}

// Hooks the run calls before each change (nil-safe: no ledger, nothing recorded).

// ledgerPoolNodes records the pools' nodes (<pool>-<i>) before they are created.
func (r *run) ledgerPoolNodes() error {
	var names []string
	for _, pool := range r.in.Pools {
		for i := 1; i <= pool.Count; i++ {
			names = append(names, pool.Name+"-"+strconv.Itoa(i))
		}
	}
	return r.opts.Ledger.record(r.id, ledgerLine{Op: opNodes, Nodes: names})
}

func (r *run) ledgerObjects(objs ...*unstructured.Unstructured) error {
	refs := make([]ObjectRef, 0, len(objs))
	for _, u := range objs {
		refs = append(refs, ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()})
	}
	return r.opts.Ledger.record(r.id, ledgerLine{Op: opObjects, Object: refs})
}

func (r *run) ledgerCordon(names ...string) error {
	return r.opts.Ledger.record(r.id, ledgerLine{Op: opCordon, Nodes: names})
}

func (r *run) ledgerLease(names ...string) error {
	return r.opts.Ledger.record(r.id, ledgerLine{Op: opLease, Nodes: names})
}

func (r *run) ledgerProcess(component string) error {
	return r.opts.Ledger.record(r.id, ledgerLine{Op: opProcess, Comp: component})
}

// ledgerEnd closes the run's account: clean when everything it recorded was undone.
func (r *run) ledgerEnd(clean bool) { r.opts.Ledger.end(r.id, clean) }

// Collect undoes what the runs of dead faultline processes left in existing clusters, ledger by
// ledger under dir: webhook configurations first (their backend died with the process), then
// the other objects, newest first; node leases given back to KWOK; stopped control-plane
// processes started again; cordoned nodes uncordoned; created nodes deleted. A ledger is removed
// once everything in it is undone, or when the cluster it names no longer exists. Ledgers of
// live processes are left alone, and so is a ledger whose kubeconfig no longer points at the
// recorded API server (reported). It returns what it undid, one line per ledger.
func Collect(ctx context.Context, dir string, lp *local.Provider, logger *slog.Logger) ([]string, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".jsonl") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		msg, err := collectOne(ctx, path, lp, logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("ledger %s: %w", path, err))
		}
		if msg != "" {
			done = append(done, msg)
			logger.Info("undid the changes of a dead faultline process", "what", msg)
		}
	}
	return done, errors.Join(errs...)
}

func collectOne(ctx context.Context, path string, lp *local.Provider, logger *slog.Logger) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// one collector per ledger at a time
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return "", nil
	}
	var header ledgerLine
	var entries []ledgerLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for first := true; sc.Scan(); first = false {
		var line ledgerLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			break // a line cut short by the crash: everything before it was recorded whole
		}
		if first {
			header = line
			continue
		}
		entries = append(entries, line)
	}
	if header.Owner == nil || header.Target == nil {
		if st, err := os.Stat(path); err == nil && st.Size() == 0 {
			return "", os.Remove(path) // created, never written
		}
		return "", fmt.Errorf("no header: not a ledger faultline wrote")
	}
	if header.Owner.Alive() {
		return "", nil
	}
	ended := map[string]bool{}
	for _, e := range entries {
		if e.Op == opEnd {
			ended[e.Run] = true
		}
	}
	var todo []ledgerLine
	for _, e := range entries {
		if !ended[e.Run] {
			todo = append(todo, e)
		}
	}
	tgt := *header.Target
	if len(todo) == 0 {
		return "", os.Remove(path)
	}
	cfg, err := tgt.config(lp)
	if errors.Is(err, clusters.ErrNotFound) {
		// the faultline cluster is gone, and everything the runs did in it with it
		return fmt.Sprintf("cluster %s no longer exists; nothing to undo (pid %d)", tgt.Local, header.Owner.PID), os.Remove(path)
	}
	if err != nil {
		return "", err
	}
	u, err := newUndoer(cfg, tgt, lp, logger)
	if err != nil {
		return "", err
	}
	n, err := u.undo(ctx, todo)
	if err != nil {
		return "", fmt.Errorf("undoing what pid %d left in %s: %w (kept for the next try)", header.Owner.PID, tgt.describe(), err)
	}
	return fmt.Sprintf("%s: undid %d recorded changes of faultline pid %d, killed mid-run", tgt.describe(), n, header.Owner.PID), os.Remove(path)
}

func (t LedgerTarget) describe() string {
	if t.Local != "" {
		return "local cluster " + strconv.Quote(t.Local)
	}
	return "context " + strconv.Quote(t.Context) + " (" + t.Server + ")"
}

// config connects to the target again, checking it is still the API server the runs used.
func (t LedgerTarget) config(lp *local.Provider) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if t.Local != "" {
		if lp == nil {
			return nil, fmt.Errorf("local cluster %q: no local provider", t.Local)
		}
		kc, err := lp.KubeConfigPath(t.Local)
		if err != nil {
			return nil, err
		}
		if cfg, err = clientcmd.BuildConfigFromFlags("", kc); err != nil {
			return nil, err
		}
	} else {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: t.KubeConfig}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: t.Context}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("context %q of %s: %w", t.Context, strings.Join(t.KubeConfig, ":"), err)
		}
	}
	if !sameServer(cfg.Host, t.Server) {
		return nil, fmt.Errorf("%s now points at %s, not at %s where the runs were: nothing undone", t.describe(), cfg.Host, t.Server)
	}
	return cfg, nil
}

// undoer undoes ledger entries with a run's own machinery (its clients and helpers).
type undoer struct {
	r   *run
	tgt LedgerTarget
	lp  *local.Provider
}

func newUndoer(cfg *rest.Config, tgt LedgerTarget, lp *local.Provider, logger *slog.Logger) (*undoer, error) {
	r, err := newRun(cfg, &sim.Input{Name: "collect"}, Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	return &undoer{r: r, tgt: tgt, lp: lp}, nil
}

// undo reverses the entries: stopped processes started, leases given back, then objects (webhook configurations before anything
// else), then cordons and nodes. Every step is a no-op where there is nothing left to undo.
func (u *undoer) undo(ctx context.Context, entries []ledgerLine) (int, error) {
	var errs []error
	n := 0
	// stopped processes first: the API server may be one of them, and everything else needs it
	for _, e := range slices.Backward(entries) {
		if e.Op != opProcess {
			continue
		}
		if u.tgt.Local == "" || u.lp == nil {
			errs = append(errs, fmt.Errorf("%s was stopped and faultline does not run this cluster", e.Comp))
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // it may never get ready (a webhook of the run blocking it)
		err := u.lp.StartProcess(sctx, u.tgt.Local, e.Comp)
		cancel()
		if err != nil {
			errs = append(errs, err)
		}
		n++
	}
	for _, e := range slices.Backward(entries) {
		if e.Op != opLease {
			continue
		}
		for _, node := range e.Nodes {
			if err := u.r.setLease(ctx, node, false); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("node %s lease: %w", node, err))
			}
		}
		n++
	}
	var objs []ObjectRef
	for _, e := range slices.Backward(entries) {
		if e.Op == opObjects {
			for _, o := range slices.Backward(e.Object) {
				objs = append(objs, o)
			}
		}
	}
	hooksFirst := func(o ObjectRef) int {
		if strings.HasSuffix(o.Kind, "WebhookConfiguration") {
			return 0
		}
		if o.Kind == "Namespace" {
			return 2
		}
		return 1
	}
	slices.SortStableFunc(objs, func(a, b ObjectRef) int { return hooksFirst(a) - hooksFirst(b) })
	bg := metav1.DeletePropagationBackground
	for _, o := range objs {
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion(o.APIVersion)
		obj.SetKind(o.Kind)
		obj.SetNamespace(o.Namespace)
		obj.SetName(o.Name)
		ri, err := u.r.resource(obj)
		if err != nil {
			if isNoMatch(err) {
				continue // its CRD went with an earlier deletion
			}
			errs = append(errs, err)
			continue
		}
		if err := ri.Delete(ctx, o.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s %s/%s: %w", o.Kind, o.Namespace, o.Name, err))
			continue
		}
		n++
	}
	for _, e := range slices.Backward(entries) {
		switch e.Op {
		case opCordon:
			for _, node := range e.Nodes {
				if err := u.r.setUnschedulable(ctx, node, false); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
			}
			n++
		case opNodes:
			for _, node := range e.Nodes {
				if n, err := u.r.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err != nil || n.Labels[RunLabel] != e.Run {
					continue // gone, or not the run's (a name it never got to create)
				}
				if err := u.r.cs.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("delete node %s: %w", node, err))
				}
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }

// setUnschedulable cordons or uncordons a node.
func (r *run) setUnschedulable(ctx context.Context, node string, on bool) error {
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
	_, err := r.cs.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("node %s: set unschedulable %t: %w", node, on, err)
	}
	return nil
}

// notGone reports whether a deletion failed for another reason than the object being gone.
func notGone(err error) bool { return err != nil && !apierrors.IsNotFound(err) }

// LedgerDir is where the ledgers of runs on lp's clusters (and on any existing cluster) are kept:
// runs/ beside the provider's clusters/ directory.
func LedgerDir(lp *local.Provider) string { return filepath.Join(filepath.Dir(lp.StateDir()), "runs") }

// LedgerTarget is where the runs of e write, as a ledger records it. kubeconfig is the file
// named on the command line, empty for client-go's default ($KUBECONFIG, ~/.kube/config).
func (e *Existing) LedgerTarget(kubeconfig string) LedgerTarget {
	t := LedgerTarget{Context: e.Resolved.Context, Server: e.Resolved.Config.Host}
	if e.Resolved.Provider == local.ProviderName {
		t.Local = e.Resolved.Owned
	}
	if kubeconfig != "" {
		if abs, err := filepath.Abs(kubeconfig); err == nil {
			kubeconfig = abs
		}
		t.KubeConfig = []string{kubeconfig}
	} else {
		t.KubeConfig = clientcmd.NewDefaultClientConfigLoadingRules().Precedence
	}
	return t
}

// Collector removes the leftovers of dead faultline processes that it knows of (the kind
// provider's throwaway clusters, say) and returns what it removed.
type Collector interface {
	GC(ctx context.Context) ([]string, error)
}

// CollectGarbage is what every real-world command does first: it undoes what runs of dead
// faultline processes left in existing clusters (Collect, the ledgers) and removes the leftover
// clusters of dead processes (local.Provider.GC, then each of more, such as kind's). It returns
// what it did, one line each.
func CollectGarbage(ctx context.Context, lp *local.Provider, logger *slog.Logger, more ...Collector) ([]string, error) {
	undone, err1 := Collect(ctx, LedgerDir(lp), lp, logger)
	removed, err2 := lp.GC(ctx)
	errs := []error{err1, err2}
	done := append(undone, removed...)
	for _, c := range more {
		r, err := c.GC(ctx)
		done = append(done, r...)
		errs = append(errs, err)
	}
	return done, errors.Join(errs...)
}
