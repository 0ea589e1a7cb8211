package scheduler

import (
	"fmt"
	"slices"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/sim/cluster"
)

// specInfo is what the plugins need from a PodSpec, parsed once: upstream parses a pod into a
// framework.PodInfo (affinity terms) and each plugin's PreFilter/PreScore state. Pods of one owner
// share their *corev1.PodSpec, so the parse is cached per spec pointer and shared by all replicas.
// Anything that depends on the pod's own labels or namespace (matchLabelKeys, a term's default
// namespace) is applied at match time, never baked in here.
type specInfo struct {
	// NodeAffinity (and PodTopologySpread's nodeAffinityPolicy).
	required  requiredNodeAffinity
	preferred []preferredNodeTerm
	// nodeNames is NodeAffinity's PreFilterResult: nil = all nodes; an empty, non-nil set = the
	// terms conflict and no node can match.
	nodeNames map[string]struct{}

	// TaintToleration / NodeUnschedulable.
	toleratesUnschedulable bool

	// InterPodAffinity.
	requiredAffinity     []affinityTerm
	requiredAntiAffinity []affinityTerm
	preferredAffinity    []affinityTerm // weight set
	preferredAnti        []affinityTerm // weight set
	hasPodAffinity       bool           // any pod (anti-)affinity: upstream's PodsWithAffinity
	// ownerKeys are the label keys the terms read from their owning pod (matchLabelKeys and
	// mismatchLabelKeys), sorted: pods of this spec with the same values match alike.
	ownerKeys []string

	// PodTopologySpread, from spec.topologySpreadConstraints (before matchLabelKeys merging).
	hasSpreadConstraints bool
	hardSpread           []spreadConstraint // DoNotSchedule
	softSpread           []spreadConstraint // ScheduleAnyway
}

// specCache maps shared pod specs to their parse. It is bounded: past maxCachedSpecs entries it
// starts over (the cache only saves work, it never changes a result).
type specCache struct {
	m map[*corev1.PodSpec]*specInfo
}

const maxCachedSpecs = 1 << 16

func (c *specCache) get(spec *corev1.PodSpec) (*specInfo, error) {
	if info, ok := c.m[spec]; ok {
		return info, nil
	}
	info, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	if c.m == nil || len(c.m) >= maxCachedSpecs {
		c.m = make(map[*corev1.PodSpec]*specInfo)
	}
	c.m[spec] = info
	return info, nil
}

// hasPodAffinity reports whether the spec has pod affinity or anti-affinity (cheap check before a
// cache lookup for existing pods).
func specHasPodAffinity(spec *corev1.PodSpec) bool {
	a := spec.Affinity
	return a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil)
}

func parseSpec(spec *corev1.PodSpec) (*specInfo, error) {
	info := &specInfo{}
	info.toleratesUnschedulable = toleratesTaint(spec.Tolerations, &corev1.Taint{
		Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule,
	})
	info.required = newRequiredNodeAffinity(spec)
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil {
		info.preferred = newPreferredNodeTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
		if r := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			info.nodeNames = nodeAffinityNodeNames(r.NodeSelectorTerms)
		}
	}
	if a := spec.Affinity; a != nil {
		var err error
		if pa := a.PodAffinity; pa != nil {
			if info.requiredAffinity, err = newAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
				return nil, err
			}
			if info.preferredAffinity, err = newWeightedAffinityTerms(pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
				return nil, err
			}
		}
		if pa := a.PodAntiAffinity; pa != nil {
			if info.requiredAntiAffinity, err = newAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
				return nil, err
			}
			if info.preferredAnti, err = newWeightedAffinityTerms(pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
				return nil, err
			}
		}
		info.hasPodAffinity = a.PodAffinity != nil || a.PodAntiAffinity != nil
		for _, terms := range [][]affinityTerm{info.requiredAffinity, info.requiredAntiAffinity, info.preferredAffinity, info.preferredAnti} {
			for i := range terms {
				info.ownerKeys = append(info.ownerKeys, terms[i].matchKeys...)
				info.ownerKeys = append(info.ownerKeys, terms[i].mismatch...)
			}
		}
		slices.Sort(info.ownerKeys)
		info.ownerKeys = slices.Compact(info.ownerKeys)
	}
	if len(spec.TopologySpreadConstraints) > 0 {
		info.hasSpreadConstraints = true
		var err error
		if info.hardSpread, err = newSpreadConstraints(spec.TopologySpreadConstraints, corev1.DoNotSchedule); err != nil {
			return nil, err
		}
		if info.softSpread, err = newSpreadConstraints(spec.TopologySpreadConstraints, corev1.ScheduleAnyway); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// discard is the logger handed to corev1.Toleration.ToleratesTaint; with comparison operators off
// (TaintTolerationComparisonOperators is alpha) it never logs.
var discard = logr.Discard()

// toleratesTaint is component-helpers' TolerationsTolerateTaint.
func toleratesTaint(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(discard, taint, false) {
			return true
		}
	}
	return false
}

// affinityTerm is upstream's framework.AffinityTerm (pkg/scheduler/framework/types.go), plus the
// matchLabelKeys/mismatchLabelKeys that kube-apiserver merges into the label selector at pod
// creation (KEP-3633), applied here at match time with the owning pod's labels.
type affinityTerm struct {
	selector    labelMatcher
	namespaces  []string
	ownNS       bool            // no namespaces and no namespaceSelector: the owning pod's namespace
	nsSelector  labels.Selector // nil when the term has no namespaceSelector
	topologyKey string
	weight      int64
	matchKeys   []string
	mismatch    []string
	selKey      string // the selector as a string when the matcher has no fast path
	nsSelKey    string // nsSelector as a string

	// memo of selector.matches for one target pod, valid while stamp is the cycle's stamp: an
	// existing pod's term is evaluated against the same incoming pod once per shared spec, not
	// once per replica.
	stamp uint64
	memo  bool
}

func newAffinityTerm(t *corev1.PodAffinityTerm) (affinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return affinityTerm{}, err
	}
	at := affinityTerm{
		selector:    newLabelMatcher(sel, nil),
		topologyKey: t.TopologyKey,
		matchKeys:   t.MatchLabelKeys,
		mismatch:    t.MismatchLabelKeys,
	}
	if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
		at.ownNS = true
	} else {
		at.namespaces = t.Namespaces
	}
	if t.NamespaceSelector != nil {
		if at.nsSelector, err = metav1.LabelSelectorAsSelector(t.NamespaceSelector); err != nil {
			return affinityTerm{}, err
		}
		at.nsSelKey = at.nsSelector.String()
	}
	if !at.selector.fast {
		at.selKey = sel.String()
	}
	return at, nil
}

func newAffinityTerms(terms []corev1.PodAffinityTerm) ([]affinityTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		at, err := newAffinityTerm(&terms[i])
		if err != nil {
			return nil, fmt.Errorf("pod affinity term %d: %w", i, err)
		}
		out = append(out, at)
	}
	return out, nil
}

func newWeightedAffinityTerms(terms []corev1.WeightedPodAffinityTerm) ([]affinityTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		at, err := newAffinityTerm(&terms[i].PodAffinityTerm)
		if err != nil {
			return nil, fmt.Errorf("weighted pod affinity term %d: %w", i, err)
		}
		at.weight = int64(terms[i].Weight)
		out = append(out, at)
	}
	return out, nil
}

// nsLabels stands for a namespace's labels. Namespace objects are not modelled, so a namespace has
// only the label kube-apiserver sets on every namespace, kubernetes.io/metadata.name.
type nsLabels struct{ name string }

func (l *nsLabels) Has(key string) bool { return key == corev1.LabelMetadataName }
func (l *nsLabels) Get(key string) string {
	if key == corev1.LabelMetadataName {
		return l.name
	}
	return ""
}
func (l *nsLabels) Lookup(key string) (string, bool) {
	if key == corev1.LabelMetadataName {
		return l.name, true
	}
	return "", false
}

// matches is AffinityTerm.Matches: target is in the term's namespaces (or its namespace's labels
// match the namespaceSelector) and its labels match the selector. owner is the pod that declares the
// term. ns is scratch space for the target's namespace labels. A non-zero stamp memoizes the
// selector's verdict for this target (the caller guarantees one target per stamp).
func (t *affinityTerm) matches(owner, target *cluster.Pod, ns *nsLabels, stamp uint64) bool {
	if !t.namespaceMatches(owner, target, ns) {
		return false
	}
	var ok bool
	switch {
	case stamp == 0:
		ok = t.selector.matches(target.Labels)
	case t.stamp == stamp:
		ok = t.memo
	default:
		ok = t.selector.matches(target.Labels)
		t.stamp, t.memo = stamp, ok
	}
	if !ok {
		return false
	}
	for _, k := range t.matchKeys {
		if v, ok := owner.Labels[k]; ok {
			if tv, ok := target.Labels[k]; !ok || tv != v {
				return false
			}
		}
	}
	for _, k := range t.mismatch {
		if v, ok := owner.Labels[k]; ok {
			if tv, ok := target.Labels[k]; ok && tv == v {
				return false
			}
		}
	}
	return true
}

func (t *affinityTerm) namespaceMatches(owner, target *cluster.Pod, ns *nsLabels) bool {
	if t.ownNS {
		return target.Namespace == owner.Namespace
	}
	for _, n := range t.namespaces {
		if n == target.Namespace {
			return true
		}
	}
	if t.nsSelector != nil {
		ns.name = target.Namespace
		return t.nsSelector.Matches(ns)
	}
	return false
}

// matchesAll is podMatchesAllAffinityTerms: false for no terms.
func matchesAll(terms []affinityTerm, owner, target *cluster.Pod, ns *nsLabels) bool {
	if len(terms) == 0 {
		return false
	}
	for i := range terms {
		if !terms[i].matches(owner, target, ns, 0) {
			return false
		}
	}
	return true
}
