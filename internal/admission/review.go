// Package admission reads and answers admission.k8s.io/v1 AdmissionReviews: the HTTP side
// shared by faultline's webhook backend for real runs (clusters/webhook) and the platform's
// spreading webhook (platform/kube).
package admission

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxBody bounds a review's size (the API server sends at most a few MiB of object).
const MaxBody = 8 << 20

// ReadRequest reads the AdmissionReview in r's body and returns its request. On error it has
// answered 400 Bad Request already; the caller only returns.
func ReadRequest(w http.ResponseWriter, r *http.Request) (*admissionv1.AdmissionRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, err
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		err = fmt.Errorf("expected an admission.k8s.io/v1 AdmissionReview with a request: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, err
	}
	return review.Request, nil
}

// Respond answers with resp in an admission.k8s.io/v1 AdmissionReview.
func Respond(w http.ResponseWriter, resp *admissionv1.AdmissionResponse) {
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
