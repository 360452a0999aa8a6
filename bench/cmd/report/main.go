// Command report turns the raw measurements of bench/run into the markdown
// of bench/RESULTS.md: a summary table (median and min–max across the
// interleaved rounds, ratios to nginx and to the bare Go proxy computed per
// round so each ratio compares runs made under the same conditions), the
// issue 9 goals, and every individual run.
//
// It also rotates RESULTS.md: the newest run goes on top, older runs move
// under "Previous results" (the last -keep are kept), and a hand-written
// block between <!-- notes --> and <!-- /notes --> (profile findings, what
// was changed) survives every rewrite.
//
//	report -raw runs.tsv -meta meta.txt -append profile.md -results bench/RESULTS.md -keep 5
//
// runs.tsv has a header line and these tab-separated columns:
//
//	round target requests duration_us bytes p50_us p99_us max_us status_errors socket_errors cpu_ticks clk_tck core_other_ticks io_syscalls [peak_rss_kb]
//
// cpu_ticks is -1 when no proxy process is measured (the bare upstream row).
// core_other_ticks is the CPU time other processes took on the proxy's core
// during the run (-1 when the proxy was not pinned). io_syscalls is the
// proxy's read-like + write-like system calls over the run (-1: not measured).
// peak_rss_kb is the proxy's VmHWM over the run (-1 or absent: not measured).
// meta.txt has "key<TAB>value" lines shown in order; keys starting with
// "note" are printed as bullet notes, keys starting with "_" are settings the
// report uses but does not print (_connections, _upload_bytes).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// targets, in table order, with their descriptions and the target each is
// compared with ("× nginx"; empty: nginx itself). Unknown target names in the
// raw file are shown after these, under their own name, against nginx.
var targets = []struct{ key, label, base string }{
	{"upstream", "bare upstream (wrk → upstream, no proxy)", ""},
	{"nginx", "nginx `proxy_pass`, upstream keepalive", ""},
	{"bare", "bare Go `httputil.ReverseProxy` (tuned, buffer pool)", "nginx"},
	{"floor", "Go floor: byte copier, goroutine per connection, `net.Conn`, no HTTP work", "nginx"},
	{"rampart-none", "Rampart, `auth: none`", "nginx"},
	{"rampart-full", "Rampart, full policy", "nginx"},
	{"rampart-none-b", "Rampart B (RAMPART_B), `auth: none`", "nginx"},
	{"rampart-full-b", "Rampart B (RAMPART_B), full policy", "nginx"},
	{"rampart-full-detect", "Rampart, full policy + `detect: {}`", "nginx"},
	{"rampart-full-waf", "Rampart, full policy + WAF (CRS, paranoia 1)", "nginx"},
	{"nginx-modsec", "nginx + ModSecurity v3 + the same CRS (paranoia 1)", "nginx"},
	{"nginx-tls", "nginx, TLS 1.3 (ECDSA P-256), keep-alive", ""},
	{"rampart-tls", "Rampart full policy, TLS 1.3, keep-alive", "nginx-tls"},
	{"nginx-tls-close", "nginx, TLS 1.3, new handshake per request", ""},
	{"rampart-tls-close", "Rampart full policy, TLS 1.3, new handshake per request", "nginx-tls-close"},
	{"nginx-h2", "nginx `http2` (TLS), h2load", ""},
	{"rampart-h2", "Rampart full policy, HTTP/2 (TLS), h2load", "nginx-h2"},
	{"nginx-up1m", "nginx, 1 MiB uploads", ""},
	{"rampart-up1m", "Rampart full policy, 1 MiB uploads", "nginx-up1m"},
	{"nginx-down10m", "nginx, 10 MiB downloads", ""},
	{"rampart-down10m", "Rampart full policy, 10 MiB downloads", "nginx-down10m"},
}

// baseOf is the target key's "× nginx" baseline (empty for baselines).
func baseOf(key string) string {
	for _, t := range targets {
		if t.key == key {
			return t.base
		}
	}
	if strings.HasPrefix(key, "nginx") {
		return ""
	}
	return "nginx"
}

type run struct {
	round        int
	target       string
	requests     int64
	durationUS   int64
	bytes        int64
	p50, p99     float64 // µs
	maxLat       float64 // µs
	statusErrors int64
	socketErrors int64
	cpuTicks     int64 // -1: not measured
	clkTck       int64
	otherTicks   int64 // other processes on the proxy core; -1: not measured
	ioSyscalls   int64 // proxy's read+write system calls; -1: not measured
	peakRSSKB    int64 // proxy's VmHWM during the run; -1: not measured
}

// peakMB is the proxy's peak RSS in MB, NaN when not measured.
func (r run) peakMB() float64 {
	if r.peakRSSKB <= 0 {
		return math.NaN()
	}
	return float64(r.peakRSSKB) / 1024
}

func (r run) rps() float64 { return float64(r.requests) / (float64(r.durationUS) / 1e6) }

// cpuPerReq is the proxy's CPU time per completed request in µs, NaN when
// not measured.
func (r run) cpuPerReq() float64 {
	if r.cpuTicks < 0 || r.requests == 0 || r.clkTck == 0 {
		return math.NaN()
	}
	return float64(r.cpuTicks) / float64(r.clkTck) * 1e6 / float64(r.requests)
}

// ioPerReq is the proxy's read+write system calls per request, NaN when not measured.
func (r run) ioPerReq() float64 {
	if r.ioSyscalls < 0 || r.requests == 0 {
		return math.NaN()
	}
	return float64(r.ioSyscalls) / float64(r.requests)
}

// other is the share of the proxy's core other processes used, in percent.
func (r run) other() float64 {
	if r.otherTicks < 0 || r.durationUS == 0 || r.clkTck == 0 {
		return math.NaN()
	}
	return float64(r.otherTicks) / float64(r.clkTck) * 1e6 / float64(r.durationUS) * 100
}

// busy is the share of one core the proxy used during the run, in percent.
func (r run) busy() float64 {
	if r.cpuTicks < 0 || r.durationUS == 0 || r.clkTck == 0 {
		return math.NaN()
	}
	return float64(r.cpuTicks) / float64(r.clkTck) * 1e6 / float64(r.durationUS) * 100
}

func main() {
	rawPath := flag.String("raw", "", "raw measurements (TSV)")
	metaPath := flag.String("meta", "", "run metadata (key<TAB>value lines)")
	resultsPath := flag.String("results", "", "RESULTS.md to rewrite (empty: print the new run to stdout only)")
	keep := flag.Int("keep", 5, "previous runs to keep in RESULTS.md")
	appendPath := flag.String("append", "", "markdown file appended to this run's section (the profile)")
	flag.Parse()
	runs, err := readRuns(*rawPath)
	if err != nil {
		log.Fatalf("report: %v", err)
	}
	meta, err := readMeta(*metaPath)
	if err != nil {
		log.Fatalf("report: %v", err)
	}
	block := render(runs, meta)
	if *appendPath != "" {
		extra, err := os.ReadFile(*appendPath)
		if err != nil {
			log.Fatalf("report: %v", err)
		}
		if e := strings.TrimSpace(string(extra)); e != "" {
			block += "\n" + e + "\n"
		}
	}
	fmt.Print(block)
	if *resultsPath == "" {
		return
	}
	old, err := os.ReadFile(*resultsPath)
	if err != nil && !os.IsNotExist(err) {
		log.Fatalf("report: %v", err)
	}
	if err := os.WriteFile(*resultsPath, []byte(rotate(string(old), block, *keep)), 0o644); err != nil {
		log.Fatalf("report: %v", err)
	}
}

func readRuns(path string) ([]run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []run
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 || strings.TrimSpace(sc.Text()) == "" {
			continue // header
		}
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 14 && len(fs) != 15 {
			return nil, fmt.Errorf("%s:%d: want 14 or 15 fields, got %d", path, line, len(fs))
		}
		n := make([]int64, 15)
		n[14] = -1
		for i, s := range fs {
			if i == 1 {
				continue
			}
			if n[i], err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: field %d: %v", path, line, i+1, err)
			}
		}
		runs = append(runs, run{
			round: int(n[0]), target: fs[1], requests: n[2], durationUS: n[3], bytes: n[4],
			p50: float64(n[5]), p99: float64(n[6]), maxLat: float64(n[7]),
			statusErrors: n[8], socketErrors: n[9], cpuTicks: n[10], clkTck: n[11], otherTicks: n[12], ioSyscalls: n[13],
			peakRSSKB: n[14],
		})
	}
	return runs, sc.Err()
}

type kv struct{ k, v string }

func readMeta(path string) ([]kv, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []kv
	for l := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		k, v, _ := strings.Cut(l, "\t")
		out = append(out, kv{k, v})
	}
	return out, nil
}

// stats is the median and range of a set of values, NaNs ignored.
type stats struct {
	med, lo, hi float64
	n           int
}

func summarize(vs []float64) stats {
	vs = slices.DeleteFunc(slices.Clone(vs), math.IsNaN)
	if len(vs) == 0 {
		return stats{math.NaN(), math.NaN(), math.NaN(), 0}
	}
	slices.Sort(vs)
	m := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		m = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return stats{m, vs[0], vs[len(vs)-1], len(vs)}
}

// format prints "med (lo–hi)" with the given precision, or "—".
func (s stats) format(prec int) string {
	if s.n == 0 {
		return "—"
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	if s.n == 1 || f(s.lo) == f(s.hi) {
		return f(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.med), f(s.lo), f(s.hi))
}

func label(key string) string {
	for _, t := range targets {
		if t.key == key {
			return t.label
		}
	}
	return key
}

func render(runs []run, meta []kv) string {
	byTarget := map[string][]run{}
	var order []string
	for _, t := range targets {
		order = append(order, t.key)
	}
	for _, r := range runs {
		if !slices.Contains(order, r.target) {
			order = append(order, r.target)
		}
		byTarget[r.target] = append(byTarget[r.target], r)
	}
	// per-round CPU per request of the two baselines, for paired ratios
	baseline := func(key string) map[int]float64 {
		m := map[int]float64{}
		for _, r := range byTarget[key] {
			m[r.round] = r.cpuPerReq()
		}
		return m
	}
	bareCPU := baseline("bare")
	nginxCPU := baseline("nginx")
	ratio := func(rs []run, base map[int]float64) stats {
		var vs []float64
		for _, r := range rs {
			if b, ok := base[r.round]; ok && b > 0 {
				vs = append(vs, r.cpuPerReq()/b)
			}
		}
		return summarize(vs)
	}
	p99Ratio := func(rs []run, key string) stats {
		base := map[int]float64{}
		for _, r := range byTarget[key] {
			base[r.round] = r.p99
		}
		var vs []float64
		for _, r := range rs {
			if b, ok := base[r.round]; ok && b > 0 {
				vs = append(vs, r.p99/b)
			}
		}
		return summarize(vs)
	}
	field := func(rs []run, f func(run) float64) stats {
		vs := make([]float64, len(rs))
		for i, r := range rs {
			vs[i] = f(r)
		}
		return summarize(vs)
	}

	var b strings.Builder
	title := "benchmark run"
	for _, m := range meta {
		if m.k == "date" {
			title = m.v
		}
	}
	fmt.Fprintf(&b, "### %s\n\n", title)
	for _, m := range meta {
		if m.k == "date" || strings.HasPrefix(m.k, "note") || strings.HasPrefix(m.k, "_") {
			continue
		}
		fmt.Fprintf(&b, "- **%s**: %s\n", m.k, m.v)
	}
	b.WriteString("\n")
	b.WriteString("Median across rounds, (min–max) when they differ. CPU is the proxy process's utime+stime " +
		"(nginx: master + worker) over the measured run, divided by completed requests; ratios are computed " +
		"per round against the baseline measured in the same round. I/O syscalls are the proxy's read-like + " +
		"write-like system calls (/proc/PID/io syscr + syscw) per request: unlike CPU time, they do not depend " +
		"on what else the machine is doing. They compare the Go proxies exactly (all use read/write); nginx " +
		"reads with recv(2), which the kernel does not count there, so its figure is its writev(2) calls only.\n\n")
	upload := 0.0
	for _, m := range meta {
		if m.k == "_upload_bytes" {
			upload, _ = strconv.ParseFloat(m.v, 64)
		}
	}
	// throughput is the bytes a body target moves per second of proxy CPU,
	// in MB (uploads: the request bodies; downloads: what wrk read).
	throughput := func(key string) func(run) float64 {
		return func(r run) float64 {
			cpu := r.cpuPerReq()
			switch {
			case strings.HasSuffix(key, "-up1m") && upload > 0:
				return upload / cpu // bytes per µs = MB/s
			case strings.HasSuffix(key, "-down10m") && r.requests > 0:
				return float64(r.bytes) / float64(r.requests) / cpu
			}
			return math.NaN()
		}
	}
	b.WriteString("| target | req/s | p50 µs | p99 µs | proxy CPU µs/req | × nginx | × bare Go | proxy core busy % | I/O syscalls/req | peak RSS MB | MB per proxy CPU s | errors |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, key := range order {
		rs := byTarget[key]
		if len(rs) == 0 {
			continue
		}
		var errs int64
		for _, r := range rs {
			errs += r.statusErrors + r.socketErrors
		}
		base := baseOf(key)
		vsBase := ratio(rs, baseline(key)) // a baseline: 1.00
		if base != "" {
			vsBase = ratio(rs, baseline(base))
		}
		vsBare := stats{}
		if base == "nginx" || key == "nginx" {
			vsBare = ratio(rs, bareCPU)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", label(key),
			field(rs, run.rps).format(0), field(rs, func(r run) float64 { return r.p50 }).format(0),
			field(rs, func(r run) float64 { return r.p99 }).format(0), field(rs, run.cpuPerReq).format(1),
			vsBase.format(2), vsBare.format(2), field(rs, run.busy).format(0),
			field(rs, run.ioPerReq).format(1), field(rs, run.peakMB).format(0), field(rs, throughput(key)).format(0), errs)
	}
	b.WriteString("\n")
	worst, worstRun := 0.0, run{}
	for _, r := range runs {
		if o := r.other(); o > worst {
			worst, worstRun = o, r
		}
	}
	if worst >= 3 {
		fmt.Fprintf(&b, "**The machine was not quiet**: other processes took up to %.0f%% of the proxy's core during a run "+
			"(round %d, %s). Contention inflates CPU per request and latency; see \"other on core\" per run below, and "+
			"prefer ratios from rounds where it is near 0.\n\n", worst, worstRun.round, worstRun.target)
	}

	// Issue 9's targets, judged on this run.
	goal := func(name string, s stats, limit float64) {
		if s.n == 0 {
			fmt.Fprintf(&b, "- %s ≤ %.1f: not measured in this run\n", name, limit)
			return
		}
		got := fmt.Sprintf("%.2f", s.med)
		if s.n > 1 {
			got += fmt.Sprintf(", rounds %.2f–%.2f", s.lo, s.hi)
		}
		if s.med <= limit {
			fmt.Fprintf(&b, "- %s ≤ %.1f: **met** (%s)\n", name, limit, got)
		} else {
			fmt.Fprintf(&b, "- %s ≤ %.1f: **not met** (%s; %.0f%% over)\n", name, limit, got, (s.med/limit-1)*100)
		}
	}
	b.WriteString("Issue 9 goals (median of the per-round ratios, and their range across rounds):\n\n")
	goal("Rampart full policy CPU/request × bare Go", ratio(byTarget["rampart-full"], bareCPU), 1.0)
	goal("Rampart `auth: none` CPU/request × bare Go", ratio(byTarget["rampart-none"], bareCPU), 0.8)
	conns := ""
	for _, m := range meta {
		if m.k == "_connections" {
			conns = m.v
		}
	}
	var p99 stats // n == 0: not measured
	if len(byTarget["nginx"]) > 0 {
		p99 = p99Ratio(byTarget["rampart-full"], "nginx")
	}
	name := "Rampart full policy p99 × nginx"
	if conns != "8" {
		name += fmt.Sprintf(" (at %s connections; the goal is stated for 8: `CONNECTIONS=8 make bench-compare`)", conns)
	}
	goal(name, p99, 1.5)
	b.WriteString("\n")

	// Issue 21's goals: CPU per request against the matching nginx row.
	if len(byTarget["nginx"]) > 0 {
		pair := func(key string) stats {
			if len(byTarget[key]) == 0 || len(byTarget[baseOf(key)]) == 0 {
				return stats{}
			}
			return ratio(byTarget[key], baseline(baseOf(key)))
		}
		// inverse turns a CPU ratio into a throughput-per-core ratio.
		inverse := func(s stats) stats {
			if s.n == 0 {
				return s
			}
			return stats{1 / s.med, 1 / s.hi, 1 / s.lo, s.n}
		}
		atLeast := func(name string, s stats, limit float64) {
			if s.n == 0 {
				fmt.Fprintf(&b, "- %s ≥ %.1f: not measured in this run\n", name, limit)
				return
			}
			got := fmt.Sprintf("%.2f", s.med)
			if s.n > 1 {
				got += fmt.Sprintf(", rounds %.2f–%.2f", s.lo, s.hi)
			}
			verdict := "**met**"
			if s.med < limit {
				verdict = "**not met**"
			}
			fmt.Fprintf(&b, "- %s ≥ %.1f: %s (%s)\n", name, limit, verdict, got)
		}
		at := fmt.Sprintf(" (%s connections)", conns)
		b.WriteString("Issue 21 goals (proxy CPU per request × the matching nginx row, median of the per-round ratios):\n\n")
		goal("1. Rampart full policy × nginx"+at, ratio(byTarget["rampart-full"], nginxCPU), 1.5)
		goal("1. Rampart `auth: none` × nginx"+at, ratio(byTarget["rampart-none"], nginxCPU), 1.2)
		goal("2a. TLS 1.3 keep-alive, Rampart full policy × nginx", pair("rampart-tls"), 1.5)
		goal("2b. TLS 1.3, new handshake per request, Rampart full policy × nginx", pair("rampart-tls-close"), 1.3)
		goal("3. HTTP/2, Rampart full policy × nginx", pair("rampart-h2"), 1.5)
		atLeast("4. 1 MiB uploads, throughput per proxy core × nginx", inverse(pair("rampart-up1m")), 0.8)
		atLeast("4. 10 MiB downloads, throughput per proxy core × nginx", inverse(pair("rampart-down10m")), 0.8)
		for _, k := range []string{"rampart-down10m", "nginx-down10m"} {
			if rs := byTarget[k]; len(rs) > 0 {
				fmt.Fprintf(&b, "- 4. peak RSS during 10 MiB downloads, %s: %s MB\n", k, field(rs, run.peakMB).format(0))
			}
		}
		for _, k := range []string{"rampart-full-detect", "rampart-full-waf"} {
			if rs := byTarget[k]; len(rs) > 0 {
				fmt.Fprintf(&b, "- 6. %s × nginx: %s (no goal stated; × Rampart full policy: %s)\n", label(k),
					ratio(rs, nginxCPU).format(2), ratio(rs, baseline("rampart-full")).format(2))
			}
		}
		b.WriteString("\n")
	}
	if len(byTarget["rampart-full-waf"]) > 0 && len(byTarget["nginx-modsec"]) > 0 {
		b.WriteString("Issue 18 goal (proxy CPU per request, median of the per-round ratios):\n\n")
		goal("Rampart full policy + WAF × nginx + ModSecurity v3 (same CRS, paranoia 1)", ratio(byTarget["rampart-full-waf"], baseline("nginx-modsec")), 1.0)
		b.WriteString("\n")
	}

	var notes []string
	for _, m := range meta {
		if strings.HasPrefix(m.k, "note") {
			notes = append(notes, m.v)
		}
	}
	if len(notes) > 0 {
		b.WriteString("Notes:\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}

	b.WriteString("<details><summary>Every measured run</summary>\n\n")
	b.WriteString("| round | target | requests | req/s | p50 µs | p99 µs | max µs | proxy CPU µs/req | busy % | other on core % | I/O syscalls/req | peak RSS MB | bytes/resp | errors |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range runs {
		one := func(v float64, prec int) string { return stats{v, v, v, 1}.format(prec) }
		per := math.NaN()
		if r.requests > 0 {
			per = float64(r.bytes) / float64(r.requests)
		}
		cpu, busy := "—", "—"
		if !math.IsNaN(r.cpuPerReq()) {
			cpu, busy = one(r.cpuPerReq(), 1), one(r.busy(), 0)
		}
		other, io := "—", "—"
		if !math.IsNaN(r.other()) {
			other = one(r.other(), 0)
		}
		if !math.IsNaN(r.ioPerReq()) {
			io = one(r.ioPerReq(), 2)
		}
		peak := "—"
		if !math.IsNaN(r.peakMB()) {
			peak = one(r.peakMB(), 0)
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %.0f | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %d |\n", r.round, r.target, r.requests,
			one(r.rps(), 0), r.p50, r.p99, r.maxLat, cpu, busy, other, io, peak, one(per, 0), r.statusErrors+r.socketErrors)
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

const (
	runOpen    = "<!-- bench-run -->"
	runClose   = "<!-- /bench-run -->"
	notesOpen  = "<!-- notes -->"
	notesClose = "<!-- /notes -->"
)

// rotate builds the new RESULTS.md from the old one and the new run's block.
func rotate(old, block string, keep int) string {
	var previous []string
	notes := ""
	rest := old
	for {
		i := strings.Index(rest, runOpen)
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], runClose)
		if j < 0 {
			break
		}
		previous = append(previous, strings.TrimSpace(rest[i+len(runOpen):i+j]))
		rest = rest[i+j+len(runClose):]
	}
	if i := strings.Index(old, notesOpen); i >= 0 {
		if j := strings.Index(old[i:], notesClose); j >= 0 {
			notes = strings.TrimSpace(old[i+len(notesOpen) : i+j])
		}
	}
	// A RESULTS.md written by hand (no markers) is kept whole, once, as the
	// oldest previous result rather than lost.
	if len(previous) == 0 && notes == "" && strings.TrimSpace(old) != "" {
		previous = append(previous, "### Earlier content\n\n"+strings.TrimSpace(old))
	}
	if len(previous) > keep {
		previous = previous[:keep]
	}
	if notes == "" {
		notes = "_Profile findings and what was changed go here (kept across runs)._"
	}

	var b strings.Builder
	b.WriteString("# Rampart benchmark results\n\n")
	b.WriteString("Written by `make bench-compare` (`bench/run`). The newest run is first; older runs are under " +
		"\"Previous results\". Edit only between the notes markers: the rest is regenerated.\n\n")
	b.WriteString("## Latest run\n\n")
	b.WriteString(runOpen + "\n" + strings.TrimSpace(block) + "\n" + runClose + "\n\n")
	b.WriteString("## Notes\n\n")
	b.WriteString(notesOpen + "\n" + notes + "\n" + notesClose + "\n\n")
	b.WriteString("## Previous results\n\n")
	if len(previous) == 0 {
		b.WriteString("_None yet._\n")
	}
	for _, p := range previous {
		b.WriteString(runOpen + "\n" + p + "\n" + runClose + "\n\n")
	}
	return b.String()
}
