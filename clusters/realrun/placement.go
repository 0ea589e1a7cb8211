package realrun

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// isolateNodes keeps the scenario's pods on the scenario's pool nodes in an existing cluster (one
// from `faultline cluster up` has nodes of its own): every schedulable node that no run created
// is cordoned for the run and uncordoned at its end (recorded in the ledger first, so that the
// next faultline command uncordons them if this process dies). Without it the scheduler spreads
// the pods over the cluster's own nodes too, and a node fault on a pool node finds none of them
// there. Pods already running on those nodes stay; DaemonSets still place theirs. A throwaway
// cluster has no other nodes, and nothing is changed.
func (r *run) isolateNodes(ctx context.Context) error {
	nodes, err := r.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var other []string
	for _, n := range nodes.Items {
		if _, ours := n.Labels[RunLabel]; ours || n.Spec.Unschedulable {
			continue // a run's pool node (this run's or another's), or cordoned already
		}
		other = append(other, n.Name)
	}
	if len(other) == 0 {
		return nil
	}
	if err := r.ledgerCordon(other...); err != nil {
		return err
	}
	var done []string
	r.addRevert(func(ctx context.Context) error {
		var errs []string
		for _, n := range done {
			if err := r.setUnschedulable(ctx, n, false); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("uncordon the cluster's own nodes: %s", strings.Join(errs, "; "))
		}
		return nil
	})
	for _, n := range other {
		if err := r.setUnschedulable(ctx, n, true); err != nil {
			return err
		}
		done = append(done, n)
	}
	r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("the cluster's own nodes (%s) were cordoned for the run, so that the scenario's pods run on its pool nodes as in the simulator; uncordoned at the end", strings.Join(other, ", ")))
	return nil
}
