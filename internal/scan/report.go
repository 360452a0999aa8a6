package scan

import (
	"cmp"
	"slices"
	"time"
)

// Report is the outcome of one scan. Its JSON encoding (WriteJSON) is the
// documented machine-readable shape; field names are stable.
type Report struct {
	Tool       Tool         `json:"tool"`
	Target     string       `json:"target"`            // the URL scanned (after same-host redirects)
	OpenAPI    *APIInfo     `json:"openapi,omitempty"` // nil when no document guided the scan
	StartedAt  time.Time    `json:"started_at"`
	FinishedAt time.Time    `json:"finished_at"`
	Requests   RequestStats `json:"requests"`
	Summary    Summary      `json:"summary"`
	Findings   []Finding    `json:"findings"` // sorted: severity (high first), rule, location, method
	Coverage   []Coverage   `json:"coverage"` // one entry per rule, in catalogue order
	Notes      []string     `json:"notes"`    // what limited the scan, in the order it happened
	// Skipped lists the operations not sent (destructive-looking or
	// --exclude); each is also a note, which is how JSON and SARIF show it.
	Skipped []SkippedOperation `json:"-"`
}

// Tool names the scanner.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// APIInfo describes the OpenAPI document that guided the scan.
type APIInfo struct {
	Source     string `json:"source"`  // file path or URL as given, or the URL it was discovered at
	Version    string `json:"version"` // the document's "openapi" field
	Operations int    `json:"operations"`
}

// RequestStats counts what the scan sent.
type RequestStats struct {
	Sent   int     `json:"sent"`   // HTTP requests and TLS handshakes
	Budget int     `json:"budget"` // --max-requests
	Rate   float64 `json:"rate"`   // cap, requests per second
	Errors int     `json:"errors"` // requests that got no response (timeouts, resets)
}

// Summary counts findings per severity.
type Summary struct {
	High   int `json:"high"`
	Medium int `json:"medium"`
	Low    int `json:"low"`
	Info   int `json:"info"`
}

// Finding is one weakness, with the evidence that proves it.
type Finding struct {
	Rule        string   `json:"rule"`
	Title       string   `json:"title"`
	Severity    Severity `json:"severity"`
	OWASP       string   `json:"owasp"` // "API8:2023 Security Misconfiguration"
	CWE         string   `json:"cwe"`   // "CWE-209"
	Message     string   `json:"message"`
	Method      string   `json:"method"`
	Location    string   `json:"location"` // the request URL, secrets redacted
	Evidence    Evidence `json:"evidence"`
	Remediation string   `json:"remediation"`
	Rampart     string   `json:"rampart"` // the Rampart config or behaviour that prevents it
}

// Evidence is the request that proves a finding, the response to it, and
// the part of that response that is the proof. Secrets are redacted
// everywhere: credential headers, the scan's own token and key, and
// credentials found in bodies.
type Evidence struct {
	Request  RequestEvidence   `json:"request"`
	Response *ResponseEvidence `json:"response,omitempty"` // nil for TLS handshakes
	Proof    string            `json:"proof"`
	// Baseline is the comparison exchange when the proof is a difference
	// (401 without a trick, 200 with it; no SQL error without a quote).
	Baseline *Exchange `json:"baseline,omitempty"`
}

// Exchange is one request and its response.
type Exchange struct {
	Request  RequestEvidence   `json:"request"`
	Response *ResponseEvidence `json:"response,omitempty"`
}

// RequestEvidence is a request as sent. Headers are those the scanner set.
type RequestEvidence struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// ResponseEvidence is the relevant part of a response: every header except
// Date, and a body excerpt around the proof when the proof is in the body.
type ResponseEvidence struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// Coverage says whether a rule was exercised, and what limited it.
type Coverage struct {
	Rule   string   `json:"rule"`
	Status string   `json:"status"` // "tested", "partial" or "skipped"
	Notes  []string `json:"notes,omitempty"`
}

// Coverage statuses.
const (
	Tested  = "tested"
	Partial = "partial"
	Skipped = "skipped"
)

// Worst is the highest severity among the findings, and false when there are none.
func (r *Report) Worst() (Severity, bool) {
	if len(r.Findings) == 0 {
		return Info, false
	}
	return r.Findings[0].Severity, true // sorted worst first
}

// Fails reports whether any finding reaches threshold (the --fail-on gate).
func (r *Report) Fails(threshold Severity) bool {
	w, ok := r.Worst()
	return ok && w >= threshold
}

func (r *Report) finish() {
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(ruleIndex(a.Rule), ruleIndex(b.Rule)),
			cmp.Compare(a.Location, b.Location),
			cmp.Compare(a.Method, b.Method),
			cmp.Compare(a.Message, b.Message),
		)
	})
	r.Summary = Summary{}
	for _, f := range r.Findings {
		switch f.Severity {
		case High:
			r.Summary.High++
		case Medium:
			r.Summary.Medium++
		case Low:
			r.Summary.Low++
		default:
			r.Summary.Info++
		}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Notes == nil {
		r.Notes = []string{}
	}
}

func ruleIndex(id string) int {
	for i, r := range Rules {
		if r.ID == id {
			return i
		}
	}
	return len(Rules)
}
