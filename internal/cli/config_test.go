package cli

import (
	"bytes"
	"context"
	"os"
	"testing"
)

func TestConfigSchema(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"config", "schema"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// The committed copy is what editors point at; internal/config
	// TestGenerated keeps it current.
	want, err := os.ReadFile("../../docs/rampart.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), want) {
		t.Error("rampart config schema differs from docs/rampart.schema.json")
	}

	stdout.Reset()
	stderr.Reset()
	if code := Run(context.Background(), []string{"config", "scheme"}, nil, &stdout, &stderr); code != 2 || stdout.Len() != 0 || !bytes.Contains(stderr.Bytes(), []byte("rampart config schema")) {
		t.Errorf("unknown subcommand: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
