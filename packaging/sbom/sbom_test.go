package sbom_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"

	"github.com/rampart-gw/rampart/packaging/internal/testbin"
	"github.com/rampart-gw/rampart/packaging/sbom"
)

// TestFromBinary reads the real rampart binary's build info: the main
// module, the modules it links with versions, purls and go.sum hashes, and
// none of the packaging module's own dependencies.
func TestFromBinary(t *testing.T) {
	bin := testbin.Rampart(t)
	b, err := sbom.FromFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if b.BOMFormat != "CycloneDX" || b.SpecVersion != "1.5" || b.Metadata.Component.Name != "github.com/rampart-gw/rampart" {
		t.Errorf("header: %+v", b)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(b.SerialNumber) {
		t.Errorf("serial %q", b.SerialNumber)
	}
	byName := map[string]sbom.Component{}
	for _, c := range b.Components {
		byName[c.Name] = c
	}
	yaml, ok := byName["go.yaml.in/yaml/v4"]
	if !ok || yaml.PURL != "pkg:golang/go.yaml.in/yaml/v4@"+yaml.Version || len(yaml.Hashes) != 1 || len(yaml.Hashes[0].Content) != 64 {
		t.Errorf("go.yaml.in/yaml/v4: %+v", yaml)
	}
	for _, heavy := range []string{"helm.sh/helm/v4", "github.com/goreleaser/nfpm/v2", "github.com/google/go-containerregistry"} {
		if _, ok := byName[heavy]; ok {
			t.Errorf("the gateway links %s: packaging dependencies leaked into it", heavy)
		}
	}
	if len(b.Dependencies) != 1 || len(b.Dependencies[0].DependsOn) != len(b.Components) {
		t.Errorf("dependencies: %+v", b.Dependencies)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	// Deterministic: the same binary gives the same bytes.
	again, _ := sbom.FromFile(bin)
	if !bytes.Equal(again.JSON(), b.JSON()) {
		t.Error("two SBOMs of one binary differ")
	}
}
