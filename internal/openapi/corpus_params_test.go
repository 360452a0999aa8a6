package openapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/pathnorm"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// corpusDir holds real public documents with request cases
// (../shared/openapi-corpus, outside the repository; see its README).
const corpusDir = "../../../shared/openapi-corpus"

type corpusCase struct {
	ID, Kind, Method, Path string
	Query                  [][2]string
	Headers                map[string]string
	ContentType            string `json:"content_type"`
	Body                   json.RawMessage
	RawBody                *string `json:"raw_body"`
}

// TestCorpusParameterStyles runs the request cases of the corpus documents
// whose shapes this package's parameter and form readers serve (Stripe's
// deepObject form bodies and queries, OpenAI's form-exploded objects and
// ?beta=true path keys, Twilio's flat forms): every legitimate case must be
// forwarded and every bad one refused. Documents that do not load are
// skipped (their load errors belong to other parts of issue 15).
func TestCorpusParameterStyles(t *testing.T) {
	for _, name := range []string{"stripe", "openai", "twilio-messaging"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(corpusDir, name)
			raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
			if err != nil {
				t.Skipf("corpus not present: %v", err)
			}
			var meta struct {
				Entry    string
				BasePath string `json:"base_path"`
				Cases    []corpusCase
			}
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Fatal(err)
			}
			bp := meta.BasePath
			if bp == "" {
				bp = "/"
			}
			doc, err := Load(context.Background(), Config{Name: name, Spec: meta.Entry, BaseDir: dir, BasePath: bp,
				ValidateRequests: true, RejectUndocumented: true}, nil)
			if err != nil {
				msg := err.Error()
				t.Skipf("document does not load: %.600s", msg)
			}
			forwarded := 0
			mw := doc.Middleware(Deps{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { forwarded++ }))
			var legitOK, legit, badOK, bad int
			for _, c := range meta.Cases {
				status, detail := runCase(mw, c)
				ok := status == 0
				if c.Kind == "legit" {
					legit++
					if ok {
						legitOK++
					} else {
						t.Errorf("%s %s %s: legitimate request refused: %d %s", c.ID, c.Method, c.Path, status, detail)
					}
				} else {
					bad++
					if !ok {
						badOK++
					} else {
						t.Errorf("%s %s %s: bad request forwarded", c.ID, c.Method, c.Path)
					}
				}
			}
			t.Logf("%s: legit forwarded %d/%d, bad refused %d/%d", name, legitOK, legit, badOK, bad)
		})
	}
}

// runCase sends c through the middleware; status 0 means forwarded.
func runCase(h http.Handler, c corpusCase) (int, string) {
	var parts []string
	for _, kv := range c.Query {
		parts = append(parts, url.QueryEscape(kv[0])+"="+url.QueryEscape(kv[1]))
	}
	target := c.Path
	if len(parts) > 0 {
		target += "?" + strings.Join(parts, "&")
	}
	body := ""
	switch {
	case c.RawBody != nil:
		body = *c.RawBody
	case len(c.Body) > 0 && c.Body[0] == '"':
		_ = json.Unmarshal(c.Body, &body)
	case len(c.Body) > 0 && string(c.Body) != "null":
		body = string(c.Body)
	}
	r := httptest.NewRequest(c.Method, target, strings.NewReader(body))
	if body == "" {
		r.Body = http.NoBody
	}
	if c.ContentType != "" {
		r.Header.Set("Content-Type", c.ContentType)
	}
	for k, v := range c.Headers {
		r.Header.Set(k, v)
	}
	p, err := pathnorm.Path(r.URL.EscapedPath())
	if err != nil {
		return 400, "path: " + err.Error()
	}
	r = pipeline.WithInfo(r, &pipeline.Info{ID: c.ID, Path: p, Route: "corpus"})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code == 200 && w.Body.Len() == 0 {
		return 0, ""
	}
	return w.Code, w.Body.String()
}
