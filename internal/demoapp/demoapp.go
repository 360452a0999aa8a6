// Package demoapp is the small inventory API that `rampart demo` puts behind the
// gateway. It behaves like a typical Flask service, warts included: it
// announces its software in Server/X-Powered-By and answers an internal error
// with a traceback — so the demo can show the gateway hiding both.
package demoapp

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Item is one inventory entry.
type Item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Qty  int    `json:"qty"`
}

// App is the inventory service.
type App struct {
	mu     sync.Mutex
	items  map[int]Item
	nextID int
	mux    *http.ServeMux
}

// New returns the service with a few items.
func New() *App {
	a := &App{items: map[int]Item{}, nextID: 1, mux: http.NewServeMux()}
	for _, it := range []Item{{Name: "bolt", Qty: 120}, {Name: "nut", Qty: 300}, {Name: "washer", Qty: 75}} {
		it.ID = a.nextID
		a.items[it.ID] = it
		a.nextID++
	}
	a.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.mux.HandleFunc("GET /api/items", a.list)
	a.mux.HandleFunc("POST /api/items", a.create)
	a.mux.HandleFunc("GET /api/items/{id}", a.get)
	a.mux.HandleFunc("GET /api/whoami", whoami)
	a.mux.HandleFunc("GET /api/debug/crash", crash)
	return a
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "Werkzeug/3.0.1 Python/3.11.7")
	w.Header().Set("X-Powered-By", "Flask")
	a.mux.ServeHTTP(w, r)
}

func (a *App) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	out := make([]Item, 0, len(a.items))
	for _, it := range a.items {
		out = append(out, it)
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (a *App) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	a.mu.Lock()
	it, ok := a.items[id]
	a.mu.Unlock()
	if err != nil || !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such item"})
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (a *App) create(w http.ResponseWriter, r *http.Request) {
	var in Item
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || strings.TrimSpace(in.Name) == "" || in.Qty < 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "expected {\"name\": string, \"qty\": non-negative int}"})
		return
	}
	a.mu.Lock()
	in.ID = a.nextID
	a.nextID++
	a.items[in.ID] = in
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, in)
}

// whoami shows what the service was told about the caller, so the demo can
// prove that spoofed forwarding headers do not get through.
func whoami(w http.ResponseWriter, r *http.Request) {
	seen := map[string]string{"remote_addr": r.RemoteAddr, "host": r.Host}
	for k, v := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-") || lk == "forwarded" {
			seen[lk] = strings.Join(v, ", ")
		}
	}
	writeJSON(w, http.StatusOK, seen)
}

// crash answers like a Flask app in debug mode: a traceback with a secret in it.
func crash(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte(`Traceback (most recent call last):
  File "/srv/inventory/app.py", line 42, in get_report
    conn = psycopg2.connect("postgresql://inventory:S3cr3t-DB-pa55@db.internal:5432/inventory")
psycopg2.OperationalError: could not connect to server
`))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
