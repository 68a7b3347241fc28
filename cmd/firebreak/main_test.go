package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "firebreak ") || !strings.Contains(out, "temporal sdk") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"dev", "--no-such-flag"},
		{"no-such-command"},
		{"version", "extra"},
		{"dev", "--temporal-port", "seventy"},
	} {
		code, _, errOut := runCLI(t, nil, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, exitUsage, errOut)
		}
		if !strings.HasPrefix(errOut, "firebreak: ") {
			t.Errorf("%v: stderr %q lacks the firebreak: prefix", args, errOut)
		}
	}
}

func TestConfigErrorsExitTwoBeforeStarting(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte("log:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"file via flag": {nil, []string{"dev", "--config", cfg, "--data-dir", data}, cfg + ":2:3: log.level"},
		"file via env":  {map[string]string{"FIREBREAK_CONFIG": cfg}, []string{"worker"}, cfg + ":2:3: log.level"},
		"bad flag value": {nil, []string{"dev", "--http", "nonsense", "--data-dir", data},
			`--http (http.addr): want host:port, got "nonsense"`},
		"missing file": {nil, []string{"serve", "--config", filepath.Join(dir, "absent.yaml")}, "absent.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.env, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d: %s", code, exitUsage, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, errOut)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Fatal("data dir was created despite bad configuration")
			}
		})
	}
}
