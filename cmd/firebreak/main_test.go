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

func TestVersionCommand(t *testing.T) {
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

// TestClientCommandUsageErrors: mistakes in a client command's arguments
// are caught before anything dials Temporal, with exit 2 and the reason.
func TestClientCommandUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"playbook", "run", "rollback-drill", "--input", "fail"}, `--input "fail": want key=value`},
		{[]string{"playbook", "run", "rollback-drill", "--input", "=x"}, `--input "=x": want key=value`},
		{[]string{"playbook", "run", "rollback-drill", "-i", "fail=maybe"}, `input "fail"`},
		{[]string{"playbook", "run", "rollback-drill", "-i", "nope=1"}, `unknown input "nope"`},
		{[]string{"playbook", "run", "no-such-playbook"}, `no playbook named "no-such-playbook"`},
		{[]string{"playbook", "approve", "run-1", "isolate"}, "--plan-hash is required"},
		{[]string{"incident", "list", "--sev", "9"}, `--sev "9": use 1, 2, 3 or 4`},
		{[]string{"incident", "declare", "x", "--sev", "0"}, `--sev "0": use 1, 2, 3 or 4`},
		{[]string{"incident", "declare", "Disk", "full"}, `severity "full": use sev1, sev2, sev3 or sev4 (or 1 to 4); quote a title with spaces`},
		{[]string{"incident", "declare", "x", "sev2", "--sev", "2"}, `severity given twice ("sev2" and --sev "2")`},
		{[]string{"incident", "declare", "  "}, "an incident needs a title"},
		{[]string{"incident", "status"}, "accepts between 1 and 2 arg(s), received 0"},
		{[]string{"incident", "status", "inc-2026-0001", "resolved"}, `status "resolved": use investigating, contained, recovering (resolve with`},
		{[]string{"incident", "sev", "inc-2026-0001", "5"}, `severity "5": use 1, 2, 3 or 4`},
		{[]string{"incident", "role", "inc-2026-0001", "boss", "U1"}, `role "boss": use commander, scribe, comms`},
		{[]string{"incident", "role", "inc-2026-0001", "scribe"}, "accepts 3 arg(s), received 2"},
		{[]string{"incident", "note", "inc-2026-0001", " "}, "a note needs text"},
		{[]string{"incident", "note", "inc-2026-0001"}, "requires at least 2 arg(s)"},
		{[]string{"incident", "run", "inc-2026-0001", "rollback-dril"}, `did you mean "rollback-drill"?`},
		{[]string{"incident", "plan", "inc-2026-0001", "rollback-drill", "-i", "nope=1"}, `unknown input "nope"`},
		{[]string{"playbook", "runs", "--status", "happy"}, `--status "happy": use one of running, succeeded`},
		{[]string{"playbook", "runs", "--limit", "0"}, "--limit 0: want 1 or more"},
		{[]string{"playbook", "watch"}, "accepts 1 arg(s), received 0"},
	} {
		code, _, errOut := runCLI(t, map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1"}, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, exitUsage, tc.want, errOut)
		}
	}
}
