package kube

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/faultline-dev/faultline/platform/cron"
	"github.com/faultline-dev/faultline/platform/placement"
)

func review(t *testing.T, kind string, obj runtime.Object) []byte {
	raw, err := json.Marshal(obj)
	require.NoError(t, err)
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u1", Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: kind},
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}},
	})
	require.NoError(t, err)
	return b
}

// TestSpreadHandler posts AdmissionReviews and applies the returned patch as the API server would.
func TestSpreadHandler(t *testing.T) {
	h := SpreadHandler(placement.SpreadConfig{CPUThreshold: resource.MustParse("250m")}, slog.New(slog.DiscardHandler))
	web := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}}}},
			},
		},
	}
	tests := []struct {
		name  string
		body  []byte
		code  int
		patch bool
	}{
		{"CPU-heavy Deployment is patched", review(t, "Deployment", web), http.StatusOK, true},
		{"other kinds are allowed unchanged", review(t, "DaemonSet", web), http.StatusOK, false},
		{"not an AdmissionReview", []byte(`{"kind":"Pod"}`), http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, SpreadPath, bytes.NewReader(tt.body)))
			require.Equal(t, tt.code, rec.Code, rec.Body.String())
			if tt.code != http.StatusOK {
				return
			}
			var out admissionv1.AdmissionReview
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
			assert.True(t, out.Response.Allowed)
			assert.Equal(t, "u1", string(out.Response.UID))
			if !tt.patch {
				assert.Empty(t, out.Response.Patch)
				return
			}
			var ops []placement.PatchOp
			require.NoError(t, json.Unmarshal(out.Response.Patch, &ops))
			raw, _ := json.Marshal(web)
			patched, err := placement.ApplyPatch(raw, ops)
			require.NoError(t, err)
			var got appsv1.Deployment
			require.NoError(t, json.Unmarshal(patched, &got))
			require.NotNil(t, got.Spec.Template.Spec.Affinity)
			assert.Len(t, got.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, 1)
		})
	}
}

func TestOwnWrite(t *testing.T) {
	cj := func(gen int64, ann map[string]string) *batchv1.CronJob {
		return &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Generation: gen, Annotations: ann}}
	}
	tests := []struct {
		name string
		o, n *batchv1.CronJob
		own  bool
	}{
		{"only last-schedule-time changed", cj(1, map[string]string{"a": "1", cron.AnnLastSchedule: "x"}), cj(1, map[string]string{"a": "1", cron.AnnLastSchedule: "y"}), true},
		{"first last-schedule-time", cj(1, map[string]string{"a": "1"}), cj(1, map[string]string{"a": "1", cron.AnnLastSchedule: "y"}), true},
		{"spec changed", cj(1, map[string]string{cron.AnnLastSchedule: "x"}), cj(2, map[string]string{cron.AnnLastSchedule: "y"}), false},
		{"paused by a user", cj(1, map[string]string{cron.AnnLastSchedule: "x"}), cj(1, map[string]string{cron.AnnLastSchedule: "x", cron.AnnPaused: "true"}), false},
		{"status only (resync)", cj(1, map[string]string{cron.AnnLastSchedule: "x"}), cj(1, map[string]string{cron.AnnLastSchedule: "x"}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.own, ownWrite(tt.o, tt.n)) })
	}
}
