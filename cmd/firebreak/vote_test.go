package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/firebreak-ir/firebreak/integrations/config"
	"github.com/firebreak-ir/firebreak/workflows"
)

// writeKey writes key in OpenSSH format (encrypted with pass if set) and
// returns the path and the public key's authorized_keys line.
func writeKey(t *testing.T, key any, pass string) (string, string) {
	t.Helper()
	var block *pem.Block
	var err error
	if pass == "" {
		block, err = ssh.MarshalPrivateKey(key, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(key, "test", []byte(pass))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return path, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

// TestReadCLIKeyMatchesConfig: the key the CLI reads signs what the
// worker's config key (the same key's authorized_keys line) verifies.
func TestReadCLIKeyMatchesConfig(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path, line := writeKey(t, priv, "")
	key, err := readCLIKey(path, strings.NewReader(""), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := config.ParseCLIKey(line)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, []byte("m"), ed25519.Sign(key, []byte("m"))) {
		t.Fatal("a signature by the CLI's key does not verify with the config's key")
	}
}

func TestReadCLIKeyRefusals(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	encrypted, _ := writeKey(t, priv, "hunter2")
	notEd, _ := writeKey(t, ec, "")
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ path, want string }{
		"missing file": {filepath.Join(t.TempDir(), "absent"), "--key: open"},
		"not a key":    {garbage, "want an OpenSSH ed25519 private key"},
		"not ed25519":  {notEd, "want an ed25519 key, got *ecdsa.PrivateKey"},
		// Tests have no terminal: the CLI must not hang or read stdin.
		"passphrase without a terminal": {encrypted, "is protected by a passphrase, and there is no terminal to ask for it"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := readCLIKey(tc.path, strings.NewReader("hunter2\n"), os.Stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatal("the error shows the passphrase")
			}
		})
	}
}

func TestKeyUser(t *testing.T) {
	_, mine, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	line := func(k ed25519.PrivateKey) string {
		p, err := ssh.NewPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return string(ssh.MarshalAuthorizedKey(p))
	}
	cli := config.CLI{Keys: map[string]string{"U0ME": line(mine), "U0YOU": line(other)}}
	for _, tc := range []struct {
		name, as, env, want string
		key                 ed25519.PrivateKey
	}{
		{"--as wins", "U0AS", "U0ENV", "U0AS", mine},
		{"the local config names the key's user", "", "U0ENV", "U0ME", mine},
		{"the other key's user", "", "", "U0YOU", other},
		{"else FIREBREAK_USER", "", "U0ENV", "U0ENV", func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }()},
	} {
		got, err := keyUser(tc.as, tc.env, tc.key, cli)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := keyUser("", "", mine, config.CLI{}); err == nil || !strings.Contains(err.Error(), "pass --as with your Slack user ID") {
		t.Fatalf("no user: %v", err)
	}
}

// TestVoteKeyErrorsExitTwoBeforeDialing: a bad --key (or FIREBREAK_CLI_KEY)
// is a usage error, found before anything dials Temporal.
func TestVoteKeyErrorsExitTwoBeforeDialing(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "absent")
	for _, tc := range []struct {
		env  map[string]string
		args []string
	}{
		{nil, []string{"playbook", "approve", "run-1", "isolate", "--plan-hash", "h", "--key", absent}},
		{map[string]string{"FIREBREAK_CLI_KEY": absent}, []string{"playbook", "reject", "run-1", "isolate"}},
	} {
		env := map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1"}
		for k, v := range tc.env {
			env[k] = v
		}
		code, _, errOut := runCLI(t, env, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, "--key: open "+absent) {
			t.Errorf("%v: exit %d, want %d with the key file named:\n%s", tc.args, code, exitUsage, errOut)
		}
	}
}

func TestResolvePlanHash(t *testing.T) {
	const full = "3fa1c2d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00"
	open := workflows.RunStatus{Steps: []workflows.StepState{
		{ID: "evidence"},
		{ID: "isolate", Approval: &workflows.ApprovalState{PlanHash: full, Open: true}},
		{ID: "closed", Approval: &workflows.ApprovalState{PlanHash: full}},
	}}
	for _, tc := range []struct {
		name, step, given, want, err string
		usage                        bool
	}{
		{name: "full hash", step: "isolate", given: full, want: full},
		{name: "8 characters", step: "isolate", given: full[:8], want: full},
		{name: "the timeline's 12", step: "isolate", given: full[:12], want: full},
		{name: "upper case", step: "isolate", given: strings.ToUpper(full[:10]), want: full},
		{name: "7 characters", step: "isolate", given: full[:7], usage: true,
			err: `--plan-hash "3fa1c2d" is too short: give at least 8 characters of step isolate's plan hash (now 3fa1c2d4e5f6`},
		{name: "another plan", step: "isolate", given: "feedface",
			err: "--plan-hash feedface does not match step isolate's plan, now 3fa1c2d4e5f6: it changed since it was shown"},
		// The validator refuses a stale full hash with its own reason.
		{name: "stale full hash", step: "isolate", given: strings.Repeat("0", len(full)), want: strings.Repeat("0", len(full))},
		// No open gate: the validator says why.
		{name: "closed gate", step: "closed", given: "abc", want: "abc"},
		{name: "no such step", step: "nope", given: "abc", want: "abc"},
	} {
		got, err := resolvePlanHash(open, "run-1", tc.step, tc.given)
		if tc.err != "" {
			var ue usageError
			if err == nil || !strings.Contains(err.Error(), tc.err) || errors.As(err, &ue) != tc.usage {
				t.Errorf("%s: got %q, %v; want error %q (usage %v)", tc.name, got, err, tc.err, tc.usage)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
