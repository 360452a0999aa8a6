package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	apiscan "github.com/rampart-gw/rampart/internal/scan"
)

const scanUsage = `Usage: rampart scan URL [flags]

Probes an HTTP API for the weaknesses an attacker finds first (OWASP API
Security Top 10, 2023) and reports them with evidence and the Rampart config
that prevents each. It is polite and bounded, not a full DAST: only GET, HEAD
and OPTIONS are sent unless --allow-unsafe (DELETE never), at most
--max-requests requests, at most --rate per second, redirects not followed.

Exit status: 0 when no finding reaches --fail-on, 1 when one does,
2 on usage errors or when the target cannot be reached.

Operations that look destructive (createdb, reset, delete, purge, logout...
in their path, operationId or summary) are never sent unless --include
names them; the report lists what was skipped and why.

Credentials may come from the environment instead of the command line
(which other processes can read): RAMPART_SCAN_TOKEN, RAMPART_SCAN_TOKEN_B,
RAMPART_SCAN_API_KEY.

Flags:
`

func scan(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlags("scan", stderr)
	openapi := fs.String("openapi", "", "OpenAPI 3.0/3.1 document, `FILE or URL` (JSON or YAML), to guide the scan")
	token := fs.String("token", "", "a valid, low-privilege bearer `JWT` (or opaque token); default $RAMPART_SCAN_TOKEN")
	apiKey := fs.String("api-key", "", "a valid, low-privilege API `KEY`; default $RAMPART_SCAN_API_KEY")
	apiKeyHeader := fs.String("api-key-header", "X-API-Key", "`header` carrying --api-key (the document's apiKey scheme wins)")
	format := fs.String("format", "text", "output `format`: text, json or sarif")
	failOn := fs.String("fail-on", "medium", "exit 1 when a finding is at least this `severity`: info, low, medium or high")
	maxRequests := fs.Int("max-requests", 300, "request `budget` (HTTP requests and TLS handshakes)")
	rate := fs.String("rate", "10/s", "rate cap, `R/s` (also N/m, N/h); at most 1000/s")
	allowUnsafe := fs.Bool("allow-unsafe", false, "also send POST/PUT/PATCH/TRACE probes (mass assignment, secured writes, TRACE); never DELETE")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request `timeout`")
	tokenB := fs.String("token-b", "", "a second ordinary user's bearer `JWT`, for object-level authorization (BOLA) checks; default $RAMPART_SCAN_TOKEN_B")
	allowSlow := fs.Bool("allow-slow", false, "also send inputs that may make a vulnerable service slow (regular-expression DoS hints, a few bounded tries)")
	var include, exclude stringList
	fs.Var(&include, "include", "send an operation that looks destructive anyway: `'[METHOD ]/path/glob'` (* within a segment, ** across); repeatable")
	fs.Var(&exclude, "exclude", "never send operations matching `'[METHOD ]/path/glob'`; repeatable")
	fs.Usage = func() {
		fmt.Fprint(stderr, scanUsage)
		fs.PrintDefaults()
	}
	// Flags may come before or after the URL.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "rampart scan: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run 'rampart scan -h' for usage.")
		return 2
	}
	if len(positional) != 1 {
		return usageErr("want exactly one target URL, got %d arguments", len(positional))
	}
	if _, err := apiscan.ParseTarget(positional[0]); err != nil {
		return usageErr("%v", err)
	}
	threshold, err := apiscan.ParseSeverity(*failOn)
	if err != nil {
		return usageErr("--fail-on: %v", err)
	}
	perSecond, err := apiscan.ParseRate(*rate)
	if err != nil {
		return usageErr("--rate: %v", err)
	}
	switch {
	case *format != "text" && *format != "json" && *format != "sarif":
		return usageErr("--format %q: want text, json or sarif", *format)
	case *maxRequests < 1 || *maxRequests > 100000:
		return usageErr("--max-requests %d: want 1 to 100000", *maxRequests)
	case *timeout <= 0 || *timeout > 5*time.Minute:
		return usageErr("--timeout %s: want more than 0 and at most 5m", *timeout)
	}
	if *token == "" {
		*token, _ = env("RAMPART_SCAN_TOKEN")
	}
	if *apiKey == "" {
		*apiKey, _ = env("RAMPART_SCAN_API_KEY")
	}
	if *tokenB == "" {
		*tokenB, _ = env("RAMPART_SCAN_TOKEN_B")
	}
	for _, p := range append(slices.Clone(include), exclude...) {
		if _, err := apiscan.ParseOpPattern(p); err != nil {
			return usageErr("--include/--exclude: %v", err)
		}
	}
	opts := apiscan.Options{
		Target: positional[0], OpenAPI: *openapi, Token: strings.TrimSpace(*token), APIKey: strings.TrimSpace(*apiKey),
		APIKeyHeader: *apiKeyHeader, MaxRequests: *maxRequests, Rate: perSecond, AllowUnsafe: *allowUnsafe,
		Timeout: *timeout, Version: Version, TokenB: strings.TrimSpace(*tokenB), AllowSlow: *allowSlow,
		Include: include, Exclude: exclude,
	}
	bar := newProgressBar(stderr, isTerminal(stderr))
	opts.Progress = bar.update
	rep, err := apiscan.Run(ctx, opts)
	bar.clear()
	if err != nil {
		fmt.Fprintln(stderr, "rampart scan:", err)
		return 2
	}
	switch *format {
	case "json":
		err = apiscan.WriteJSON(stdout, rep)
	case "sarif":
		err = apiscan.WriteSARIF(stdout, rep)
	default:
		_, noColor := env("NO_COLOR")
		term, _ := env("TERM")
		err = apiscan.WriteText(stdout, rep, apiscan.TextOptions{Color: isTerminal(stdout) && !noColor && term != "dumb"})
	}
	if err != nil {
		fmt.Fprintln(stderr, "rampart scan: writing the report:", err)
		return 2
	}
	fails := rep.Fails(threshold)
	verdict := "passes"
	code := 0
	if fails {
		verdict, code = "fails", 1
	}
	s := rep.Summary
	line := fmt.Sprintf("%s --fail-on %s (%d high, %d medium, %d low, %d info): exit %d", verdict, threshold, s.High, s.Medium, s.Low, s.Info, code)
	if *format == "text" {
		fmt.Fprintln(stdout, "result: "+line)
	} else {
		fmt.Fprintln(stderr, "rampart scan: "+line)
	}
	return code
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws on a terminal once the scan has run for showAfter.
type progressBar struct {
	mu      sync.Mutex
	w       io.Writer
	on      bool
	start   time.Time
	last    time.Time
	drawn   bool
	showAft time.Duration
}

func newProgressBar(w io.Writer, on bool) *progressBar {
	return &progressBar{w: w, on: on, start: time.Now(), showAft: 2 * time.Second}
}

func (p *progressBar) update(pr apiscan.Progress) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.start) < p.showAft || now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	filled := 0
	if pr.Budget > 0 {
		filled = min(width, pr.Sent*width/pr.Budget)
	}
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %d/%d requests  %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), pr.Sent, pr.Budget, pr.Phase)
	p.drawn = true
}

func (p *progressBar) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
