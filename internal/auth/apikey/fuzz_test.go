package apikey

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
)

// FuzzAuthenticate: whatever arrives in X-API-Key and Authorization, the
// authenticator never panics, never accepts anything but the one real key,
// and refuses only with ErrNoCredential, 400 or 401.
func FuzzAuthenticate(f *testing.F) {
	s := openSQLite(f, filepath.Join(f.TempDir(), "k.db"), nil)
	_, full, err := s.CreateKey(context.Background(), store.KeySpec{Consumer: "acme"})
	if err != nil {
		f.Fatal(err)
	}
	a := newAuth(f, Config{Name: "partners", Authorization: true}, s)
	f.Add(full, "")
	f.Add("", "ApiKey "+full)
	f.Add(full[:len(full)-1]+"A", "")
	f.Add(full+","+full, "")
	f.Add(" "+full+"\t", "apikey")
	f.Add(strings.Repeat("rk_", 400), "ApiKey ")
	f.Fuzz(func(t *testing.T, header, authorization string) {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header["X-Api-Key"] = []string{header}
		}
		if authorization != "" {
			r.Header["Authorization"] = []string{authorization}
		}
		p, err := a.Authenticate(r)
		if err == nil {
			if p == nil || p.Subject != "acme" {
				t.Fatalf("accepted %q / %q as %+v", header, authorization, p)
			}
			got := strings.Trim(header, " \t")
			if header == "" {
				_, got, _ = strings.Cut(strings.TrimLeft(authorization, " \t"), " ")
				got = strings.Trim(got, " \t")
			}
			if got != full {
				t.Fatalf("accepted %q / %q, which is not the key", header, authorization)
			}
			return
		}
		if errors.Is(err, auth.ErrNoCredential) {
			return
		}
		var rej *pipeline.Rejection
		if !errors.As(err, &rej) || (rej.Status != 400 && rej.Status != 401) {
			t.Fatalf("%q / %q → %v", header, authorization, err)
		}
	})
}
