package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeConfigErrorExample: the configuration errors README shows are
// what the binary prints for the file below, word for word, so the
// example cannot promise a hint the binary does not give.
func TestReadmeConfigErrorExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "```\nfirebreak: invalid configuration:\n"
	i := strings.Index(string(readme), start)
	if i < 0 {
		t.Fatal("README has no configuration error example")
	}
	rest := string(readme[i+len("```\n"):])
	want := rest[:strings.Index(rest, "```")]

	t.Chdir(t.TempDir())
	file := "http:\n  adr: 127.0.0.1:8080\n  # how long a stopping server waits\n  # for requests in flight\n  shutdown_timeout: 5 minutes\n"
	if err := os.WriteFile(filepath.Join(".", "firebreak.yaml"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "dev", "--config", "firebreak.yaml")
	if code != exitUsage || errOut != want {
		t.Fatalf("exit %d, printed\n%s\nREADME shows\n%s", code, errOut, want)
	}
}
