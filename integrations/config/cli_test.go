package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// authorizedKey renders pub as an authorized_keys line.
func authorizedKey(t *testing.T, pub any) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " someone@host"
}

func newEd25519Line(t *testing.T) (string, ed25519.PublicKey) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return authorizedKey(t, pub), pub
}

func TestCLIDefaultsToOneVote(t *testing.T) {
	cfg, err := Load("", env(nil), ModeWorker)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Access.CLI.Approvals != CLIApprovalsOne || len(cfg.Access.CLI.PublicKeys()) != 0 {
		t.Fatalf("default access.cli: %+v", cfg.Access.CLI)
	}
}

func TestCLIKeysDecode(t *testing.T) {
	cfg, err := Load("testdata/full.yaml", env(nil), ModeWorker)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Access.CLI.Approvals != CLIApprovalsVerified {
		t.Errorf("approvals: got %q", cfg.Access.CLI.Approvals)
	}
	keys := cfg.Access.CLI.PublicKeys()
	if len(keys) != 2 || len(keys["U0IC1"]) != ed25519.PublicKeySize || keys["U0IC1"].Equal(keys["U0IC2"]) {
		t.Fatalf("keys: %v", keys)
	}

	line, pub := newEd25519Line(t)
	path := writeFile(t, "access:\n  cli:\n    approvals: forbid\n    keys:\n      W0ALICE: "+line+"\n")
	cfg, err = Load(path, env(nil), ModeWorker)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Access.CLI.PublicKeys()["W0ALICE"]; !pub.Equal(got) || cfg.Access.CLI.Approvals != CLIApprovalsForbid {
		t.Fatalf("got %x mode %q, want %x forbid", got, cfg.Access.CLI.Approvals, pub)
	}
}

func TestCLIErrors(t *testing.T) {
	line, _ := newEd25519Line(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, file, want string
	}{
		{"unknown mode", "access:\n  cli:\n    approvals: sometimes\n",
			`firebreak.yaml:3:5: access.cli.approvals: want one, verified or forbid, got "sometimes"`},
		{"unknown key", "access:\n  cli:\n    approval: one\n",
			`firebreak.yaml:3:5: access.cli.approval: unknown key (did you mean "approvals"?)`},
		{"keys must be a mapping", "access:\n  cli:\n    keys: [a]\n",
			"firebreak.yaml:3:11: access.cli.keys: want a mapping, got a list"},
		{"unparseable key", "access:\n  cli:\n    keys:\n      U0IC1: not a key\n",
			"firebreak.yaml:4:7: access.cli.keys.U0IC1: want an authorized_keys line"},
		{"not ed25519", "access:\n  cli:\n    keys:\n      U0IC1: " + authorizedKey(t, &ec.PublicKey) + "\n",
			"firebreak.yaml:4:7: access.cli.keys.U0IC1: want an ssh-ed25519 key, got ecdsa-sha2-nistp256"},
		{"a user group is not a person", "access:\n  cli:\n    keys:\n      S0SRE: " + line + "\n",
			`firebreak.yaml:4:7: access.cli.keys.S0SRE: want a Slack user ID (U…/W…) as the key, got "S0SRE"`},
		{"one key for two people", "access:\n  cli:\n    keys:\n      U0A: " + line + "\n      U0B: " + line + "\n",
			"firebreak.yaml:5:7: access.cli.keys.U0B: the same key is configured for U0A: each approver needs their own key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file)
			_, err := Load(path, env(nil), ModeWorker)
			if err == nil || !IsConfigError(err) {
				t.Fatalf("want a config error, got %v", err)
			}
			if msg := strings.ReplaceAll(err.Error(), path, "firebreak.yaml"); !strings.Contains(msg, tt.want) {
				t.Fatalf("error lacks %q:\n%s", tt.want, msg)
			}
		})
	}
}
