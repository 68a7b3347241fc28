package test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/firebreak-ir/firebreak/workflows"
)

// cliSplit runs one firebreak command and keeps stdout and stderr apart.
func cliSplit(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// cliKey writes a fresh OpenSSH ed25519 private key into dir and returns
// its path and its authorized_keys line.
func cliKey(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return path, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
}

// openGate waits for step's approval gate in run and returns its plan hash.
func openGate(t *testing.T, env []string, run, step string) string {
	t.Helper()
	var hash string
	waitFor(t, func() bool {
		code, out := cli(t, env, "playbook", "status", run, "--json")
		var st workflows.RunStatus
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		for _, s := range st.Steps {
			if s.ID == step && s.Approval != nil && s.Approval.Open {
				hash = s.Approval.PlanHash
			}
		}
		return hash != ""
	})
	return hash
}

// TestCLIIdentity: from the CLI one person cannot pass for two approvers
// with two --as names, nor approve a run requested from the CLI (both
// names are claims); a vote signed with a key from the worker's
// access.cli.keys counts as its Slack user.
func TestCLIIdentity(t *testing.T) {
	dir := t.TempDir()
	key1, pub1 := cliKey(t, dir, "ic1")
	key2, pub2 := cliKey(t, dir, "ic2")
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte(`access:
  groups:
    incident-commanders: [U0IC1, U0IC2, U0IC3, U0IC4]
  cli:
    keys:
      U0IC1: `+pub1+`
      U0IC2: `+pub2+`
`), 0o600); err != nil {
		t.Fatal(err)
	}
	books := filepath.Join(dir, "playbooks")
	if err := os.Mkdir(books, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, approval := range map[string]string{
		// allow_requester lifts the CLI self-approval rule, so this one
		// shows the one-vote rule alone.
		"two-keys": "{group: incident-commanders, min: 2, timeout: 10m, allow_requester: true}",
		"one-key":  "{group: incident-commanders, min: 1, timeout: 10m}",
	} {
		pb := "apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: " + name + "}\nsteps:\n" +
			"  - id: isolate\n    action: core.log\n    with: {message: isolate}\n    approval: " + approval + "\n"
		if err := os.WriteFile(filepath.Join(books, name+".yaml"), []byte(pb), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := startDev(t, filepath.Join(dir, "data"), "FIREBREAK_CONFIG="+cfg)
	// The CLI has no config of its own here: what counts is the worker's.
	env := []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_PLAYBOOKS=" + books, "FIREBREAK_LOG_LEVEL=warn"}

	// One person, two names, a min-2 gate: the second name is refused.
	// (U0IC3 and U0IC4 have no keys: a key holder's name needs the key.)
	if code, out := cli(t, env, "playbook", "run", "two-keys", "--as", "U0REQ", "--id", "two-names", "--detach"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	hash := openGate(t, env, "two-names", "isolate")
	code, _, stderr := cliSplit(t, env, "playbook", "approve", "two-names", "isolate", "--as", "U0IC2", "--plan-hash", hash)
	if code != 1 || !strings.Contains(stderr, "U0IC2 has a CLI key in access.cli.keys, so an unsigned CLI approval as U0IC2 is refused") {
		t.Fatalf("unsigned as a key holder: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := cliSplit(t, env, "playbook", "approve", "two-names", "isolate", "--as", "U0IC3", "--plan-hash", hash)
	if code != 0 || !strings.Contains(stdout, "approved step isolate (1 of 2: U0IC3)") || !strings.Contains(stderr, "voted as U0IC3, an unverified CLI identity") {
		t.Fatalf("first name: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, stderr = cliSplit(t, env, "playbook", "approve", "two-names", "isolate", "--as", "U0IC4", "--plan-hash", hash)
	if code != 1 || stdout != "" {
		t.Fatalf("second name: exit %d, want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{
		"refused: step isolate already has its one unverified CLI approval (as U0IC3)",
		"unverified CLI votes count once per gate however many names they use",
		"approve from Slack, or sign the vote with `--key FILE`",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("second name: stderr lacks %q:\n%s", want, stderr)
		}
	}
	// The same person with a key is U0IC2, verified: the gate opens.
	code, stdout, stderr = cliSplit(t, append(env, "FIREBREAK_CLI_KEY="+key2), "playbook", "approve", "two-names", "isolate", "--as", "U0IC2", "--plan-hash", hash)
	if code != 0 || !strings.Contains(stdout, "approved step isolate (2 of 2: U0IC3, U0IC2); it runs now") || !strings.Contains(stderr, "verified by your CLI key") {
		t.Fatalf("signed: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	waitFor(t, func() bool {
		st, ok := runStatus(t, env, "two-names")
		return ok && st.Status == workflows.RunSucceeded
	})
	code, out := cli(t, env, "playbook", "timeline", "two-names", "--json")
	var ev []workflows.Event
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil {
		t.Fatalf("timeline: exit %d\n%s", code, out)
	}
	var votes []string
	for _, e := range ev {
		if e.Kind == workflows.EventApprovalVote {
			votes = append(votes, e.Actor+"@"+e.Origin+": "+e.Detail)
		}
	}
	if len(votes) != 2 || !strings.HasPrefix(votes[0], "U0IC3@cli: ") || !strings.Contains(votes[0], "unverified CLI identity") ||
		!strings.HasPrefix(votes[1], "U0IC2@cli: ") || !strings.Contains(votes[1], "identity verified by CLI key") {
		t.Fatalf("votes on the timeline:\n%s", strings.Join(votes, "\n"))
	}

	// A run requested from the CLI: an unverified CLI approval may be its
	// requester's own; a signed one is U0IC1's.
	if code, out := cli(t, env, "playbook", "run", "one-key", "--as", "U0REQ", "--id", "self", "--detach"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	hash = openGate(t, env, "self", "isolate")
	code, _, stderr = cliSplit(t, env, "playbook", "approve", "self", "isolate", "--as", "U0IC3", "--plan-hash", hash)
	if code != 1 || !strings.Contains(stderr, "this run was not requested through Slack: its requester, U0REQ, is a name only Temporal access backs") {
		t.Fatalf("unverified on a CLI run: exit %d\n%s", code, stderr)
	}
	// A key that is not U0IC1's does not pass for U0IC1.
	code, _, stderr = cliSplit(t, env, "playbook", "approve", "self", "isolate", "--as", "U0IC1", "--key", key2, "--plan-hash", hash)
	if code != 1 || !strings.Contains(stderr, "does not verify with U0IC1's key in access.cli.keys") {
		t.Fatalf("wrong key: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = cliSplit(t, env, "playbook", "approve", "self", "isolate", "--as", "U0IC1", "--key", key1, "--plan-hash", hash)
	if code != 0 || !strings.Contains(stdout, "approved step isolate (1 of 1: U0IC1); it runs now") {
		t.Fatalf("signed on a CLI run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	waitFor(t, func() bool { st, ok := runStatus(t, env, "self"); return ok && st.Status == workflows.RunSucceeded })
}
