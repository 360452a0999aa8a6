package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in          []float64
		med, lo, hi float64
		n           int
		formatted   string
		formatPrec  int
	}{
		{in: []float64{3, 1, 2}, med: 2, lo: 1, hi: 3, n: 3, formatted: "2.0 (1.0–3.0)", formatPrec: 1},
		{in: []float64{4, 1, 2, 3}, med: 2.5, lo: 1, hi: 4, n: 4, formatted: "2.50 (1.00–4.00)", formatPrec: 2},
		{in: []float64{5, math.NaN()}, med: 5, lo: 5, hi: 5, n: 1, formatted: "5", formatPrec: 0},
	} {
		s := summarize(tc.in)
		if s.med != tc.med || s.lo != tc.lo || s.hi != tc.hi || s.n != tc.n {
			t.Errorf("summarize(%v) = %+v", tc.in, s)
		}
		if got := s.format(tc.formatPrec); got != tc.formatted {
			t.Errorf("format = %q, want %q", got, tc.formatted)
		}
	}
	if got := summarize(nil).format(1); got != "—" {
		t.Errorf("empty format = %q", got)
	}
}

func TestRunFigures(t *testing.T) {
	// 200 ticks at 100 Hz = 2 s of CPU over 10 s for 50 000 requests.
	r := run{requests: 50000, durationUS: 10e6, cpuTicks: 200, clkTck: 100, otherTicks: 10, ioSyscalls: 350000}
	if got := r.cpuPerReq(); got != 40 {
		t.Errorf("cpuPerReq = %v, want 40 µs", got)
	}
	if got := r.busy(); got != 20 {
		t.Errorf("busy = %v, want 20%%", got)
	}
	if got := r.other(); got != 1 {
		t.Errorf("other = %v, want 1%%", got)
	}
	if got := r.ioPerReq(); got != 7 {
		t.Errorf("ioPerReq = %v, want 7", got)
	}
	if got := r.rps(); got != 5000 {
		t.Errorf("rps = %v, want 5000", got)
	}
	none := run{requests: 1, durationUS: 1, cpuTicks: -1, clkTck: 100, otherTicks: -1, ioSyscalls: -1}
	if !math.IsNaN(none.cpuPerReq()) || !math.IsNaN(none.other()) || !math.IsNaN(none.ioPerReq()) {
		t.Error("unmeasured figures must be NaN")
	}
}

func TestRotate(t *testing.T) {
	first := rotate("", "### run 1\n", 2)
	if !strings.Contains(first, "### run 1") || !strings.Contains(first, "_None yet._") {
		t.Fatalf("first file:\n%s", first)
	}
	// Notes written by hand survive; older runs move down; only keep are kept.
	withNotes := strings.Replace(first, "_Profile findings and what was changed go here (kept across runs)._", "we changed X", 1)
	second := rotate(withNotes, "### run 2\n", 2)
	third := rotate(second, "### run 3\n", 2)
	fourth := rotate(third, "### run 4\n", 2)
	for _, want := range []string{"### run 4", "### run 3", "### run 2", "we changed X"} {
		if !strings.Contains(fourth, want) {
			t.Errorf("missing %q in:\n%s", want, fourth)
		}
	}
	if strings.Contains(fourth, "### run 1") {
		t.Errorf("run 1 should have been dropped (keep 2):\n%s", fourth)
	}
	if strings.Index(fourth, "### run 4") > strings.Index(fourth, "## Previous results") {
		t.Error("the newest run must come before Previous results")
	}
	if strings.Index(fourth, "### run 3") > strings.Index(fourth, "### run 2") {
		t.Error("previous runs must be newest first")
	}
	// A file without markers (written by hand) is kept, not lost.
	hand := rotate("# my old results\n\nsome table\n", "### run 1\n", 5)
	if !strings.Contains(hand, "some table") {
		t.Errorf("hand-written content lost:\n%s", hand)
	}
}

func TestReadRunsAndRender(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "runs.tsv")
	rows := "header\n" +
		"1\tnginx\t100000\t10000000\t0\t500\t900\t1000\t0\t0\t200\t100\t0\t200000\n" +
		"1\tbare\t50000\t10000000\t0\t800\t1200\t1500\t0\t0\t200\t100\t0\t350000\n" +
		"1\trampart-full\t40000\t10000000\t0\t900\t1400\t1600\t0\t0\t200\t100\t0\t320000\n"
	if err := os.WriteFile(raw, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	runs, err := readRuns(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[2].target != "rampart-full" || runs[2].ioSyscalls != 320000 {
		t.Fatalf("runs = %+v", runs)
	}
	md := render(runs, []kv{{"date", "D"}, {"_connections", "8"}, {"note0", "a note"}})
	// nginx 20 µs, bare 40 µs, full 50 µs per request: 2.50× nginx, 1.25× bare.
	for _, want := range []string{"### D", "| 50.0 | 2.50 | 1.25 |", "not met** (1.25; 25% over)", "- a note"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
	// p99 1400 µs against nginx's 900 µs.
	if !strings.Contains(md, "p99 × nginx ≤ 1.5: **not met** (1.56; 4% over)") {
		t.Errorf("p99 goal wrong:\n%s", md)
	}
	if strings.Contains(md, "_connections") {
		t.Error("hidden meta keys must not be printed")
	}
}

// Issue 21 pairs: rampart-X is compared with nginx-X of the same round, the
// body rows as throughput per proxy core (the inverse CPU ratio), and the
// 15th column is the peak RSS.
func TestPairsAndBodies(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "runs.tsv")
	rows := "header\n" +
		// nginx 20 µs/req; nginx-tls 30; rampart-tls 60 (2.00×); 1 MiB uploads:
		// nginx-up1m 1000 µs/req, rampart-up1m 800 (throughput 1.25× nginx's).
		"1\tnginx\t100000\t10000000\t0\t500\t900\t1000\t0\t0\t200\t100\t0\t200000\t20480\n" +
		"1\tnginx-tls\t100000\t10000000\t0\t500\t900\t1000\t0\t0\t300\t100\t0\t200000\t20480\n" +
		"1\trampart-tls\t100000\t10000000\t0\t500\t900\t1000\t0\t0\t600\t100\t0\t200000\t65536\n" +
		"1\tnginx-up1m\t1000\t10000000\t0\t500\t900\t1000\t0\t0\t100\t100\t0\t2000\t40960\n" +
		"1\trampart-up1m\t1000\t10000000\t0\t500\t900\t1000\t0\t0\t80\t100\t0\t2000\t-1\n"
	if err := os.WriteFile(raw, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	runs, err := readRuns(raw)
	if err != nil {
		t.Fatal(err)
	}
	if runs[2].peakMB() != 64 || !math.IsNaN(runs[4].peakMB()) {
		t.Fatalf("peak RSS: %v, %v", runs[2].peakMB(), runs[4].peakMB())
	}
	md := render(runs, []kv{{"date", "D"}, {"_connections", "8"}, {"_upload_bytes", "1048576"}})
	for _, want := range []string{
		"| Rampart full policy, TLS 1.3, keep-alive | 10000 | 500 | 900 | 60.0 | 2.00 | — |",
		"2a. TLS 1.3 keep-alive, Rampart full policy × nginx ≤ 1.5: **not met** (2.00; 33% over)",
		"4. 1 MiB uploads, throughput per proxy core × nginx ≥ 0.8: **met** (1.25)",
		"4. 10 MiB downloads, throughput per proxy core × nginx ≥ 0.8: not measured",
		"| 1311 |", // MB per proxy CPU s of rampart-up1m: 1048576 B / 800 µs
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
}
