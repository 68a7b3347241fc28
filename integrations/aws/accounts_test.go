package aws_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
	"github.com/firebreak-ir/firebreak/integrations/config"
)

const (
	secAccount  = "111111111111"
	prodAccount = "222222222222"
	prodRole    = "arn:aws:iam::222222222222:role/firebreak-responder"
)

// cleanEnv isolates the SDK's default chain from the machine: no shared files, no IMDS, no
// endpoint or retry variables, region us-east-1.
func cleanEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
}

// setup starts a fake with a security-account user whose keys are in the environment and a
// registered prod role.
func setup(t *testing.T) *awsfake.Server {
	t.Helper()
	cleanEnv(t)
	f := awsfake.New()
	t.Cleanup(f.Close)
	id, secret := f.AddUser(secAccount, "responder")
	t.Setenv("AWS_ACCESS_KEY_ID", id)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	f.AddRole(prodRole)
	return f
}

func accountsConfig(endpoint string) config.AWS {
	return config.AWS{
		EndpointURL: endpoint,
		Accounts: map[string]config.AWSAccount{
			"prod":     {AccountID: prodAccount, RoleARN: prodRole, Region: "eu-central-1"},
			"security": {AccountID: secAccount},
		},
	}
}

func newAccounts(t *testing.T, cfg config.AWS) *aws.Accounts {
	t.Helper()
	a, err := aws.New(context.Background(), cfg, aws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func whoAmI(t *testing.T, cfg awssdk.Config) string {
	t.Helper()
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	return awssdk.ToString(out.Arn)
}

// TestExternalIDReachesAssumeRole: a role whose trust policy requires an external ID can only be
// assumed when the account config names it.
func TestExternalIDReachesAssumeRole(t *testing.T) {
	f := setup(t)
	partner := "arn:aws:iam::333333333333:role/firebreak-partner"
	f.AddRoleWithExternalID(partner, "acme-7f3a")
	cfg := accountsConfig(f.URL)
	cfg.Accounts["partner"] = config.AWSAccount{AccountID: "333333333333", RoleARN: partner, ExternalID: "acme-7f3a"}
	cfg.Accounts["partner-without"] = config.AWSAccount{AccountID: "333333333333", RoleARN: partner}
	a := newAccounts(t, cfg)
	if _, err := a.For(context.Background(), "partner", aws.Session{Incident: "INC-1", Step: "s"}); err != nil {
		t.Fatalf("with the external ID: %v", err)
	}
	_, err := a.For(context.Background(), "partner-without", aws.Session{Incident: "INC-1", Step: "s"})
	var ae *aws.Error
	if !errors.As(err, &ae) || ae.Code != "AccessDenied" {
		t.Fatalf("without the external ID: %v, want AccessDenied", err)
	}
	if got := f.CallsTo("sts", "AssumeRole")[0].Params.Get("ExternalId"); got != "acme-7f3a" {
		t.Errorf("ExternalId sent %q", got)
	}
}

func TestRoleSessionCarriesIncidentAndStep(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	cfg, err := a.For(context.Background(), "prod", aws.Session{Incident: "INC-2026-0042", Step: "isolate"})
	if err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:sts::222222222222:assumed-role/firebreak-responder/firebreak-INC-2026-0042-isolate"
	if got := whoAmI(t, cfg); got != want {
		t.Errorf("caller %q, want %q", got, want)
	}
	assume := f.CallsTo("sts", "AssumeRole")
	if len(assume) != 1 || assume[0].Account != secAccount || assume[0].Params.Get("RoleArn") != prodRole {
		t.Fatalf("AssumeRole calls: %+v", assume)
	}
	// STS is called in the account's region, and so is the call made with the role.
	if assume[0].Region != "eu-central-1" {
		t.Errorf("AssumeRole region %q", assume[0].Region)
	}
	call := f.CallsTo("sts", "GetCallerIdentity")[0]
	if call.Account != prodAccount || call.Region != "eu-central-1" {
		t.Errorf("call attributed to %s in %s", call.Account, call.Region)
	}
}

func TestAccountWithoutRoleUsesBaseCredentials(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	cfg, err := a.For(context.Background(), "security", aws.Session{Incident: "INC-1", Step: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := whoAmI(t, cfg); got != "arn:aws:iam::111111111111:user/responder" {
		t.Errorf("caller %q", got)
	}
	if n := len(f.CallsTo("sts", "AssumeRole")); n != 0 {
		t.Errorf("%d AssumeRole calls for an account without a role", n)
	}
}

func TestCredentialsAreCachedPerAccountAndSession(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	ctx := context.Background()
	isolate := aws.Session{Incident: "INC-7", Step: "isolate"}
	for range 3 {
		cfg, err := a.For(ctx, "prod", isolate)
		if err != nil {
			t.Fatal(err)
		}
		whoAmI(t, cfg)
	}
	if n := len(f.CallsTo("sts", "AssumeRole")); n != 1 {
		t.Errorf("same session: %d AssumeRole calls, want 1", n)
	}
	cfg, err := a.For(ctx, "prod", aws.Session{Incident: "INC-7", Step: "snapshot"})
	if err != nil {
		t.Fatal(err)
	}
	if got := whoAmI(t, cfg); !strings.HasSuffix(got, "/firebreak-INC-7-snapshot") {
		t.Errorf("second session acts as %q", got)
	}
	if n := len(f.CallsTo("sts", "AssumeRole")); n != 2 {
		t.Errorf("two sessions: %d AssumeRole calls, want 2", n)
	}
}

func TestUnknownAccountNamesTheKnownOnes(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	_, err := a.For(context.Background(), "staging", aws.Session{Incident: "INC-1"})
	if !errors.Is(err, aws.ErrUnknownAccount) {
		t.Fatalf("got %v", err)
	}
	if want := `unknown aws account "staging" (known: prod, security)`; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if len(f.Calls()) != 0 {
		t.Errorf("calls for an unknown account: %+v", f.Calls())
	}
}

// TestEmptyAccountName: no name means the only account, or the base credentials when none is
// configured; with several accounts the caller must choose.
func TestEmptyAccountName(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	one := newAccounts(t, config.AWS{EndpointURL: f.URL, Accounts: map[string]config.AWSAccount{
		"prod": {AccountID: prodAccount, RoleARN: prodRole}}})
	cfg, err := one.For(ctx, "", aws.Session{Incident: "INC-1", Step: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := whoAmI(t, cfg); !strings.Contains(got, ":"+prodAccount+":assumed-role/") {
		t.Errorf("only account: acting as %q, want the prod role", got)
	}
	none := newAccounts(t, config.AWS{EndpointURL: f.URL})
	cfg, err = none.For(ctx, "", aws.Session{Incident: "INC-1", Step: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := whoAmI(t, cfg); got != "arn:aws:iam::"+secAccount+":user/responder" {
		t.Errorf("no accounts: acting as %q, want the base user", got)
	}
	two := newAccounts(t, accountsConfig(f.URL))
	_, err = two.For(ctx, "", aws.Session{Incident: "INC-1"})
	if !errors.Is(err, aws.ErrUnknownAccount) || !strings.Contains(err.Error(), "name the account, aws.accounts has prod, security") {
		t.Errorf("two accounts: %v", err)
	}
}

func TestRefusedRoleFailsWithAWSCode(t *testing.T) {
	f := setup(t)
	cfg := accountsConfig(f.URL)
	cfg.Accounts["legacy"] = config.AWSAccount{AccountID: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/not-registered"}
	a := newAccounts(t, cfg)
	_, err := a.For(context.Background(), "legacy", aws.Session{Incident: "INC-1", Step: "x"})
	var ae *aws.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got %v", err)
	}
	rec := f.CallsTo("sts", "AssumeRole")
	if len(rec) != 1 {
		t.Fatalf("AssumeRole calls: %d", len(rec))
	}
	if ae.Service != "sts" || ae.Operation != "AssumeRole" || ae.Code != "AccessDenied" || ae.Kind != aws.KindAccessDenied ||
		ae.RequestID != rec[0].RequestID || ae.Retryable() {
		t.Errorf("error: %+v", ae)
	}
	if !strings.Contains(err.Error(), `aws account "legacy": assume role arn:aws:iam::333333333333:role/not-registered: sts AssumeRole: AccessDenied: User: arn:aws:iam::111111111111:user/responder is not authorized`) {
		t.Errorf("message: %v", err)
	}
}

func TestSessionName(t *testing.T) {
	allowed := regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	for _, tc := range []struct {
		in   aws.Session
		want string
	}{
		{aws.Session{Incident: "INC-2026-0042", Step: "isolate"}, "firebreak-INC-2026-0042-isolate"},
		{aws.Session{Incident: "INC 1/2", Step: "step:é"}, "firebreak-INC-1-2-step---"},
		{aws.Session{Incident: "INC-1"}, "firebreak-INC-1"},
		{aws.Session{}, "firebreak"},
		{aws.Session{Incident: "INC-2026-0042", Step: strings.Repeat("s", 80)}, "firebreak-INC-2026-0042-" + strings.Repeat("s", 40)},
		{aws.Session{Incident: "a+b=c,d.e@f_g", Step: "x"}, "firebreak-a+b=c,d.e@f_g-x"},
	} {
		got := tc.in.Name()
		if got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.in, got, tc.want)
		}
		if !allowed.MatchString(got) {
			t.Errorf("%+v: %q is not a valid role session name", tc.in, got)
		}
	}
}

// The sanitized name is what STS accepts: checked against the fake, which enforces AWS's
// constraints.
func TestOddStepNamesStillAssumeTheRole(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	_, err := a.For(context.Background(), "prod", aws.Session{Incident: "INC-2026-0042", Step: "block ips (eu) " + strings.Repeat("x", 60)})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEndpoints(t *testing.T) {
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close() // nothing listens here any more: a call sent to it fails to connect

	t.Run("AWS_ENDPOINT_URL", func(t *testing.T) {
		f := setup(t)
		t.Setenv("AWS_ENDPOINT_URL", f.URL)
		cfg, err := newAccounts(t, accountsConfig("")).For(context.Background(), "security", aws.Session{})
		if err != nil {
			t.Fatal(err)
		}
		whoAmI(t, cfg)
		if len(f.Calls()) != 1 {
			t.Errorf("fake saw %d calls", len(f.Calls()))
		}
	})
	t.Run("config overrides AWS_ENDPOINT_URL", func(t *testing.T) {
		f := setup(t)
		t.Setenv("AWS_ENDPOINT_URL", deadURL)
		cfg, err := newAccounts(t, accountsConfig(f.URL)).For(context.Background(), "security", aws.Session{})
		if err != nil {
			t.Fatal(err)
		}
		whoAmI(t, cfg)
	})
	t.Run("AWS_ENDPOINT_URL_STS wins for STS", func(t *testing.T) {
		f := setup(t)
		t.Setenv("AWS_ENDPOINT_URL", deadURL)
		t.Setenv("AWS_ENDPOINT_URL_STS", f.URL)
		cfg, err := newAccounts(t, accountsConfig(deadURL)).For(context.Background(), "prod", aws.Session{Incident: "INC-1"})
		if err != nil {
			t.Fatal(err)
		}
		whoAmI(t, cfg)
		if len(f.CallsTo("sts", "AssumeRole")) != 1 {
			t.Errorf("calls: %+v", f.Calls())
		}
	})
	t.Run("profile", func(t *testing.T) {
		f := setup(t)
		id, secret := f.AddUser(secAccount, "profile-user")
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		_ = os.Unsetenv("AWS_ACCESS_KEY_ID")
		_ = os.Unsetenv("AWS_SECRET_ACCESS_KEY")
		_ = os.Unsetenv("AWS_REGION")
		write(t, os.Getenv("AWS_CONFIG_FILE"), "[profile ir]\nregion = ap-southeast-2\nendpoint_url = "+f.URL+"\n")
		write(t, os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), "[ir]\naws_access_key_id = "+id+"\naws_secret_access_key = "+secret+"\n")
		t.Setenv("AWS_PROFILE", "ir")
		cfg, err := newAccounts(t, accountsConfig("")).For(context.Background(), "security", aws.Session{})
		if err != nil {
			t.Fatal(err)
		}
		if got := whoAmI(t, cfg); got != "arn:aws:iam::111111111111:user/profile-user" {
			t.Errorf("caller %q", got)
		}
		if c := f.Calls()[0]; c.Region != "ap-southeast-2" {
			t.Errorf("region %q", c.Region)
		}
	})
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestS3PathStyleOption(t *testing.T) {
	cleanEnv(t)
	for _, want := range []bool{false, true} {
		a, err := aws.New(context.Background(), config.AWS{}, aws.Options{S3UsePathStyle: want})
		if err != nil {
			t.Fatal(err)
		}
		if a.S3UsePathStyle() != want {
			t.Errorf("S3UsePathStyle() = %v, want %v", a.S3UsePathStyle(), want)
		}
	}
}

// The cache is bounded: past the bound it starts over, and a session used again assumes the role
// again instead of the map growing for the worker's lifetime.
func TestCredentialCacheIsBounded(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	a.SetMaxSessions(2)
	ctx := context.Background()
	for _, step := range []string{"a", "b", "a", "c", "a"} {
		if _, err := a.For(ctx, "prod", aws.Session{Incident: "INC-1", Step: step}); err != nil {
			t.Fatal(err)
		}
	}
	// a, b assumed; a cached; c clears the full cache and is assumed; a assumed again.
	var got []string
	for _, c := range f.CallsTo("sts", "AssumeRole") {
		got = append(got, strings.TrimPrefix(c.Params.Get("RoleSessionName"), "firebreak-INC-1-"))
	}
	if strings.Join(got, ",") != "a,b,c,a" {
		t.Errorf("AssumeRole sessions %v, want [a b c a]", got)
	}
}

// Parallel steps of one incident share the account's session: concurrent For calls assume the
// role once.
func TestConcurrentForAssumesOnce(t *testing.T) {
	f := setup(t)
	a := newAccounts(t, accountsConfig(f.URL))
	s := aws.Session{Incident: "INC-9", Step: "fanout"}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := a.For(context.Background(), "prod", s)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.CallsTo("sts", "AssumeRole")); n != 1 {
		t.Errorf("%d AssumeRole calls, want 1", n)
	}
}

// With no credentials anywhere in the chain, For says so before any call.
func TestNoCredentialsSaysWhere(t *testing.T) {
	cleanEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	f := awsfake.New()
	t.Cleanup(f.Close)
	f.AddRole(prodRole)
	a := newAccounts(t, accountsConfig(f.URL))
	for _, account := range []string{"prod", "security"} {
		_, err := a.For(context.Background(), account, aws.Session{Incident: "INC-1", Step: "s"})
		if !errors.Is(err, aws.ErrNoCredentials) || !strings.Contains(err.Error(), "AWS_PROFILE") {
			t.Errorf("%s: %v", account, err)
		}
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls without credentials", n)
	}
}
