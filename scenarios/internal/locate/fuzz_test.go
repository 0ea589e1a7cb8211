package locate

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// FuzzStrict checks that no input makes the decoder panic, and that every problem comes back
// as a one-line *Error. `go test` runs the seed corpus; fuzz with
// go test -run='^$' -fuzz=FuzzStrict -fuzztime=20s ./scenarios/internal/locate/
func FuzzStrict(f *testing.F) {
	for _, seed := range []string{
		deploymentYAML,
		cronJobYAML,
		podYAML,
		scenarioYAML,
		"",
		"a: b: c\n",
		"spec:\n  replicas: 1\n selector: {}\n",
		"a: &x [1, *x]\n",
		"a: &x {b: 1, <<: *x}\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
		"spec: !!binary aGVsbG8=\nkind: !!int 3\n",
		"? [a, b]\n: c\n",
		"metadata: {labels: {on: yes, 1.10: ~}}\n",
		"---\nkind: Pod\n---\nkind: Service\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if s := e.Error(); strings.ContainsAny(s, "\n\r") || strings.Contains(s, "internal error") {
				t.Fatalf("bad error %q", s)
			}
		}
		var d appsv1.Deployment
		check(Strict("fuzz.yaml", data, &d))
		var s scenario
		check(Strict("fuzz.yaml", data, &s))
		var v any
		check(Strict("fuzz.yaml", data, &v))

		n, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, p := range []string{"", "spec", "spec.template.spec.containers[0]", "metadata.labels", "a[1]"} {
			n.Lookup(p)
			_ = n.Errorf(p, "x")
		}
	})
}
