package sim

// v2 of the CronJob controller (pkg/controller/cronjob/cronjob_controllerv2.go): informers and
// a work queue; the model is described in cronjob_controller.go.

import "time"

// cronJobControllerV2 is v2's work queue and its workers.
type cronJobControllerV2 struct {
	cronSyncer
	queue []int // the work queue (FIFO of CronJob indices)
	idle  int   // idle workers
}

func newCronJobControllerV2(c *cronWorld) *cronJobControllerV2 {
	return &cronJobControllerV2{cronSyncer: newCronSyncer(c, true), idle: c.m.CronJob.Workers}
}

func (v *cronJobControllerV2) start() {
	v.hid = v.q.Register(v)
	// the informer's initial list adds every CronJob to the queue
	for i := range v.c.cjs {
		v.q.AtID(0, v.hid, pack(cronEvEnqueue, i))
	}
}

// Fire runs v2's events.
func (v *cronJobControllerV2) Fire(now time.Duration, arg uint32) {
	switch kind, i := unpack(arg); kind {
	case cronEvEnqueue:
		v.enqueue(v.c.cjs[i], now)
	case cronEvWorker:
		v.idle++
		v.dispatch(now)
	}
}

func (v *cronJobControllerV2) enqueue(cj *cronJob, now time.Duration) {
	if v.c.cmDown || cj.queued {
		return
	}
	cj.queued = true
	v.queue = append(v.queue, cj.idx)
	v.dispatch(now)
}

// jobFinished: the Job informer's update requeues the CronJob.
func (v *cronJobControllerV2) jobFinished(cj *cronJob, now time.Duration) { v.enqueue(cj, now) }

// dispatch hands queued CronJobs to idle workers.
func (v *cronJobControllerV2) dispatch(now time.Duration) {
	c := v.c
	for v.idle > 0 && len(v.queue) > 0 && !c.cmDown {
		cj := c.cjs[v.queue[0]]
		v.queue = v.queue[1:]
		cj.queued = false
		v.idle--
		end := v.sync(cj, now, false)
		v.q.Cancel(cj.timer)
		if next := cj.sched.Next(v.wall(now).In(cj.loc)); !next.IsZero() {
			at := next.Sub(v.in.Start) + v.m.CronJob.RequeueDelay.Duration
			if at <= v.in.Duration {
				cj.timer = v.q.AtID(at, v.hid, pack(cronEvEnqueue, cj.idx))
			}
		}
		v.q.AtID(end, v.hid, pack(cronEvWorker, 0))
	}
}

// up: syncs in flight when the controller-manager went down complete (their worker events
// return the workers); the informers' relist adds every CronJob again.
func (v *cronJobControllerV2) up(now time.Duration) {
	v.queue = v.queue[:0]
	for _, cj := range v.c.cjs {
		cj.queued = false
		v.enqueue(cj, now)
	}
}
