package admission_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/faultline-dev/faultline/internal/admission"
)

func TestReviewRoundTrip(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := admission.ReadRequest(w, r)
		if err != nil {
			return
		}
		admission.Respond(w, &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true})
	})
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"a review with a request", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1"}}`, http.StatusOK},
		{"a review without a request", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest},
		{"not JSON", `<xml/>`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body)))
			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			if tc.code != http.StatusOK {
				assert.Contains(t, rec.Body.String(), "expected an admission.k8s.io/v1 AdmissionReview")
				return
			}
			var out admissionv1.AdmissionReview
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
			assert.Equal(t, "AdmissionReview", out.Kind)
			assert.Equal(t, "u1", string(out.Response.UID))
			assert.True(t, out.Response.Allowed)
		})
	}
}
