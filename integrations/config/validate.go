package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	slackMemberRe = regexp.MustCompile(`^[UWS][A-Z0-9]{2,}$`)
	slugRe        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	accountIDRe   = regexp.MustCompile(`^\d{12}$`)
	roleARNRe     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]+$`)
	externalIDRe  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	slackUserRe   = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	// cliNameRe is a CLI identity (the name given to --as) in an approver
	// group. It starts lowercase, so it can never be a Slack ID, and votes
	// in its name are unverified claims under access.cli.approvals.
	cliNameRe = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)
)

// errAt builds an error about key. It names where the offending value came
// from: the flag or environment variable that set it, else its line in the
// file, else the nearest enclosing section in the file (for a missing
// key), else the environment variable that would set it.
func (c *Config) errAt(key, env, format string, args ...any) *Error {
	e := &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
	if o, ok := c.origin[key]; ok {
		e.Key = o + " (" + key + ")"
		return e
	}
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := c.pos[k]; ok {
			e.File, e.Line, e.Col = c.Source, p.line, p.col
			return e
		}
	}
	if env != "" {
		e.Key = env + " (" + key + ")"
	} else if c.Source != "" {
		e.File = c.Source
	}
	return e
}

func parentKey(k string) string {
	if i := strings.LastIndex(k, "."); i >= 0 {
		return k[:i]
	}
	return ""
}

func (c *Config) validate(mode Mode) ErrorList {
	var errs ErrorList
	add := func(e *Error) { errs = append(errs, e) }

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add(c.errAt("log.level", "FIREBREAK_LOG_LEVEL", "want debug, info, warn or error, got %q", c.Log.Level))
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		add(c.errAt("log.format", "FIREBREAK_LOG_FORMAT", "want auto, text or json, got %q", c.Log.Format))
	}
	if c.DataDir == "" {
		add(c.errAt("data_dir", "FIREBREAK_DATA_DIR", "must not be empty"))
	}
	if msg := checkHostPort(c.HTTP.Addr, 0); msg != "" {
		add(c.errAt("http.addr", "FIREBREAK_HTTP_ADDR", "%s", msg))
	}
	if c.Temporal.Address != "" {
		if msg := checkHostPort(c.Temporal.Address, 1); msg != "" {
			add(c.errAt("temporal.address", "TEMPORAL_ADDRESS", "%s", msg))
		}
	}
	if c.Temporal.Namespace == "" {
		add(c.errAt("temporal.namespace", "TEMPORAL_NAMESPACE", "must not be empty"))
	}
	if c.Temporal.TaskQueue == "" {
		add(c.errAt("temporal.task_queue", "TEMPORAL_TASK_QUEUE", "must not be empty"))
	}
	if c.Temporal.DevPort < 0 || c.Temporal.DevPort > 65535 {
		add(c.errAt("temporal.dev_port", "FIREBREAK_TEMPORAL_PORT", "want a port number 0-65535, got %d", c.Temporal.DevPort))
	}
	if c.Temporal.UIPort < 0 || c.Temporal.UIPort > 65535 {
		add(c.errAt("temporal.ui_port", "FIREBREAK_UI_PORT", "want a port number 0-65535, got %d", c.Temporal.UIPort))
	}
	if mode == ModeDev {
		errs = append(errs, c.validateDevFlags()...)
	}
	tls := c.Temporal.TLS
	if (tls.CertFile == "") != (tls.KeyFile == "") {
		if tls.CertFile == "" {
			add(c.errAt("temporal.tls.cert_file", "TEMPORAL_TLS_CERT", "is required when a TLS key is set (mTLS needs both)"))
		} else {
			add(c.errAt("temporal.tls.key_file", "TEMPORAL_TLS_KEY", "is required when a TLS certificate is set (mTLS needs both)"))
		}
	}
	for _, u := range []struct{ key, env, val string }{
		{"slack.api_url", "SLACK_API_URL", c.Slack.APIURL},
		{"github.api_url", "GITHUB_API_URL", c.GitHub.APIURL},
		{"aws.endpoint_url", "AWS_ENDPOINT_URL", c.AWS.EndpointURL},
	} {
		if u.val == "" {
			continue
		}
		if p, err := url.Parse(u.val); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			add(c.errAt(u.key, u.env, "want an http(s) URL, got %q", u.val))
		}
	}
	if c.Slack.APIURL != "" && !strings.HasSuffix(c.Slack.APIURL, "/") {
		add(c.errAt("slack.api_url", "SLACK_API_URL", "must end in / (slack-go appends method names), got %q", c.Slack.APIURL))
	}

	// Slack needs the signing secret wherever HTTP requests from Slack are
	// served, unless Socket Mode carries them instead.
	servesHTTP := mode == ModeDev || mode == ModeServe
	if servesHTTP && c.Slack.BotToken.IsSet() && !c.Slack.AppToken.IsSet() && !c.Slack.SigningSecret.IsSet() {
		add(c.errAt("slack.signing_secret", "SLACK_SIGNING_SECRET",
			"is required to verify Slack's HTTP requests when a bot token is set (or set SLACK_APP_TOKEN for Socket Mode)"))
	}
	if (c.Slack.AppToken.IsSet() || c.Slack.SigningSecret.IsSet()) && !c.Slack.BotToken.IsSet() && servesHTTP {
		add(c.errAt("slack.bot_token", "SLACK_BOT_TOKEN", "is required when Slack is configured (the bot posts through the Web API)"))
	}
	if c.Slack.AppToken.IsSet() && !strings.HasPrefix(c.Slack.AppToken.Reveal(), "xapp-") {
		add(c.errAt("slack.app_token", "SLACK_APP_TOKEN", "must be an app-level token starting with xapp-"))
	}
	if c.GitHub.AppID != 0 && c.GitHub.AppPrivateKeyFile == "" {
		add(c.errAt("github.app_private_key_file", "GITHUB_APP_PRIVATE_KEY_FILE", "is required when github.app_id is set"))
	}
	if c.GitHub.TrackingRepo != "" && strings.Count(c.GitHub.TrackingRepo, "/") != 1 {
		add(c.errAt("github.tracking_repo", "", "want owner/name, got %q", c.GitHub.TrackingRepo))
	}
	for name, acct := range c.AWS.Accounts {
		key := "aws.accounts." + name
		if !slugRe.MatchString(name) {
			add(c.errAt(key, "", "account name must be lowercase letters, digits and dashes"))
		}
		if acct.AccountID != "" && !accountIDRe.MatchString(acct.AccountID) {
			add(c.errAt(key+".account_id", "", "want a 12-digit AWS account ID (quote it in YAML), got %q", acct.AccountID))
		}
		if acct.RoleARN != "" {
			m := roleARNRe.FindStringSubmatch(acct.RoleARN)
			switch {
			case m == nil:
				add(c.errAt(key+".role_arn", "", "want an IAM role ARN (arn:aws:iam::123456789012:role/name), got %q", acct.RoleARN))
			case acct.AccountID != "" && m[1] != acct.AccountID:
				add(c.errAt(key+".role_arn", "", "role %s is in account %s, but account_id says %s", acct.RoleARN, m[1], acct.AccountID))
			}
		}
		if acct.ExternalID != "" && (len(acct.ExternalID) < 2 || len(acct.ExternalID) > 1224 || !externalIDRe.MatchString(acct.ExternalID)) {
			add(c.errAt(key+".external_id", "", "want 2 to 1224 characters of letters, digits and +=,.@:/-, as AWS allows"))
		}
	}
	if c.AWS.WAFv2.MaxBlock < 0 {
		add(c.errAt("aws.wafv2.max_block", "", "want a positive number, got %d", c.AWS.WAFv2.MaxBlock))
	}
	for i, cidr := range c.AWS.WAFv2.NeverBlock {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			if _, aerr := netip.ParseAddr(cidr); aerr != nil {
				add(c.errAt("aws.wafv2.never_block", "", "entry %d: want a CIDR (203.0.113.0/24, 2001:db8::/32) or an address, got %q", i, cidr))
			}
		}
	}
	checkMembers := func(key string, members []string) {
		for i, m := range members {
			if !slackMemberRe.MatchString(m) {
				add(c.errAt(key, "", "entry %d: want a Slack user ID (U…/W…) or user group ID (S…), got %q", i, m))
			}
		}
	}
	for i, sev := range c.Channels.Private {
		if !slices.Contains([]string{"SEV1", "SEV2", "SEV3", "SEV4"}, strings.ToUpper(sev)) {
			add(c.errAt("channels.private", "", "entry %d: want a severity SEV1…SEV4, got %q", i, sev))
		}
	}
	checkMembers("access.declare", c.Access.Declare)
	checkMembers("access.notes", c.Access.Notes)
	checkMembers("access.invite", c.Access.Invite)
	checkMembers("access.responders", c.Access.Responders)
	checkMembers("access.commanders", c.Access.Commanders)
	for name, members := range c.Access.Groups {
		key := "access.groups." + name
		for i, m := range members {
			if !slackMemberRe.MatchString(m) && !cliNameRe.MatchString(m) {
				add(c.errAt(key, "", "entry %d: want a Slack user ID (U…/W…), a user group ID (S…) or a CLI name (lowercase, as given to --as, e.g. alice), got %q", i, m))
			}
		}
		if len(members) == 0 {
			add(c.errAt("access.groups."+name, "", "group has no members"))
		}
	}
	errs = append(errs, c.validateCLI()...)
	return errs
}

// validateDevFlags refuses dev flags that an external cluster makes
// meaningless: with temporal.address set, dev embeds no server, so a data
// dir, frontend port or UI port given on the command line would be
// silently ignored.
func (c *Config) validateDevFlags() ErrorList {
	if c.Temporal.Address == "" {
		return nil
	}
	var errs ErrorList
	for _, f := range []struct{ key, flag string }{
		{"data_dir", "--data-dir"},
		{"temporal.dev_port", "--temporal-port"},
		{"temporal.ui_port", "--ui-port"},
	} {
		if c.origin[f.key] == f.flag {
			errs = append(errs, &Error{Key: f.flag, Msg: fmt.Sprintf(
				"cannot apply: temporal.address is set to %s (by %s), so dev uses that cluster and embeds no Temporal server; unset it to run the embedded server, or drop %s",
				c.Temporal.Address, c.source("temporal.address"), f.flag)})
		}
	}
	return errs
}

// checkHostPort says what is wrong with addr as host:port with a numeric
// port from minPort to 65535, or "" if nothing. A port out of range would
// otherwise fail later, looking like a port already in use.
func checkHostPort(addr string, minPort int) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("want host:port, got %q", addr)
	}
	if n, err := strconv.Atoi(p); err != nil || n < minPort || n > 65535 {
		return fmt.Sprintf("want host:port, got %q: the port must be a number from %d to 65535", addr, minPort)
	}
	return ""
}

// validateCLI checks access.cli: a known approval mode, and one parseable
// ed25519 key per Slack user, none shared (a shared key would let one
// person sign as several approvers).
func (c *Config) validateCLI() ErrorList {
	var errs ErrorList
	switch c.Access.CLI.Approvals {
	case CLIApprovalsOne, CLIApprovalsVerified, CLIApprovalsForbid:
	default:
		errs = append(errs, c.errAt("access.cli.approvals", "", "want %s, %s or %s, got %q",
			CLIApprovalsOne, CLIApprovalsVerified, CLIApprovalsForbid, c.Access.CLI.Approvals))
	}
	users := make([]string, 0, len(c.Access.CLI.Keys))
	for u := range c.Access.CLI.Keys {
		users = append(users, u)
	}
	slices.Sort(users)
	owner := map[string]string{} // raw key -> first user with it
	for _, u := range users {
		key := "access.cli.keys." + u
		if !slackUserRe.MatchString(u) {
			errs = append(errs, c.errAt(key, "", "want a Slack user ID (U…/W…) as the key, got %q", u))
		}
		pub, err := ParseCLIKey(c.Access.CLI.Keys[u])
		if err != nil {
			errs = append(errs, c.errAt(key, "", "%v", err))
			continue
		}
		if first, ok := owner[string(pub)]; ok {
			errs = append(errs, c.errAt(key, "", "the same key is configured for %s: each approver needs their own key", first))
			continue
		}
		owner[string(pub)] = u
	}
	return errs
}
