package test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestIncidentCLI declares an incident without Slack and finds it through
// the search attributes the incident workflow keeps current.
func TestIncidentCLI(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, filepath.Join(dir, "data"))
	env := []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_LOG_LEVEL=warn"}

	if code, out := cli(t, env, "incident", "declare", "DB down", "--sev", "9"); code != 2 || !strings.Contains(out, `--sev "9"`) {
		t.Fatalf("bad severity: exit %d\n%s", code, out)
	}
	// The severity as Slack's /incident declare takes it: a second argument.
	code, out := cli(t, env, "incident", "declare", "DB down", "sev2", "--as", "U0DECL")
	key := regexp.MustCompile(`INC-\d{4}-\d{4}`).FindString(out)
	if code != 0 || key == "" {
		t.Fatalf("declare: exit %d\n%s", code, out)
	}
	waitFor(t, func() bool {
		_, out := cli(t, env, "incident", "list")
		return strings.Contains(out, key) && strings.Contains(out, "SEV2") && strings.Contains(out, "declared")
	})
	if _, out := cli(t, env, "incident", "list", "--sev", "1"); strings.Contains(out, key) {
		t.Fatalf("--sev 1 lists a SEV2 incident:\n%s", out)
	}
	if code, out := cli(t, env, "incident", "status", key); code != 0 || !strings.Contains(out, "DB down") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "incident", "timeline", key); code != 0 || !strings.Contains(out, "incident_declared") || !strings.Contains(out, "by U0DECL") {
		t.Fatalf("timeline: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "incident", "status", "INC-1999-0001"); code != 1 || !strings.Contains(out, "INC-1999-0001") {
		t.Fatalf("unknown incident: exit %d\n%s", code, out)
	}
}
