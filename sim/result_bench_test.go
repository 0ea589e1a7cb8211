package sim

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
)

// BenchmarkCronRun is one one-hour run of 40 CronJobs firing every minute (2 400 runs): the
// per-run work of the cron models and the indicators computed from their runs at the end.
func BenchmarkCronRun(b *testing.B) {
	var objs []runtime.Object
	for i := range 40 {
		objs = append(objs, cronJobObj(fmt.Sprintf("cj-%d", i), "* * * * *"))
	}
	in := cronInput("v2", time.Hour, objs...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(in, 1, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
