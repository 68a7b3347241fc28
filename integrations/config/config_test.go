package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "firebreak.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFullFile(t *testing.T) {
	cfg, err := Load("testdata/full.yaml", env(nil), ModeWorker)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Temporal.Namespace != "incidents" || !cfg.Temporal.TLS.Enabled || cfg.HTTP.ShutdownTimeout != 10*time.Second {
		t.Errorf("temporal/http not decoded: %+v %+v", cfg.Temporal, cfg.HTTP)
	}
	if cfg.Temporal.DevPort != 7300 || cfg.Temporal.UIPort != 8300 || !cfg.Temporal.Headless {
		t.Errorf("dev server keys not decoded: %+v", cfg.Temporal)
	}
	if got := cfg.AWS.Accounts["prod"].QuarantineSG; got != "sg-0123456789abcdef0" {
		t.Errorf("aws account: got %q", got)
	}
	if got := cfg.Access.Groups["incident-commanders"]; len(got) != 2 || got[1] != "U0IC2" {
		t.Errorf("groups: got %v", got)
	}
	if cfg.Access.Declare == nil || len(cfg.Access.Declare) != 0 {
		t.Errorf("declare: want empty list, got %#v", cfg.Access.Declare)
	}
}

func TestEnvOverridesFileAndFlagsOverrideEnv(t *testing.T) {
	path := writeFile(t, "temporal:\n  namespace: from-file\nhttp:\n  addr: 127.0.0.1:1\n")
	cfg, err := Load(path, env(map[string]string{
		"TEMPORAL_NAMESPACE":  "from-env",
		"FIREBREAK_HTTP_ADDR": "127.0.0.1:2",
	}), ModeDev, Override{Env: "FIREBREAK_HTTP_ADDR", Flag: "--http", Value: "127.0.0.1:3"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Temporal.Namespace != "from-env" {
		t.Errorf("namespace: got %q, want from-env", cfg.Temporal.Namespace)
	}
	if cfg.HTTP.Addr != "127.0.0.1:3" {
		t.Errorf("http addr: got %q, want the flag's", cfg.HTTP.Addr)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		mode Mode
		want []string // each must appear in the error, in order
	}{
		{
			name: "unknown key with suggestion",
			file: "http:\n  adr: 127.0.0.1:8080\n",
			want: []string{"firebreak.yaml:2:3: http.adr: unknown key (did you mean \"addr\"?)"},
		},
		{
			name: "unknown top-level key",
			file: "slak:\n  api_url: x\n",
			want: []string{"firebreak.yaml:1:1: slak: unknown key (did you mean \"slack\"?)"},
		},
		{
			name: "bad duration",
			file: "http:\n  shutdown_timeout: 5 minutes\n",
			want: []string{`firebreak.yaml:2:21: http.shutdown_timeout: invalid duration "5 minutes"`},
		},
		{
			name: "wrong type",
			file: "temporal:\n  tls:\n    enabled: sometimes\n",
			want: []string{`firebreak.yaml:3:14: temporal.tls.enabled: want true or false, got "sometimes"`},
		},
		{
			name: "list where mapping expected",
			file: "access:\n  groups: [a, b]\n",
			want: []string{"firebreak.yaml:2:11: access.groups: want a mapping, got a list"},
		},
		{
			name: "invalid value",
			file: "log:\n  level: loud\n",
			want: []string{`firebreak.yaml:2:3: log.level: want debug, info, warn or error, got "loud"`},
		},
		{
			name: "bad member id",
			file: "access:\n  groups:\n    ic: [Alice Smith]\n",
			want: []string{`firebreak.yaml:3:5: access.groups.ic: entry 0: want a Slack user ID`},
		},
		{
			name: "missing signing secret for http mode points at the slack section",
			file: "slack:\n  api_url: https://slack.com/api/\n",
			env:  map[string]string{"SLACK_BOT_TOKEN": "xoxb-1"},
			mode: ModeServe,
			want: []string{"firebreak.yaml:1:1: slack.signing_secret: is required to verify Slack's HTTP requests"},
		},
		{
			name: "missing signing secret without a file names the variable",
			env:  map[string]string{"SLACK_BOT_TOKEN": "xoxb-1"},
			mode: ModeDev,
			want: []string{"SLACK_SIGNING_SECRET (slack.signing_secret): is required"},
		},
		{
			name: "tls cert without key",
			file: "temporal:\n  tls:\n    cert_file: c.pem\n",
			want: []string{"firebreak.yaml:2:3: temporal.tls.key_file: is required when a TLS certificate is set"},
		},
		{
			name: "env value error names the variable",
			env:  map[string]string{"GITHUB_APP_ID": "abc"},
			want: []string{`GITHUB_APP_ID (github.app_id): want a positive integer, got "abc"`},
		},
		{
			name: "slack api url must end in a slash",
			env:  map[string]string{"SLACK_API_URL": "http://127.0.0.1:9/api"},
			want: []string{"SLACK_API_URL (slack.api_url): must end in /"},
		},
		{
			name: "yaml syntax error has a line",
			file: "http:\n  addr: [\n",
			want: []string{"firebreak.yaml:2:1: (syntax): did not find expected node content"},
		},
		{
			name: "several errors at once, in file order",
			file: "log:\n  level: loud\nhttp:\n  bogus: 1\n  shutdown_timeout: soon\n",
			want: []string{
				"firebreak.yaml:2:3: log.level",
				"firebreak.yaml:4:3: http.bogus: unknown key",
				"firebreak.yaml:5:21: http.shutdown_timeout: invalid duration",
			},
		},
		{
			name: "aws account id is 12 digits",
			file: "aws:\n  accounts:\n    prod:\n      account_id: 1234\n",
			want: []string{`firebreak.yaml:4:7: aws.accounts.prod.account_id: want a 12-digit AWS account ID (quote it in YAML), got "1234"`},
		},
		{
			name: "aws role arn must be a role",
			file: "aws:\n  accounts:\n    prod:\n      role_arn: arn:aws:iam::123456789012:user/bob\n",
			want: []string{`aws.accounts.prod.role_arn: want an IAM role ARN`},
		},
		{
			name: "aws role arn in another account",
			file: "aws:\n  accounts:\n    prod:\n      account_id: \"111111111111\"\n      role_arn: arn:aws:iam::222222222222:role/firebreak\n",
			want: []string{`aws.accounts.prod.role_arn: role arn:aws:iam::222222222222:role/firebreak is in account 222222222222, but account_id says 111111111111`},
		},
		{
			name: "aws external id characters",
			file: "aws:\n  accounts:\n    prod:\n      external_id: \"has space\"\n",
			want: []string{`aws.accounts.prod.external_id: want 2 to 1224 characters`},
		},
		{
			name: "waf never_block must be CIDRs",
			file: "aws:\n  wafv2:\n    never_block: [10.0.0.0/8, office]\n",
			want: []string{`aws.wafv2.never_block: entry 1: want a CIDR (203.0.113.0/24, 2001:db8::/32) or an address, got "office"`},
		},
		{
			name: "waf max_block positive",
			file: "aws:\n  wafv2:\n    max_block: -1\n",
			want: []string{`aws.wafv2.max_block: want a positive number, got -1`},
		},
		{
			name: "duplicate key",
			file: "http:\n  addr: 127.0.0.1:1\nhttp:\n  addr: 127.0.0.1:2\n",
			want: []string{"firebreak.yaml:3:1: http: duplicate key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			mode := tt.mode
			if mode == "" {
				mode = ModeWorker
			}
			_, err := Load(path, env(tt.env), mode)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !IsConfigError(err) {
				t.Fatalf("want a config error, got %T: %v", err, err)
			}
			msg := err.Error()
			if path != "" {
				msg = strings.ReplaceAll(msg, path, "firebreak.yaml")
			}
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error does not contain %q (in order):\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestMissingFileIsNotAConfigError(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil), ModeDev)
	if err == nil || IsConfigError(err) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("want a read error naming the file, got %v", err)
	}
}

// TestSecretNeverPrints plants a canary and looks for it in every way a
// Secret might be rendered.
func TestSecretNeverPrints(t *testing.T) {
	const canary = "xoxb-CANARY-7f3a9c"
	cfg, err := Load("", env(map[string]string{
		"SLACK_BOT_TOKEN":      canary,
		"SLACK_SIGNING_SECRET": canary,
		"TEMPORAL_API_KEY":     canary,
		"GITHUB_TOKEN":         canary,
	}), ModeDev)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.BotToken.Reveal() != canary {
		t.Fatal("Reveal must return the value")
	}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		fmt.Fprintf(&out, verb+"\n", cfg)
		fmt.Fprintf(&out, verb+"\n", cfg.Slack)
		fmt.Fprintf(&out, verb+"\n", cfg.Slack.BotToken)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(js)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("cfg", "cfg", cfg, "tok", cfg.Slack.BotToken)
	slog.New(slog.NewTextHandler(&out, nil)).Info("cfg", "cfg", cfg, "tok", cfg.Slack.BotToken)
	if strings.Contains(out.String(), canary) {
		t.Fatalf("canary leaked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Fatalf("want [redacted] in output:\n%s", out.String())
	}
	// An error message about a secret must not echo it either.
	_, err = Load("", env(map[string]string{"SLACK_BOT_TOKEN": "x", "SLACK_APP_TOKEN": canary}), ModeDev)
	if err == nil || strings.Contains(err.Error(), canary) {
		t.Fatalf("want an error without the canary, got %v", err)
	}
}
