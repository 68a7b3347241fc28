package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/activities"
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

// TestReadmeAWSPolicies: the IAM policy README shows for each AWS playbook is what
// `playbook iam-policy` prints, statement by statement.
func TestReadmeAWSPolicies(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ec2-compromise-containment", "aws-access-key-compromise", "web-attack-block", "emergency-patch"} {
		code, out, errOut := runCLI(t, nil, "playbook", "iam-policy", name)
		if code != 0 {
			t.Fatalf("iam-policy %s: exit %d %s", name, code, errOut)
		}
		var p activities.Policy
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "IAM policy (`firebreak playbook iam-policy %s`):\n\n", name)
		for _, st := range p.Statement {
			fmt.Fprintf(&b, "- %s on %s\n", backticks(st.Action), backticks(st.Resource))
		}
		if !strings.Contains(string(readme), b.String()) {
			t.Errorf("README's policy of %s is not what iam-policy prints; it prints:\n%s", name, b.String())
		}
	}
}

func backticks(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, ", ")
}
