package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrivateSeverities(t *testing.T) {
	cfg, err := Load("testdata/full.yaml", env(nil), ModeWorker)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Channels.PrivateFor("SEV1") || !cfg.Channels.PrivateFor("sev1") || cfg.Channels.PrivateFor("SEV2") {
		t.Fatalf("private severities %v", cfg.Channels.Private)
	}
	path := filepath.Join(t.TempDir(), "firebreak.yaml")
	if err := os.WriteFile(path, []byte("channels:\n  private: [sev1, critical]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, env(nil), ModeWorker)
	if err == nil || !strings.Contains(err.Error(), `firebreak.yaml:2:3: channels.private: entry 1: want a severity SEV1…SEV4, got "critical"`) {
		t.Fatalf("got %v", err)
	}
}
