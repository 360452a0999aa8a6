package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/backend"
)

const keysUsage = `Usage:
  rampart keys create -c FILE --consumer NAME [--scopes a,b] [--roles r1,r2] [--expires 90d] [--label k=v]... [--json]
  rampart keys list   -c FILE [--consumer NAME] [--json]
  rampart keys rotate -c FILE ID [--grace 24h] [--json]
  rampart keys revoke -c FILE ID [--json]

The key store is the one the config file names (store:). A new key is printed
once, by create and rotate; it is stored only as a hash and cannot be shown
again. list never shows secrets.
`

// keys manages API keys in the store named by the config file.
func keys(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "create":
		return keysCreate(ctx, rest, env, stdout, stderr)
	case "list", "ls":
		return keysList(ctx, rest, env, stdout, stderr)
	case "rotate":
		return keysRotate(ctx, rest, env, stdout, stderr)
	case "revoke":
		return keysRevoke(ctx, rest, env, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, keysUsage)
		return 0
	}
	fmt.Fprintf(stderr, "rampart keys: unknown subcommand %q\n\n%s", sub, keysUsage)
	return 2
}

// keysFlags are the flags every keys subcommand shares.
type keysFlags struct {
	fs     *flag.FlagSet
	config *string
	json   *bool
}

func newKeysFlags(name string, stderr io.Writer) keysFlags {
	fs := newFlags("keys "+name, stderr)
	return keysFlags{fs: fs, config: fs.String("c", "rampart.yaml", "config file naming the key store"),
		json: fs.Bool("json", false, "print JSON")}
}

// parse parses flags and positional arguments in any order ("rotate ID
// --grace 24h" as well as "rotate --grace 24h ID") and checks the number of
// positional arguments.
func (k keysFlags) parse(args []string, positional int, stderr io.Writer) ([]string, bool) {
	var pos []string
	for {
		if err := k.fs.Parse(args); err != nil {
			return nil, false
		}
		args = k.fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		if positional == 0 {
			fmt.Fprintf(stderr, "rampart %s: unexpected argument %q\n", k.fs.Name(), pos[0])
		} else {
			fmt.Fprintf(stderr, "rampart %s: give exactly one key id\n", k.fs.Name())
		}
		return nil, false
	}
	return pos, true
}

// open opens the key store the config names.
func (k keysFlags) open(ctx context.Context, env Env, stderr io.Writer) (store.Store, bool) {
	cfg, err := config.Load(*k.config, env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	s, err := backend.Open(ctx, cfg.Store, store.Options{Logger: discardLogger()})
	if err != nil {
		fmt.Fprintf(stderr, "rampart keys: opening the key store: %v\n", err)
		return nil, false
	}
	return s, true
}

// listFlag collects a comma-separated list (repeatable).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// labelFlag collects k=v labels (repeatable).
type labelFlag map[string]string

func (l labelFlag) String() string { return strings.Join(store.SortedLabels(l), ",") }

func (l labelFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want key=value")
	}
	if _, dup := l[k]; dup {
		return fmt.Errorf("label %q given twice", k)
	}
	l[k] = val
	return nil
}

// newKeyJSON is what create and rotate print with --json.
type newKeyJSON struct {
	ID        string     `json:"id"`
	Key       string     `json:"key"`
	Consumer  string     `json:"consumer"`
	Scopes    []string   `json:"scopes"`
	Roles     []string   `json:"roles"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func newKey(k *store.Key, full string) newKeyJSON {
	out := newKeyJSON{ID: k.ID, Key: full, Consumer: k.Consumer, Scopes: k.Scopes, Roles: k.Roles}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt
		out.ExpiresAt = &t
	}
	return out
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func keysCreate(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	f := newKeysFlags("create", stderr)
	consumer := f.fs.String("consumer", "", "who the key belongs to (required)")
	var scopes, roles listFlag
	labels := labelFlag{}
	f.fs.Var(&scopes, "scopes", "comma-separated scopes the key grants")
	f.fs.Var(&roles, "roles", "comma-separated roles the key grants")
	f.fs.Var(labels, "label", "free-form label key=value (repeatable)")
	expires := f.fs.String("expires", "", "lifetime, e.g. 90d or 720h (default: never expires)")
	if _, ok := f.parse(args, 0, stderr); !ok {
		return 2
	}
	if *consumer == "" {
		fmt.Fprintln(stderr, "rampart keys create: --consumer is required")
		return 2
	}
	spec := store.KeySpec{Consumer: *consumer, Scopes: scopes, Roles: roles, Labels: labels}
	if *expires != "" {
		d, err := store.ParseDuration(*expires, false)
		if err != nil {
			fmt.Fprintf(stderr, "rampart keys create: --expires: %v\n", err)
			return 2
		}
		spec.ExpiresAt = time.Now().Add(d)
	}
	s, ok := f.open(ctx, env, stderr)
	if !ok {
		return 1
	}
	defer s.Close()
	k, full, err := s.CreateKey(ctx, spec)
	if err != nil {
		fmt.Fprintf(stderr, "rampart keys create: %v\n", err)
		if errors.Is(err, store.ErrInvalid) {
			return 2
		}
		return 1
	}
	if *f.json {
		printJSON(stdout, newKey(k, full))
		return 0
	}
	fmt.Fprintln(stdout, full)
	fmt.Fprintf(stderr, "Created key %s for consumer %s%s.\n", k.ID, k.Consumer, expiry(k))
	fmt.Fprintln(stderr, "This is the only time the key is shown: it is stored as a hash and cannot be recovered.")
	return 0
}

func expiry(k *store.Key) string {
	if k.ExpiresAt.IsZero() {
		return ", not expiring"
	}
	return ", expiring " + k.ExpiresAt.Format(time.RFC3339)
}

func keysList(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	f := newKeysFlags("list", stderr)
	consumer := f.fs.String("consumer", "", "only this consumer's keys")
	if _, ok := f.parse(args, 0, stderr); !ok {
		return 2
	}
	s, ok := f.open(ctx, env, stderr)
	if !ok {
		return 1
	}
	defer s.Close()
	ks, err := s.ListKeys(ctx, store.ListOptions{Consumer: *consumer})
	if err != nil {
		fmt.Fprintf(stderr, "rampart keys list: %v\n", err)
		return 1
	}
	now := time.Now()
	if *f.json {
		out := make([]store.KeyJSON, len(ks))
		for i, k := range ks {
			out[i] = k.JSON(now)
		}
		printJSON(stdout, out)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCONSUMER\tSTATUS\tSCOPES\tROLES\tCREATED\tEXPIRES\tLAST USED\tLABELS")
	for _, k := range ks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Consumer, k.Status(now), dash(strings.Join(k.Scopes, ",")),
			dash(strings.Join(k.Roles, ",")), day(k.CreatedAt), day(k.ExpiresAt), day(k.LastUsedAt),
			dash(strings.Join(store.SortedLabels(k.Labels), ",")))
	}
	_ = tw.Flush()
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func keysRotate(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	f := newKeysFlags("rotate", stderr)
	graceFlag := f.fs.String("grace", "24h", "how long the old key keeps working, e.g. 24h, 7d or 0")
	pos, ok := f.parse(args, 1, stderr)
	if !ok {
		return 2
	}
	grace, err := store.ParseDuration(*graceFlag, true)
	if err != nil {
		fmt.Fprintf(stderr, "rampart keys rotate: --grace: %v\n", err)
		return 2
	}
	s, ok := f.open(ctx, env, stderr)
	if !ok {
		return 1
	}
	defer s.Close()
	old, next, full, err := s.RotateKey(ctx, pos[0], grace)
	if err != nil {
		fmt.Fprintf(stderr, "rampart keys rotate: %v\n", err)
		return 1
	}
	if *f.json {
		printJSON(stdout, struct {
			newKeyJSON
			Previous store.KeyJSON `json:"previous"`
		}{newKey(next, full), old.JSON(time.Now())})
		return 0
	}
	fmt.Fprintln(stdout, full)
	fmt.Fprintf(stderr, "Created key %s for consumer %s%s, replacing %s, which stops working at %s.\n",
		next.ID, next.Consumer, expiry(next), old.ID, old.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintln(stderr, "This is the only time the new key is shown: it is stored as a hash and cannot be recovered.")
	return 0
}

func keysRevoke(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	f := newKeysFlags("revoke", stderr)
	pos, ok := f.parse(args, 1, stderr)
	if !ok {
		return 2
	}
	s, ok := f.open(ctx, env, stderr)
	if !ok {
		return 1
	}
	defer s.Close()
	k, err := s.RevokeKey(ctx, pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "rampart keys revoke: %v\n", err)
		return 1
	}
	if *f.json {
		printJSON(stdout, k.JSON(time.Now()))
		return 0
	}
	fmt.Fprintf(stdout, "Revoked key %s of consumer %s at %s.\n", k.ID, k.Consumer, k.RevokedAt.Format(time.RFC3339))
	return 0
}
