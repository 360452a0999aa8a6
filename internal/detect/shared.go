package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Sharing blocks through Redis. Every block is a key PREFIX+id holding the
// block as JSON, expiring with it; every change is also published on
// PREFIX+"changes", so replicas apply it within milliseconds. Because a
// replica can miss a message (it was restarting, or Redis was away), each
// replica also re-reads all blocks at start and every resync interval and
// makes its table equal to Redis (plus what it could not write yet).
//
// While Redis is unreachable, every replica keeps enforcing the blocks it
// has, adds and removes locally, and retries its writes at each resync
// until Redis takes them; Status reports "down" meanwhile.
type shared struct {
	t       *Table
	client  goredis.UniversalClient
	prefix  string
	timeout time.Duration
	every   time.Duration
	logger  *slog.Logger
	stop    context.CancelFunc
	done    sync.WaitGroup

	mu         sync.Mutex
	pendingAdd map[string]Block     // written locally, not yet to Redis
	pendingDel map[string]bool      // removed locally, not yet from Redis
	touched    map[string]time.Time // when each id last changed here (resync must not undo newer changes)
	err        error                // last Redis failure; nil when up
}

// SharedOptions tune OpenShared.
type SharedOptions struct {
	// Prefix of keys and channel ("" = "rampart:blocks:").
	Prefix string
	// Timeout bounds each Redis call (0 = 250ms).
	Timeout time.Duration
	// Resync is how often the table is re-read from Redis (0 = 5s).
	Resync time.Duration
	Logger *slog.Logger
}

// OpenShared returns a table shared through the Redis at url: redis://,
// rediss://, or a Redis Cluster (redis+cluster://, rediss+cluster://:
// the host and addr= parameters are seed nodes).
func OpenShared(url string, o SharedOptions) (*Table, error) {
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if cu, ok := strings.CutPrefix(url, "redis+cluster://"); ok || strings.HasPrefix(url, "rediss+cluster://") {
		if !ok {
			cu = "rediss://" + strings.TrimPrefix(url, "rediss+cluster://")
		} else {
			cu = "redis://" + cu
		}
		opt, err := goredis.ParseClusterURL(cu)
		if err != nil {
			return nil, fmt.Errorf("blocks: shared_state: %w", err)
		}
		opt.MaxRetries = -1
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = o.Timeout, o.Timeout, o.Timeout, o.Timeout
		return NewShared(goredis.NewClusterClient(opt), o), nil
	}
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("blocks: shared_state: %w", err)
	}
	opt.MaxRetries = -1
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = o.Timeout, o.Timeout, o.Timeout, o.Timeout
	return NewShared(goredis.NewClient(opt), o), nil
}

// NewShared returns a table shared through client (a *goredis.Client or,
// for a Redis Cluster, a *goredis.ClusterClient), which it closes on
// Close.
func NewShared(client goredis.UniversalClient, o SharedOptions) *Table {
	if o.Prefix == "" {
		o.Prefix = "rampart:blocks:"
	}
	if _, ok := client.(*goredis.ClusterClient); ok && !strings.Contains(o.Prefix, "{") {
		// A hash tag puts every block key in one slot, so one node holds
		// them: MGET and the write transaction stay single-slot, and the
		// resync scans that node alone.
		o.Prefix = "{" + strings.TrimSuffix(o.Prefix, ":") + "}:"
	}
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if o.Resync <= 0 {
		o.Resync = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	t := NewTable()
	ctx, cancel := context.WithCancel(context.Background())
	sh := &shared{t: t, client: client, prefix: o.Prefix, timeout: o.Timeout, every: o.Resync, logger: o.Logger, stop: cancel,
		pendingAdd: map[string]Block{}, pendingDel: map[string]bool{}, touched: map[string]time.Time{}}
	t.shared = sh
	// Subscribed first (confirmed, when Redis answers), then read: a change
	// made in between is not missed.
	ps := client.Subscribe(ctx, sh.prefix+"changes")
	wait, cancelWait := context.WithTimeout(ctx, 4*o.Timeout)
	_, _ = ps.Receive(wait)
	cancelWait()
	sh.resync(ctx) // at start: a restarted replica enforces what the others do
	sh.done.Add(2)
	go sh.subscribe(ctx, ps)
	go sh.loop(ctx)
	return t
}

// message is what is published on each change.
type message struct {
	Op    string `json:"op"` // "add" or "remove"
	ID    string `json:"id"`
	Block *Block `json:"block,omitempty"`
}

func (s *shared) add(b Block) {
	s.mu.Lock()
	s.touched[b.ID()] = time.Now()
	delete(s.pendingDel, b.ID())
	s.pendingAdd[b.ID()] = b
	down := s.err != nil
	s.mu.Unlock()
	if !down { // while Redis is down the resync loop retries: a detection must not wait on it
		s.flush(context.Background())
	}
}

func (s *shared) remove(id string) {
	s.mu.Lock()
	s.touched[id] = time.Now()
	delete(s.pendingAdd, id)
	s.pendingDel[id] = true
	down := s.err != nil
	s.mu.Unlock()
	if !down {
		s.flush(context.Background())
	}
}

// flush writes the pending changes; those that fail stay pending.
func (s *shared) flush(ctx context.Context) {
	s.mu.Lock()
	adds := make([]Block, 0, len(s.pendingAdd))
	for _, b := range s.pendingAdd {
		adds = append(adds, b)
	}
	dels := make([]string, 0, len(s.pendingDel))
	for id := range s.pendingDel {
		dels = append(dels, id)
	}
	s.mu.Unlock()
	var failed error
	for _, b := range adds {
		if err := s.write(ctx, b); err != nil {
			failed = err
			break
		}
		s.mu.Lock()
		if cur, ok := s.pendingAdd[b.ID()]; ok && cur == b {
			delete(s.pendingAdd, b.ID())
		}
		s.mu.Unlock()
	}
	for _, id := range dels {
		if failed != nil {
			break
		}
		if err := s.erase(ctx, id); err != nil {
			failed = err
			break
		}
		s.mu.Lock()
		delete(s.pendingDel, id)
		s.mu.Unlock()
	}
	s.setErr(failed)
}

func (s *shared) write(ctx context.Context, b Block) error {
	ttl := time.Until(b.Expires)
	if ttl <= 0 {
		return nil
	}
	v, _ := json.Marshal(b)
	m, _ := json.Marshal(message{Op: "add", ID: b.ID(), Block: &b})
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, s.prefix+"b:"+b.ID(), v, ttl)
		p.Publish(ctx, s.prefix+"changes", m)
		return nil
	})
	return err
}

func (s *shared) erase(ctx context.Context, id string) error {
	m, _ := json.Marshal(message{Op: "remove", ID: id})
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, s.prefix+"b:"+id)
		p.Publish(ctx, s.prefix+"changes", m)
		return nil
	})
	return err
}

func (s *shared) setErr(err error) {
	s.mu.Lock()
	was := s.err
	s.err = err
	s.mu.Unlock()
	switch {
	case err != nil && was == nil:
		s.logger.Warn("blocks: shared state unreachable; enforcing local blocks and retrying writes", "error", err.Error())
	case err == nil && was != nil:
		s.logger.Info("blocks: shared state reachable again")
	}
}

func (s *shared) status() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "down", s.err
	}
	return "up", nil
}

// subscribe applies other replicas' changes as they are published.
// go-redis re-subscribes by itself after a lost connection; what was
// missed meanwhile, the next resync brings.
func (s *shared) subscribe(ctx context.Context, ps *goredis.PubSub) {
	defer s.done.Done()
	defer ps.Close()
	ch := ps.Channel(goredis.WithChannelHealthCheckInterval(time.Second))
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			var m message
			if json.Unmarshal([]byte(msg.Payload), &m) != nil {
				continue
			}
			s.mu.Lock()
			s.touched[m.ID] = time.Now() // a resync under way must not undo it
			s.mu.Unlock()
			switch {
			case m.Op == "add" && m.Block != nil && m.Block.ID() == m.ID:
				if _, _, err := ParseSubjectKind(m.Block.Kind, m.Block.Subject); err == nil {
					s.t.apply(*m.Block)
				}
			case m.Op == "remove":
				s.t.unapply(m.ID)
			}
		}
	}
}

func (s *shared) loop(ctx context.Context) {
	defer s.done.Done()
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.flush(ctx)
			s.resync(ctx)
		}
	}
}

// maxSharedBlocks bounds what a resync reads.
const maxSharedBlocks = 100000

// resync makes the local table equal to Redis, except for changes made
// here since the resync started or not yet written.
func (s *shared) resync(ctx context.Context) {
	started := time.Now()
	blocks, err := s.readAll(ctx)
	if err != nil {
		s.setErr(err)
		return
	}
	s.setErr(nil)
	s.mu.Lock()
	for id, at := range s.touched {
		if started.Sub(at) > time.Minute {
			delete(s.touched, id)
		}
	}
	keep := func(id string) bool { // a local change newer than this read, or not yet written
		at, ok := s.touched[id]
		return ok && !at.Before(started) || s.pendingAdd[id].Subject != "" || s.pendingDel[id]
	}
	t := s.t
	t.mu.Lock()
	for id := range t.blocks {
		if _, ok := blocks[id]; !ok && !keep(id) {
			delete(t.blocks, id)
		}
	}
	for id, b := range blocks {
		if !keep(id) {
			t.blocks[id] = b
		}
	}
	t.rebuild()
	t.mu.Unlock()
	s.mu.Unlock()
}

func (s *shared) readAll(ctx context.Context) (map[string]Block, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	out := map[string]Block{}
	var cursor uint64
	keyPrefix := s.prefix + "b:"
	var node goredis.Cmdable = s.client
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		// SCAN walks one node's keys: ask the node serving the hash
		// tag's slot, where every block key is.
		master, err := cc.MasterForKey(ctx, keyPrefix)
		if err != nil {
			return nil, err
		}
		node = master
	}
	for {
		keys, next, err := node.Scan(ctx, cursor, escapeGlob(keyPrefix)+"*", 500).Result()
		if err != nil {
			return nil, err
		}
		if len(keys) > 0 {
			vals, err := node.MGet(ctx, keys...).Result()
			if err != nil {
				return nil, err
			}
			for i, v := range vals {
				str, ok := v.(string)
				var b Block
				if !ok || json.Unmarshal([]byte(str), &b) != nil || b.ID() != strings.TrimPrefix(keys[i], keyPrefix) {
					continue
				}
				if _, _, err := ParseSubjectKind(b.Kind, b.Subject); err == nil && len(out) < maxSharedBlocks {
					out[b.ID()] = b
				}
			}
		}
		if cursor = next; cursor == 0 {
			return out, nil
		}
	}
}

func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

func (s *shared) close() error {
	s.stop()
	s.done.Wait()
	return s.client.Close()
}
