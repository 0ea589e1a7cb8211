package kube

import (
	"encoding/json"
	"log/slog"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/admission"
	"github.com/faultline-dev/faultline/platform/placement"
)

// SpreadPath is where the spreading webhook is served.
const SpreadPath = "/mutate-spread"

// SpreadHandler serves the spreading webhook: AdmissionReview v1 in, a JSON patch out for
// CPU-heavy Deployments and StatefulSets that lack a spreading rule. It never denies: a request
// it cannot read is allowed unchanged (and logged), so a webhook bug cannot block deployments.
func SpreadHandler(cfg placement.SpreadConfig, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := admission.ReadRequest(w, r)
		if err != nil {
			return
		}
		resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
		ops, why, err := spreadOps(cfg, req)
		switch {
		case err != nil:
			log.Warn("spread: object not read; allowed unchanged", "kind", req.Kind.Kind, "name", req.Name, "err", err)
		case len(ops) > 0:
			patch, err := json.Marshal(ops)
			if err != nil {
				log.Warn("spread: patch not encoded", "err", err)
				break
			}
			pt := admissionv1.PatchTypeJSONPatch
			resp.Patch, resp.PatchType = patch, &pt
			resp.Warnings = []string{"faultline platform: " + why}
			log.Info("spread", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "why", why)
		}
		admission.Respond(w, resp)
	})
}

func spreadOps(cfg placement.SpreadConfig, req *admissionv1.AdmissionRequest) ([]placement.PatchOp, string, error) {
	var (
		meta     *metav1.ObjectMeta
		replicas *int32
		sel      *metav1.LabelSelector
		tpl      *corev1.PodTemplateSpec
	)
	switch req.Kind.Kind {
	case "Deployment":
		var d appsv1.Deployment
		if err := json.Unmarshal(req.Object.Raw, &d); err != nil {
			return nil, "", err
		}
		meta, replicas, sel, tpl = &d.ObjectMeta, d.Spec.Replicas, d.Spec.Selector, &d.Spec.Template
	case "StatefulSet":
		var s appsv1.StatefulSet
		if err := json.Unmarshal(req.Object.Raw, &s); err != nil {
			return nil, "", err
		}
		meta, replicas, sel, tpl = &s.ObjectMeta, s.Spec.Replicas, s.Spec.Selector, &s.Spec.Template
	default:
		return nil, "", nil
	}
	ops, why := cfg.Spread(meta, replicas, sel, tpl)
	return ops, why, nil
}
