package admin_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/detect"
)

const blocksToken = "blocks-admin-token-0123456789abcdef012345"

func TestBlocksAPI(t *testing.T) {
	table := detect.NewTable()
	var audit bytes.Buffer
	h := admin.New(blocksToken, func() admin.Readiness { return admin.Readiness{Ready: true} })
	(&admin.BlocksAPI{Table: table, Audit: slog.New(slog.NewJSONHandler(&audit, nil)), Replica: "gw-a"}).Mount(h)
	do := func(method, path, body, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("GET", "/admin/v1/blocks", "", "wrong-token-wrong-token-wrong-token-xx"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("without the token: %d", rec.Code)
	}
	for _, bad := range []string{
		`{"subject":"not-an-ip","duration":"1h"}`,
		`{"subject":"203.0.113.7","duration":"forever"}`,
		`{"subject":"203.0.113.7","duration":"0s"}`,
		`{"subject":"203.0.113.7","duration":"1h","reason":"two\nlines"}`,
		`{"subject":"principal:","duration":"1h"}`,
		`{"subject":"203.0.113.7","duration":"1h","extra":1}`,
	} {
		if rec := do("POST", "/admin/v1/blocks", bad, blocksToken); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", bad, rec.Code, rec.Body)
		}
	}
	if len(table.List()) != 0 {
		t.Fatal("a refused request added a block")
	}
	rec := do("POST", "/admin/v1/blocks", `{"subject":"2001:db8::/48","duration":"2h","reason":"ticket 1"}`, blocksToken)
	if rec.Code != http.StatusCreated {
		t.Fatalf("add: %d %s", rec.Code, rec.Body)
	}
	if _, ok := table.Client(netip.MustParseAddr("2001:db8:0:7::1"), time.Now()); !ok {
		t.Fatal("the block is not enforced")
	}
	do("POST", "/admin/v1/blocks", `{"subject":"principal:keys:k_1","duration":"10m"}`, blocksToken)
	var list struct {
		Blocks []struct {
			ID, Detector, Reason, Source string
			ExpiresIn                    int64 `json:"expires_in_seconds"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(do("GET", "/admin/v1/blocks", "", blocksToken).Body.Bytes(), &list); err != nil || len(list.Blocks) != 2 {
		t.Fatalf("list: %v %+v", err, list)
	}
	if b := list.Blocks[1]; b.ID != "2001:db8::/48" || b.Detector != "operator" || b.Reason != "ticket 1" || b.Source != "operator@gw-a" || b.ExpiresIn < 7190 {
		t.Errorf("listed %+v", b)
	}
	if rec := do("DELETE", "/admin/v1/blocks/2001:db8::%2F48", "", blocksToken); rec.Code != http.StatusNoContent {
		t.Fatalf("remove: %d %s", rec.Code, rec.Body)
	}
	if rec := do("DELETE", "/admin/v1/blocks/2001:db8::%2F48", "", blocksToken); rec.Code != http.StatusNotFound {
		t.Errorf("remove again: %d", rec.Code)
	}
	if rec := do("DELETE", "/admin/v1/blocks/principal:keys:k_1", "", blocksToken); rec.Code != http.StatusNoContent {
		t.Errorf("remove principal: %d", rec.Code)
	}
	for _, ev := range []string{`"event":"block_added","actor":"admin-token"`, `"block":"2001:db8::/48"`, `"event":"block_removed"`} {
		if !strings.Contains(audit.String(), ev) {
			t.Errorf("audit log lacks %s:\n%s", ev, audit.String())
		}
	}
}
