package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faultline-dev/faultline/clusters/webhook"
)

func client(t *testing.T, s *webhook.Server, timeout time.Duration) *http.Client {
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(s.CABundle()))
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

func review(t *testing.T) []byte {
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &admissionv1.AdmissionRequest{UID: types.UID("u-1"), Operation: admissionv1.Create, Namespace: "kube-system", Name: "cm"},
	})
	require.NoError(t, err)
	return b
}

func TestModes(t *testing.T) {
	s, err := webhook.Start()
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close(context.Background())) })
	assert.Contains(t, s.URL("/validate"), "https://127.0.0.1:")

	for _, tc := range []struct {
		mode    webhook.Mode
		status  int
		allowed bool
	}{
		{webhook.Allow, http.StatusOK, true},
		{webhook.Deny, http.StatusOK, false},
		{webhook.Fail, http.StatusInternalServerError, false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			s.SetMode(tc.mode)
			resp, err := client(t, s, 5*time.Second).Post(s.URL("/validate"), "application/json", bytes.NewReader(review(t)))
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status != http.StatusOK {
				return
			}
			var out admissionv1.AdmissionReview
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			require.NotNil(t, out.Response)
			assert.Equal(t, types.UID("u-1"), out.Response.UID, "the response carries the request's UID")
			assert.Equal(t, tc.allowed, out.Response.Allowed)
		})
	}

	t.Run("hang holds the request until the caller gives up", func(t *testing.T) {
		s.SetMode(webhook.Hang)
		start := time.Now()
		_, err := client(t, s, 300*time.Millisecond).Post(s.URL("/validate"), "application/json", bytes.NewReader(review(t)))
		require.Error(t, err)
		assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	})
	assert.GreaterOrEqual(t, s.Calls(), int64(4))
	seen := s.Seen()
	require.Len(t, seen, int(s.Calls()), "every request is kept")
	assert.Equal(t, []string{"allow", "deny", "fail", "hang"}, []string{seen[0].Mode, seen[1].Mode, seen[2].Mode, seen[3].Mode}, "each with how it was answered")
	assert.Equal(t, webhook.Request{At: seen[0].At, Mode: "allow", Operation: "CREATE", Namespace: "kube-system", Name: "cm"}, seen[0])
}

func TestCloseReleasesHeldRequests(t *testing.T) {
	s, err := webhook.Start(webhook.WithMode(webhook.Hang))
	require.NoError(t, err)
	got := make(chan int, 1)
	go func() {
		resp, err := client(t, s, time.Minute).Post(s.URL("/validate"), "application/json", bytes.NewReader(review(t)))
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return s.Calls() == 1 }, 5*time.Second, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Close(ctx))
	select {
	case code := <-got:
		assert.Equal(t, http.StatusServiceUnavailable, code)
	case <-time.After(5 * time.Second):
		t.Fatal("the held request was not released by Close")
	}
	_, err = client(t, s, time.Second).Post(s.URL("/validate"), "application/json", bytes.NewReader(review(t)))
	assert.Error(t, err, "the listener is closed")
}

func TestParseMode(t *testing.T) {
	for _, m := range []webhook.Mode{webhook.Allow, webhook.Hang, webhook.Fail, webhook.Deny} {
		got, err := webhook.ParseMode(m.String())
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	_, err := webhook.ParseMode("explode")
	assert.ErrorContains(t, err, "expected allow, hang, fail or deny")
}
