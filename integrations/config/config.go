// Package config loads Firebreak's configuration: environment variables
// first (12-factor), then an optional strict firebreak.yaml for structure
// (accounts, approver groups, channels). Every problem is reported with the
// file, line and key (or the environment variable) that caused it.
package config

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config is the whole configuration. YAML keys are snake_case.
type Config struct {
	DataDir  string   `yaml:"data_dir"`
	HTTP     HTTP     `yaml:"http"`
	Log      Log      `yaml:"log"`
	Temporal Temporal `yaml:"temporal"`
	Slack    Slack    `yaml:"slack"`
	AWS      AWS      `yaml:"aws"`
	GitHub   GitHub   `yaml:"github"`
	Access   Access   `yaml:"access"`
	Channels Channels `yaml:"channels"`

	// Source is the file the config came from ("" when env only).
	Source string `yaml:"-"`
	// positions of keys in Source, for errors found after decoding.
	pos map[string]position `yaml:"-"`
	// origin names the flag or environment variable that set a key last.
	origin map[string]string `yaml:"-"`
}

// HTTP is the bot's and operator endpoints' listener.
type HTTP struct {
	Addr string `yaml:"addr"`
	// ShutdownTimeout bounds graceful shutdown of in-flight requests.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (text on a terminal), text, json
}

// Temporal says how to reach the cluster. Address empty means the
// embedded dev server under `firebreak dev`.
type Temporal struct {
	Address   string      `yaml:"address"`
	Namespace string      `yaml:"namespace"`
	TaskQueue string      `yaml:"task_queue"`
	TLS       TemporalTLS `yaml:"tls"`
	APIKey    Secret      `yaml:"api_key"`
	// DevPort is the embedded server's frontend port (0: any free port).
	DevPort int `yaml:"dev_port"`
	// UIPort is where `firebreak dev` serves Temporal's Web UI (0: any
	// free port); Headless turns the UI off.
	UIPort   int  `yaml:"ui_port"`
	Headless bool `yaml:"headless"`

	// AddressFrom says where Address came from (a variable, a flag, a file
	// position, or the dev data dir's address file), for logs and errors.
	AddressFrom string `yaml:"-"`
}

// TemporalTLS enables TLS or mTLS to the cluster (Temporal Cloud uses mTLS or an API key).
type TemporalTLS struct {
	Enabled    bool   `yaml:"enabled"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
}

// Slack holds the bot's credentials and API base URL.
type Slack struct {
	BotToken      Secret `yaml:"bot_token"`
	SigningSecret Secret `yaml:"signing_secret"`
	AppToken      Secret `yaml:"app_token"`
	APIURL        string `yaml:"api_url"`
}

// AWS lists the accounts playbooks act in; credentials come from the SDK chain.
type AWS struct {
	Region      string `yaml:"region"`
	EndpointURL string `yaml:"endpoint_url"`
	// S3UsePathStyle addresses buckets as http://host/bucket/key, which
	// S3-compatible stores and local fakes need.
	S3UsePathStyle bool                  `yaml:"s3_use_path_style"`
	Accounts       map[string]AWSAccount `yaml:"accounts"`
	WAFv2          WAFv2                 `yaml:"wafv2"`
}

// AWSAccount is one account reached through AssumeRole.
type AWSAccount struct {
	AccountID string `yaml:"account_id"`
	RoleARN   string `yaml:"role_arn"`
	// ExternalID is passed to sts:AssumeRole when the role's trust policy
	// requires one (a role another organisation lets Firebreak assume).
	ExternalID   string `yaml:"external_id"`
	Region       string `yaml:"region"`
	QuarantineSG string `yaml:"quarantine_sg"`
}

// WAFv2 bounds what aws.wafv2.block_ips may do, whatever a playbook asks.
type WAFv2 struct {
	// MaxBlock is the most addresses one block_ips step may add; 0 means
	// DefaultWAFMaxBlock.
	MaxBlock int `yaml:"max_block"`
	// NeverBlock lists CIDRs (office egress, own NAT gateways) that no
	// step may block; a request overlapping one is refused whole.
	NeverBlock []string `yaml:"never_block"`
}

// DefaultWAFMaxBlock is how many addresses one block_ips step may add when
// aws.wafv2.max_block is unset: enough for a credential-stuffing botnet's
// worst offenders, few enough that a bad expression cannot block the world.
const DefaultWAFMaxBlock = 1000

// GitHub holds a token or GitHub App credentials.
type GitHub struct {
	APIURL            string `yaml:"api_url"`
	Token             Secret `yaml:"token"`
	AppID             int64  `yaml:"app_id"`
	AppPrivateKeyFile string `yaml:"app_private_key_file"`
	TrackingRepo      string `yaml:"tracking_repo"`
}

// Access says who may do what. Members are Slack user IDs (U…/W…) or
// Slack user group IDs (S…).
type Access struct {
	// Declare restricts who may declare incidents; empty means everyone:
	// nobody should be blocked from raising the alarm.
	Declare []string `yaml:"declare"`
	// Notes restricts who may add timeline notes; empty means everyone.
	Notes []string `yaml:"notes"`
	// Responders may run playbooks and change an incident's severity,
	// status and roles; empty means every workspace member.
	Responders []string `yaml:"responders"`
	// Commanders may abort runs and resolve incidents, as may whoever
	// holds an incident's commander role.
	Commanders []string `yaml:"commanders"`
	// Groups are approver groups named in playbooks' approval.group.
	Groups map[string][]string `yaml:"groups"`
	// Invite are added to every new incident channel.
	Invite []string `yaml:"invite"`
	// CLI says how far approvals cast from the CLI are trusted.
	CLI CLI `yaml:"cli"`
}

// CLI approval modes (access.cli.approvals).
const (
	// CLIApprovalsOne lets unverified CLI votes (--as NAME, backed only by
	// Temporal access) count as at most one vote per gate, and never on a
	// run that was itself requested from the CLI; signed votes count as
	// their user. The default.
	CLIApprovalsOne = "one"
	// CLIApprovalsVerified counts only CLI votes signed with a key from
	// access.cli.keys.
	CLIApprovalsVerified = "verified"
	// CLIApprovalsForbid refuses every CLI approval, signed or not
	// (production: approve from Slack).
	CLIApprovalsForbid = "forbid"
)

// CLI is access.cli: how the CLI's identity claims are treated.
type CLI struct {
	// Approvals is CLIApprovalsOne (default), CLIApprovalsVerified or
	// CLIApprovalsForbid.
	Approvals string `yaml:"approvals"`
	// Keys maps a Slack user ID to that person's SSH ed25519 public key
	// (an authorized_keys line). A CLI vote signed with the matching
	// private key (`--key FILE`) counts as that user.
	Keys map[string]string `yaml:"keys"`
}

// PublicKeys returns the raw ed25519 public keys of Keys by user ID. Load
// has validated them; an entry that does not parse is left out.
func (c CLI) PublicKeys() map[string]ed25519.PublicKey {
	out := make(map[string]ed25519.PublicKey, len(c.Keys))
	for user, line := range c.Keys {
		if k, err := ParseCLIKey(line); err == nil {
			out[user] = k
		}
	}
	return out
}

// ParseCLIKey parses an authorized_keys line holding an ssh-ed25519 key.
func ParseCLIKey(line string) (ed25519.PublicKey, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("want an authorized_keys line such as \"ssh-ed25519 AAAA… you@host\": %w", err)
	}
	if pub.Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("want an ssh-ed25519 key, got %s (generate one with ssh-keygen -t ed25519)", pub.Type())
	}
	ck, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		return nil, errors.New("ssh-ed25519 key without a public key")
	}
	k, ok := ck.CryptoPublicKey().(ed25519.PublicKey)
	if !ok || len(k) != ed25519.PublicKeySize {
		return nil, errors.New("ssh-ed25519 key of the wrong size")
	}
	return k, nil
}

// Channels are where the bot announces incidents.
type Channels struct {
	Announce string `yaml:"announce"`
	// Suggested playbooks get a Run button on every incident summary.
	Suggested []string `yaml:"suggested"`
	// Private lists severities (SEV1…SEV4) whose incidents are private by
	// default, as if declared with `private`.
	Private []string `yaml:"private"`
}

// PrivateFor says whether incidents of severity sev are private by default.
func (c Channels) PrivateFor(sev string) bool {
	return slices.ContainsFunc(c.Private, func(p string) bool { return strings.EqualFold(p, sev) })
}

// Mode is what the process runs; each needs different settings.
type Mode string

// Modes of the firebreak binary.
const (
	ModeDev    Mode = "dev"    // embedded server + worker + HTTP
	ModeWorker Mode = "worker" // worker alone
	ModeServe  Mode = "serve"  // HTTP alone
	ModeClient Mode = "client" // CLI commands that talk to Temporal
)

// Defaults are applied before the file and the environment.
func Defaults() Config {
	return Config{
		DataDir:  ".firebreak",
		HTTP:     HTTP{Addr: "127.0.0.1:8080", ShutdownTimeout: 5 * time.Second},
		Log:      Log{Level: "info", Format: "auto"},
		Temporal: Temporal{Namespace: "default", TaskQueue: "firebreak", DevPort: 7233, UIPort: 8233},
		Access:   Access{CLI: CLI{Approvals: CLIApprovalsOne}},
		Slack:    Slack{APIURL: "https://slack.com/api/"},
		GitHub:   GitHub{APIURL: "https://api.github.com/"},
	}
}

// Override is a command-line flag standing in for an environment variable.
type Override struct {
	Env   string // e.g. FIREBREAK_HTTP_ADDR
	Flag  string // e.g. --http, named in errors
	Value string
}

// Load reads the optional YAML file (path "" = none), then the environment
// (getenv, normally os.Getenv), then flag overrides, then validates for
// mode. All problems are returned together as an ErrorList.
func Load(path string, getenv func(string) string, mode Mode, flags ...Override) (*Config, error) {
	cfg := Defaults()
	cfg.origin = map[string]string{}
	var errs ErrorList
	if path != "" {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		cfg.Source = path
		errs = append(errs, decodeFile(src, path, &cfg)...)
	}
	errs = append(errs, applyEnv(&cfg, getenv, flags)...)
	// Validate even after decode errors so the user sees every problem at
	// once, but don't report a key twice.
	bad := map[string]bool{}
	for _, e := range errs {
		bad[e.Key] = true
	}
	for _, e := range cfg.validate(mode) {
		if !bad[e.Key] {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, cfg.resolveAddress(mode)...)
	}
	sortErrors(errs)
	if len(errs) > 0 {
		return nil, errs
	}
	return &cfg, nil
}

// Error is one configuration problem.
type Error struct {
	File string // "" for environment variables
	Line int
	Col  int
	Key  string // dotted YAML key, or the environment variable
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Col, e.Key, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s: %s", e.File, e.Key, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.Key, e.Msg)
	}
}

// ErrorList is every problem found, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// IsConfigError reports whether err came from invalid configuration (as
// opposed to, say, an unreadable file), which the CLI maps to exit 2.
func IsConfigError(err error) bool {
	var l ErrorList
	return errors.As(err, &l)
}

type envVar struct {
	name  string
	key   string // dotted YAML key it overrides
	apply func(c *Config, v string) error
}

func envVars() []envVar {
	str := func(dst func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *dst(c) = v; return nil }
	}
	port := func(dst func(*Config) *int) func(*Config, string) error {
		return func(c *Config, v string) error {
			p, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want a port number, got %q", v)
			}
			*dst(c) = p
			return nil
		}
	}
	sec := func(dst func(*Config) *Secret) func(*Config, string) error {
		return func(c *Config, v string) error { *dst(c) = Secret(v); return nil }
	}
	return []envVar{
		{"FIREBREAK_DATA_DIR", "data_dir", str(func(c *Config) *string { return &c.DataDir })},
		{"FIREBREAK_HTTP_ADDR", "http.addr", str(func(c *Config) *string { return &c.HTTP.Addr })},
		{"FIREBREAK_LOG_LEVEL", "log.level", str(func(c *Config) *string { return &c.Log.Level })},
		{"FIREBREAK_LOG_FORMAT", "log.format", str(func(c *Config) *string { return &c.Log.Format })},
		{"TEMPORAL_ADDRESS", "temporal.address", str(func(c *Config) *string { return &c.Temporal.Address })},
		{"TEMPORAL_NAMESPACE", "temporal.namespace", str(func(c *Config) *string { return &c.Temporal.Namespace })},
		{"FIREBREAK_TEMPORAL_PORT", "temporal.dev_port", port(func(c *Config) *int { return &c.Temporal.DevPort })},
		{"FIREBREAK_UI_PORT", "temporal.ui_port", port(func(c *Config) *int { return &c.Temporal.UIPort })},
		{"FIREBREAK_HEADLESS", "temporal.headless", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			c.Temporal.Headless = b
			return nil
		}},
		{"TEMPORAL_TASK_QUEUE", "temporal.task_queue", str(func(c *Config) *string { return &c.Temporal.TaskQueue })},
		{"TEMPORAL_TLS_CERT", "temporal.tls.cert_file", func(c *Config, v string) error {
			c.Temporal.TLS.CertFile, c.Temporal.TLS.Enabled = v, true
			return nil
		}},
		{"TEMPORAL_TLS_KEY", "temporal.tls.key_file", func(c *Config, v string) error {
			c.Temporal.TLS.KeyFile, c.Temporal.TLS.Enabled = v, true
			return nil
		}},
		{"TEMPORAL_TLS_CA", "temporal.tls.ca_file", func(c *Config, v string) error {
			c.Temporal.TLS.CAFile, c.Temporal.TLS.Enabled = v, true
			return nil
		}},
		{"TEMPORAL_TLS_SERVER_NAME", "temporal.tls.server_name", str(func(c *Config) *string { return &c.Temporal.TLS.ServerName })},
		{"TEMPORAL_API_KEY", "temporal.api_key", sec(func(c *Config) *Secret { return &c.Temporal.APIKey })},
		{"SLACK_BOT_TOKEN", "slack.bot_token", sec(func(c *Config) *Secret { return &c.Slack.BotToken })},
		{"SLACK_SIGNING_SECRET", "slack.signing_secret", sec(func(c *Config) *Secret { return &c.Slack.SigningSecret })},
		{"SLACK_APP_TOKEN", "slack.app_token", sec(func(c *Config) *Secret { return &c.Slack.AppToken })},
		{"SLACK_API_URL", "slack.api_url", str(func(c *Config) *string { return &c.Slack.APIURL })},
		{"AWS_REGION", "aws.region", str(func(c *Config) *string { return &c.AWS.Region })},
		{"AWS_ENDPOINT_URL", "aws.endpoint_url", str(func(c *Config) *string { return &c.AWS.EndpointURL })},
		{"GITHUB_API_URL", "github.api_url", str(func(c *Config) *string { return &c.GitHub.APIURL })},
		{"GITHUB_TOKEN", "github.token", sec(func(c *Config) *Secret { return &c.GitHub.Token })},
		{"GITHUB_APP_ID", "github.app_id", func(c *Config, v string) error {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("want a positive integer, got %q", v)
			}
			c.GitHub.AppID = id
			return nil
		}},
		{"GITHUB_APP_PRIVATE_KEY_FILE", "github.app_private_key_file", str(func(c *Config) *string { return &c.GitHub.AppPrivateKeyFile })},
	}
}

// EnvNames lists the environment variables Firebreak reads, for docs and help.
func EnvNames() []string {
	vars := envVars()
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.name
	}
	return out
}

func applyEnv(c *Config, getenv func(string) string, flags []Override) ErrorList {
	var errs ErrorList
	for _, v := range envVars() {
		val, origin := getenv(v.name), v.name
		for _, f := range flags {
			if f.Env == v.name {
				val, origin = f.Value, f.Flag
			}
		}
		if val == "" {
			continue
		}
		c.origin[v.key] = origin
		if err := v.apply(c, val); err != nil {
			errs = append(errs, &Error{Key: origin + " (" + v.key + ")", Msg: err.Error()})
		}
	}
	return errs
}

// PlaybookView is the configuration playbooks see as `config`: structure
// only, never credentials.
func (c *Config) PlaybookView() map[string]any {
	accounts := map[string]any{}
	for name, a := range c.AWS.Accounts {
		accounts[name] = map[string]any{
			"account_id": a.AccountID, "role_arn": a.RoleARN, "region": a.Region, "quarantine_sg": a.QuarantineSG,
		}
	}
	return map[string]any{
		"aws":      map[string]any{"region": c.AWS.Region, "accounts": accounts},
		"github":   map[string]any{"tracking_repo": c.GitHub.TrackingRepo},
		"channels": map[string]any{"announce": c.Channels.Announce},
	}
}
