package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/detect"
)

const blocksUsage = `Usage:
  rampart blocks list   [-c FILE | --admin URL] [--json]
  rampart blocks add    [-c FILE | --admin URL] SUBJECT --for 1h [--reason TEXT] [--json]
  rampart blocks remove [-c FILE | --admin URL] SUBJECT

SUBJECT is an address (203.0.113.7), a CIDR prefix (198.51.100.0/24) or
principal:AUTHENTICATOR:SUBJECT. Blocks are enforced by every replica that
shares the gateway's shared_state. The command talks to the admin API: its
address is admin.listen of the config file (or --admin), its token admin.token
(or RAMPART_ADMIN_TOKEN).
`

// blocks manages blocks through a running gateway's admin API.
func blocks(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, blocksUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("blocks "+sub, stderr)
	cfgPath := fs.String("c", "rampart.yaml", "config file naming the admin listener and token")
	adminURL := fs.String("admin", "", "admin API base URL (default: from the config's admin.listen)")
	asJSON := fs.Bool("json", false, "print JSON")
	var dur time.Duration
	var reason string
	switch sub {
	case "add":
		fs.DurationVar(&dur, "for", 0, "how long the block lasts (required), e.g. 30m")
		fs.StringVar(&reason, "reason", "", "why (audited; shown by list)")
	case "list", "ls", "remove", "rm":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, blocksUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "rampart blocks: unknown subcommand %q\n\n%s", sub, blocksUsage)
		return 2
	}
	pos, ok := parseInterleaved(fs, rest)
	want := 1
	if sub == "list" || sub == "ls" {
		want = 0
	}
	if !ok || len(pos) != want {
		if ok {
			fmt.Fprintf(stderr, "rampart blocks %s: want %d subject argument(s)\n\n%s", sub, want, blocksUsage)
		}
		return 2
	}
	c, err := newAdminClient(*cfgPath, *adminURL, env)
	if err != nil {
		fmt.Fprintf(stderr, "rampart blocks: %v\n", err)
		return 1
	}
	// call sends one request and prints its answer: the JSON as received
	// with --json, else what text writes.
	call := func(method, path string, body []byte, out any, text func()) int {
		raw, err := c.do(ctx, method, path, body, out)
		if err != nil {
			fmt.Fprintf(stderr, "rampart blocks: %v\n", err)
			return 1
		}
		if *asJSON && out != nil {
			_, _ = stdout.Write(raw)
			return 0
		}
		text()
		return 0
	}
	switch sub {
	case "list", "ls":
		var out struct {
			Blocks []blockRow `json:"blocks"`
		}
		return call("GET", "/admin/v1/blocks", nil, &out, func() {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBJECT\tDETECTOR\tREASON\tCREATED\tEXPIRES\tSOURCE")
			for _, b := range out.Blocks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Detector, dash(b.Reason), b.Created.UTC().Format(time.RFC3339),
					b.Expires.UTC().Format(time.RFC3339), b.Source)
			}
			_ = tw.Flush()
		})
	case "add":
		if dur <= 0 {
			fmt.Fprintln(stderr, "rampart blocks add: --for is required (e.g. --for 1h)")
			return 2
		}
		body, _ := json.Marshal(map[string]string{"subject": pos[0], "duration": dur.String(), "reason": reason})
		var b blockRow
		return call("POST", "/admin/v1/blocks", body, &b, func() {
			fmt.Fprintf(stdout, "blocked %s until %s\n", b.ID, b.Expires.UTC().Format(time.RFC3339))
		})
	default: // remove
		return call("DELETE", "/admin/v1/blocks/"+url.PathEscape(pos[0]), nil, nil, func() {
			fmt.Fprintf(stdout, "removed the block on %s\n", pos[0])
		})
	}
}

// blockRow is one block as the admin API lists it.
type blockRow struct {
	ID string `json:"id"`
	detect.Block
}

// parseInterleaved parses flags and positional arguments in any order.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		if args = fs.Args(); len(args) == 0 {
			return pos, true
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// adminClient calls a gateway's admin API.
type adminClient struct {
	base, token string
	http        *http.Client
}

// newAdminClient finds the admin API: --admin, or the config's
// admin.listen; the token from RAMPART_ADMIN_TOKEN, or the config's
// admin.token.
func newAdminClient(cfgPath, base string, env Env) (*adminClient, error) {
	token, _ := env("RAMPART_ADMIN_TOKEN")
	if base == "" || token == "" {
		cfg, err := config.Load(cfgPath, env)
		if err != nil {
			return nil, err
		}
		if base == "" {
			if cfg.Admin.Listen == "" || cfg.Admin.Listen == "off" {
				return nil, fmt.Errorf("%s has no admin listener (admin.listen); give --admin URL", cfgPath)
			}
			base = "http://" + loopbackFor(cfg.Admin.Listen)
		}
		if token == "" {
			token = cfg.Admin.Token
		}
	}
	if token == "" {
		return nil, fmt.Errorf("no admin token: set RAMPART_ADMIN_TOKEN or admin.token")
	}
	return &adminClient{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 10 * time.Second}}, nil
}

// loopbackFor turns a wildcard listen address into one to dial.
func loopbackFor(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// do sends a request and decodes a JSON answer into out; a problem answer
// becomes an error with its detail.
func (c *adminClient) do(ctx context.Context, method, path string, body []byte, out any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(raw, &p)
		return nil, fmt.Errorf("admin API answered %d: %s", resp.StatusCode, p.Detail)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("admin API: unexpected answer: %w", err)
		}
	}
	return raw, nil
}
