// Package aws gives actions their AWS access: the SDK's default credential chain, one
// configuration per account reached through sts:AssumeRole with a session name that names the
// incident and step, endpoints for tests and private deployments, a single retry layer, and
// errors classified for the timeline and for Temporal's retry policy.
package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	sdkconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

// ErrUnknownAccount is returned (wrapped) by For for an account name not in aws.accounts.
var ErrUnknownAccount = errors.New("unknown aws account")

// ErrNoCredentials is returned (wrapped) by For when the SDK's default chain finds no
// credentials at all: no keys in the environment, no profile, no web identity, no instance role.
var ErrNoCredentials = errors.New("no AWS credentials: the worker found none in its environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity) or an instance role")

// maxCachedSessions bounds the credential caches a long-running worker keeps: every incident and
// step is its own role session, so the map would otherwise grow for the worker's lifetime.
const maxCachedSessions = 1024

// renewBefore is how long before expiry assumed-role credentials are renewed.
const renewBefore = 5 * time.Minute

// Options are settings that integrations/config does not carry (yet).
type Options struct {
	// S3UsePathStyle asks S3 clients built from these configs for path-style addressing
	// (http://host/bucket/key), which S3-compatible stores and local fakes need.
	S3UsePathStyle bool
}

// Accounts hands out an aws.Config per configured account. It is safe for concurrent use.
type Accounts struct {
	base     awssdk.Config
	accounts map[string]config.AWSAccount
	opts     Options
	endpoint string

	mu          sync.Mutex
	cache       map[cacheKey]*awssdk.CredentialsCache
	maxSessions int // bound of cache; maxCachedSessions except in tests
}

type cacheKey struct{ account, session string }

// New loads the SDK's default chain (environment, shared config and credentials files with
// AWS_PROFILE, SSO, web identity, IMDS, ...) and applies our configuration on top: aws.region when
// set, and aws.endpoint_url as the base endpoint of every client. Per-service endpoint settings
// (AWS_ENDPOINT_URL_<SERVICE>, a profile's services section) still win, as in the SDK.
func New(ctx context.Context, cfg config.AWS, opts Options) (*Accounts, error) {
	var load []func(*sdkconfig.LoadOptions) error
	if cfg.Region != "" {
		load = append(load, sdkconfig.WithRegion(cfg.Region))
	}
	base, err := sdkconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if cfg.EndpointURL != "" {
		// Set on the config, not with sdkconfig.WithBaseEndpoint: load options are asked first
		// for every service's endpoint too, so that would silence AWS_ENDPOINT_URL_<SERVICE>.
		base.BaseEndpoint = awssdk.String(cfg.EndpointURL)
	}
	if cfg.S3UsePathStyle {
		opts.S3UsePathStyle = true
	}
	throttleOnlyRetries(&base)
	if base.HTTPClient == nil {
		base.HTTPClient = awshttp.NewBuildableClient()
	}
	base.HTTPClient = plainBodies{base.HTTPClient}

	scrubConfigSources(&base)
	base.Credentials = redact(base.Credentials)
	return &Accounts{
		base:        base,
		accounts:    maps.Clone(cfg.Accounts),
		opts:        opts,
		endpoint:    cfg.EndpointURL,
		cache:       map[cacheKey]*awssdk.CredentialsCache{},
		maxSessions: maxCachedSessions,
	}, nil
}

// throttleAttempts is how many times the SDK sends a request AWS throttled, throttleBackoff the
// most it waits between two sends.
const (
	throttleAttempts = 3
	throttleBackoff  = 5 * time.Second
)

// throttleOnlyRetries splits retrying between the two layers by what a failure means. AWS refuses
// a throttled request before acting on it, so sending it again at once is safe even for a write:
// the SDK does that, up to throttleAttempts times with jittered backoff, without the client-side
// retry quota (which would turn a throttling storm into local QuotaExceeded errors). Anything else
// (5xx, a lost connection, a timeout) may have half-happened, so it goes back to Temporal's
// activity retry policy, whose next attempt re-reads state through the idempotent action and
// shows on the timeline. RetryMaxAttempts is set too, because clients re-wrap the retryer with
// it, so AWS_MAX_ATTEMPTS or a profile's max_attempts would otherwise bring the SDK's general
// retries back and multiply the two layers.
func throttleOnlyRetries(cfg *awssdk.Config) {
	cfg.Retryer = func() awssdk.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = throttleAttempts
			o.MaxBackoff = throttleBackoff
			o.RateLimiter = ratelimit.None
			o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) awssdk.Ternary {
				var e *Error
				if errors.As(Classify(err), &e) && e.Kind == KindThrottled {
					return awssdk.TrueTernary
				}
				return awssdk.FalseTernary
			})}
		})
	}
	cfg.RetryMaxAttempts = throttleAttempts
}

// HTTPClient is the SDK's default HTTP client with the plainBodies workaround, for SDK clients
// built without New (awsfake's own tests).
func HTTPClient() awssdk.HTTPClient { return plainBodies{awshttp.NewBuildableClient()} }

// plainBodies hides io.WriterTo from request bodies. smithy-go closes a request's body as soon
// as the response arrives, and its body's WriteTo then returns io.EOF; net/http, still finishing
// the request write, takes that for a failed write and closes the connection under the response
// being read ("use of closed network connection"). Read after the close returns a plain EOF,
// which net/http accepts. Large, quick replies (CloudTrail's LookupEvents pages) hit this often.
type plainBodies struct{ next awssdk.HTTPClient }

func (c plainBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return c.next.Do(r)
}

// scrubConfigSources drops the credentials the SDK keeps in cfg.ConfigSources (the environment's
// and the profile's keys, by value), so that formatting a config with %v does not print them. The
// sources stay, because clients still read endpoint and other settings from them.
func scrubConfigSources(cfg *awssdk.Config) {
	sources := make([]any, 0, len(cfg.ConfigSources))
	for _, src := range cfg.ConfigSources {
		switch v := src.(type) {
		case sdkconfig.EnvConfig:
			v.Credentials, v.ContainerAuthorizationToken = awssdk.Credentials{}, ""
			src = v
		case sdkconfig.SharedConfig:
			v.Credentials, v.Source = awssdk.Credentials{}, nil
			src = v
		}
		sources = append(sources, src)
	}
	cfg.ConfigSources = sources
}

// Session says on whose behalf credentials are used; it becomes the role session name, which
// CloudTrail records with every call made with the credentials.
type Session struct {
	Incident string // incident key, e.g. INC-2026-0042
	Step     string // playbook step ID, e.g. isolate
}

// Name is the role session name: "firebreak-<incident>-<step>", with characters AWS does not
// allow ([\w+=,.@-] only) replaced by '-', cut to AWS's 64 characters.
func (s Session) Name() string {
	parts := []string{"firebreak"}
	for _, p := range []string{s.Incident, s.Step} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	b := []byte(strings.Join(parts, "-"))
	for i, c := range b {
		if !sessionNameChar(c) {
			b[i] = '-'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

func sessionNameChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("_+=,.@-", c) >= 0
}

// For returns the config to act in account for session: the account's region (else the base
// region) and, when the account names a role, credentials from sts:AssumeRole on it, cached per
// account and session and refreshed before they expire. An account without a role uses the base
// credentials. The role is assumed before For returns, so a refused role fails here with AWS's
// code and request ID rather than inside the first call made with the config.
//
// The empty account name means the only configured account, or the base credentials as they are
// when aws.accounts is empty (a single-account setup); with several accounts it is an error that
// names them, because guessing would act in the wrong one.
func (a *Accounts) For(ctx context.Context, account string, s Session) (awssdk.Config, error) {
	if account == "" {
		switch len(a.accounts) {
		case 0:
			if err := a.baseCredentials(ctx); err != nil {
				return awssdk.Config{}, err
			}
			return a.base.Copy(), nil
		case 1:
			for name := range a.accounts {
				account = name
			}
		default:
			return awssdk.Config{}, fmt.Errorf("%w: name the account, aws.accounts has %s", ErrUnknownAccount,
				strings.Join(slices.Sorted(maps.Keys(a.accounts)), ", "))
		}
	}
	acct, ok := a.accounts[account]
	if !ok {
		known := slices.Sorted(maps.Keys(a.accounts))
		if len(known) == 0 {
			return awssdk.Config{}, fmt.Errorf("%w %q: aws.accounts is empty", ErrUnknownAccount, account)
		}
		return awssdk.Config{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownAccount, account, strings.Join(known, ", "))
	}
	if err := a.baseCredentials(ctx); err != nil {
		return awssdk.Config{}, err
	}
	cfg := a.base.Copy()
	if acct.Region != "" {
		cfg.Region = acct.Region
	}
	if acct.RoleARN == "" {
		return cfg, nil
	}
	creds := a.credentials(cfg, account, acct, s.Name())
	if _, err := creds.Retrieve(ctx); err != nil {
		return awssdk.Config{}, fmt.Errorf("aws account %q: assume role %s: %w", account, acct.RoleARN, Classify(err))
	}
	cfg.Credentials = redact(creds)
	return cfg, nil
}

// baseCredentials checks that the SDK's chain found credentials: every account starts from them,
// and without them each call would fail deep in the SDK ("get identity: get credentials: ...
// IMDS ..."). Retrieve is cached, so this costs nothing after the first call.
func (a *Accounts) baseCredentials(ctx context.Context) error {
	if _, err := a.base.Credentials.Retrieve(ctx); err != nil {
		return fmt.Errorf("%w (%v)", ErrNoCredentials, err)
	}
	return nil
}

// credentials returns the cached provider for (account, session), creating it on first use. The
// STS client uses the base credentials in the account's region (regional STS endpoint).
func (a *Accounts) credentials(regional awssdk.Config, account string, acct config.AWSAccount, session string) *awssdk.CredentialsCache {
	k := cacheKey{account, session}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.cache[k]; ok {
		return c
	}
	if len(a.cache) >= a.maxSessions {
		// Dropping all is simple and only costs a fresh AssumeRole per live session.
		clear(a.cache)
	}
	client := sts.NewFromConfig(regional)
	c := awssdk.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, acct.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = session
		if acct.ExternalID != "" {
			o.ExternalID = awssdk.String(acct.ExternalID)
		}
	}), func(o *awssdk.CredentialsCacheOptions) {
		// Renew ahead of expiry so a long call (a CloudTrail sweep) does not start with
		// credentials that run out halfway.
		o.ExpiryWindow = renewBefore
	})
	a.cache[k] = c
	return c
}

// NameOf returns the name of the configured account whose account_id is id.
func (a *Accounts) NameOf(id string) (string, bool) {
	for name, acct := range a.accounts {
		if acct.AccountID == id && id != "" {
			return name, true
		}
	}
	return "", false
}

// S3UsePathStyle says whether S3 clients should address buckets by path; pass it to
// s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = accounts.S3UsePathStyle() }).
func (a *Accounts) S3UsePathStyle() bool { return a.opts.S3UsePathStyle }

// String names the setup without credentials: the base config holds a credentials provider that
// may carry static keys, so Accounts never prints its fields.
func (a *Accounts) String() string {
	return fmt.Sprintf("aws.Accounts{region: %q, endpoint: %q, accounts: [%s]}",
		a.base.Region, a.endpoint, strings.Join(slices.Sorted(maps.Keys(a.accounts)), " "))
}

// GoString keeps %#v from dumping the fields String leaves out.
func (a *Accounts) GoString() string { return a.String() }
