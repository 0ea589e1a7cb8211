package kube

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/platform/placement"
)

// SpreadPath is where the spreading webhook is served.
const SpreadPath = "/mutate-spread"

// SpreadHandler serves the spreading webhook: AdmissionReview v1 in, a JSON patch out for
// CPU-heavy Deployments and StatefulSets that lack a spreading rule. It never denies: a request
// it cannot read is allowed unchanged (and logged), so a webhook bug cannot block deployments.
func SpreadHandler(cfg placement.SpreadConfig, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
			http.Error(w, fmt.Sprintf("expected an AdmissionReview: %v", err), http.StatusBadRequest)
			return
		}
		resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		ops, why, err := spreadOps(cfg, review.Request)
		switch {
		case err != nil:
			log.Warn("spread: object not read; allowed unchanged", "kind", review.Request.Kind.Kind, "name", review.Request.Name, "err", err)
		case len(ops) > 0:
			patch, err := json.Marshal(ops)
			if err != nil {
				log.Warn("spread: patch not encoded", "err", err)
				break
			}
			pt := admissionv1.PatchTypeJSONPatch
			resp.Patch, resp.PatchType = patch, &pt
			resp.Warnings = []string{"faultline platform: " + why}
			log.Info("spread", "kind", review.Request.Kind.Kind, "namespace", review.Request.Namespace, "name", review.Request.Name, "why", why)
		}
		out := admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Response: resp,
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
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
