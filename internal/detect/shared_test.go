package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

func openTables(t *testing.T, url, prefix string, resync time.Duration, n int) []*Table {
	t.Helper()
	var ts []*Table
	for range n {
		tb, err := OpenShared(url, SharedOptions{Prefix: prefix, Resync: resync})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tb.Close() })
		ts = append(ts, tb)
	}
	return ts
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func blockOn(subject string, d time.Duration) Block {
	now := time.Now()
	return Block{Kind: KindClient, Subject: subject, Detector: DetScanning, Created: now, Expires: now.Add(d), Source: "a"}
}

// A block added on A is enforced by B and C within a second; removing it
// on C lifts it everywhere; it expires by itself.
func TestSharedTablePropagates(t *testing.T) {
	r := redistest.Shared(t)
	ts := openTables(t, r.URL, r.Prefix, time.Minute, 3) // resync far away: pub/sub alone must do it
	a, b, c := ts[0], ts[1], ts[2]
	ip := netip.MustParseAddr("203.0.113.5")
	if err := a.Add(blockOn("203.0.113.5", time.Hour)); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, time.Second, "B and C enforce A's block", func() bool {
		_, okB := b.Client(ip, time.Now())
		_, okC := c.Client(ip, time.Now())
		return okB && okC
	})
	t.Logf("propagated in %v", took)
	if found, err := c.Remove("203.0.113.5"); err != nil || !found {
		t.Fatalf("remove: %v %v", found, err)
	}
	eventually(t, time.Second, "the removal reaches A and B", func() bool {
		_, okA := a.Client(ip, time.Now())
		_, okB := b.Client(ip, time.Now())
		return !okA && !okB
	})
	// Expiry: a short block ends on every replica without anyone removing it.
	if err := b.Add(blockOn("198.51.100.0/24", 300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	in := netip.MustParseAddr("198.51.100.77")
	eventually(t, time.Second, "C enforces the prefix block", func() bool { _, ok := c.Client(in, time.Now()); return ok })
	eventually(t, 2*time.Second, "the block expires", func() bool { _, ok := c.Client(in, time.Now()); return !ok })
	if len(c.List()) != 0 {
		t.Errorf("expired blocks listed: %+v", c.List())
	}
}

// A replica that starts (or restarts) later gets the blocks in force from
// its first resync.
func TestSharedTableResyncAtStart(t *testing.T) {
	r := redistest.Shared(t)
	a := openTables(t, r.URL, r.Prefix, time.Minute, 1)[0]
	if err := a.Add(Block{Kind: KindPrincipal, Subject: "jwt:alice", Detector: Operator, Created: time.Now(), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	late := openTables(t, r.URL, r.Prefix, time.Minute, 1)[0]
	if _, ok := late.Principal("jwt", "alice", time.Now()); !ok {
		t.Fatal("a replica started after the block does not enforce it")
	}
}

// Redis hung: every replica keeps enforcing what it has, a block added
// meanwhile holds locally and reaches the others once Redis is back.
func TestSharedTableRedisPaused(t *testing.T) {
	p := redistest.Start(t)
	ts := openTables(t, p.URL, "", 200*time.Millisecond, 2)
	a, b := ts[0], ts[1]
	old := netip.MustParseAddr("203.0.113.1")
	if err := a.Add(blockOn("203.0.113.1", time.Hour)); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "B has the first block", func() bool { _, ok := b.Client(old, time.Now()); return ok })

	p.Pause(t)
	fresh := netip.MustParseAddr("203.0.113.2")
	if err := a.Add(blockOn("203.0.113.2", time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Client(fresh, time.Now()); !ok {
		t.Fatal("a block added while Redis is down is not enforced locally")
	}
	eventually(t, 3*time.Second, "A reports Redis down", func() bool { st, _ := a.Status(); return st == "down" })
	if _, ok := b.Client(old, time.Now()); !ok {
		t.Fatal("B dropped its blocks while Redis is down")
	}
	p.Resume(t)
	eventually(t, 5*time.Second, "B converges once Redis is back", func() bool { _, ok := b.Client(fresh, time.Now()); return ok })
	eventually(t, 3*time.Second, "A reports Redis up", func() bool { st, _ := a.Status(); return st == "up" })
}

// On a Redis Cluster (three real masters) the blocks are shared the same
// way: pub/sub across nodes, and a replica that starts later reads them
// from the node serving their hash tag.
func TestSharedTableOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	ts := openTables(t, cl.URL, "", time.Minute, 2)
	ip := netip.MustParseAddr("203.0.113.9")
	if err := ts[0].Add(blockOn("203.0.113.9", time.Hour)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "B enforces A's block through the cluster", func() bool { _, ok := ts[1].Client(ip, time.Now()); return ok })
	if st, err := ts[1].Status(); st != "up" || err != nil {
		t.Fatalf("status %s %v", st, err)
	}
	// Started later: its first resync must find the block.
	for i := 0; i < 3; i++ {
		late := openTables(t, cl.URL, "", time.Minute, 1)[0]
		if _, ok := late.Client(ip, time.Now()); !ok {
			t.Fatalf("a replica started later does not enforce the block (attempt %d)", i+1)
		}
	}
	if found, err := ts[1].Remove("203.0.113.9"); err != nil || !found {
		t.Fatalf("remove: %v %v", found, err)
	}
	eventually(t, 2*time.Second, "the removal reaches A", func() bool { _, ok := ts[0].Client(ip, time.Now()); return !ok })
}
