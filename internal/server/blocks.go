package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
	"github.com/rampart-gw/rampart/internal/dashboard"
	"github.com/rampart-gw/rampart/internal/detect"
)

// dashboardBlocks shows the detect-and-respond block table on the
// dashboard's offenders page: the same table the admin API and the
// detectors change, so a block from the page is enforced by every replica.
type dashboardBlocks struct {
	table   *detect.Table
	replica func() string
}

var _ dashboard.Blocks = dashboardBlocks{}

func (d dashboardBlocks) List(context.Context) ([]dashboard.Block, error) {
	var out []dashboard.Block
	for _, b := range d.table.List() {
		out = append(out, dashboard.Block{Subject: b.ID(), Until: b.Expires, Reason: b.Reason, Source: b.Detector})
	}
	return out, nil
}

func (d dashboardBlocks) Add(_ context.Context, subject string, dur time.Duration, reason string) error {
	kind, canonical, err := detect.ParseSubject(subject)
	if err != nil {
		return err
	}
	now := time.Now()
	return d.table.Add(detect.Block{Kind: kind, Subject: canonical, Detector: detect.Operator, Reason: reason,
		Created: now, Expires: now.Add(dur), Source: "dashboard@" + d.replica()})
}

func (d dashboardBlocks) Remove(_ context.Context, subject string) error {
	found, err := d.table.Remove(subject)
	if err == nil && !found {
		err = fmt.Errorf("no block on %q (it may have expired)", subject)
	}
	return err
}

// recentDetections keeps the last detections for the dashboard (an
// alert.Notifier beside the alert sinks): bounded, newest last.
type recentDetections struct {
	mu   sync.Mutex
	ring [100]dashboard.Detection
	n    int // detections ever seen
}

func (r *recentDetections) Notify(a alert.Alert) {
	r.mu.Lock()
	r.ring[r.n%len(r.ring)] = dashboard.Detection{Time: a.Time, Detector: a.Detector, Subject: a.Subject, Detail: a.Summary}
	r.n++
	r.mu.Unlock()
}

// Recent returns up to n detections, newest first.
func (r *recentDetections) Recent(_ context.Context, n int) ([]dashboard.Detection, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n = min(n, r.n, len(r.ring))
	out := make([]dashboard.Detection, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.ring[(r.n-i)%len(r.ring)])
	}
	return out, nil
}

var _ alert.Notifier = (*recentDetections)(nil)
