package awsfake_test

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

// iamClient is a real IAM client acting in prod as an admin user of the fake.
func iamClient(t *testing.T, f *awsfake.Server) *iam.Client {
	t.Helper()
	id, secret := f.AddUser(prodAccount, "admin")
	return iam.New(iam.Options{
		Region:           "us-east-1",
		BaseEndpoint:     awssdk.String(f.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1, HTTPClient: fbaws.HTTPClient(),
	})
}

func TestIAMUserKeysSignAndAreOneModel(t *testing.T) {
	f := newFake(t)
	used := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	keys := f.AddIAMUser(prodAccount, awsfake.IAMUser{Name: "alice", Path: "/dev/", Keys: []awsfake.IAMAccessKey{
		{LastUsed: &awsfake.AccessKeyUse{Date: used, Service: "s3", Region: "eu-west-1"}}, {Status: "Inactive"}}})
	ctx := context.Background()
	// The user's own key signs requests as the user, and STS knows its account.
	me, err := client(f, keys[0].AccessKeyID, keys[0].SecretAccessKey, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || awssdk.ToString(me.Arn) != "arn:aws:iam::222222222222:user/dev/alice" {
		t.Fatalf("caller %v %v", me, err)
	}
	info, err := client(f, keys[0].AccessKeyID, keys[0].SecretAccessKey, "").GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: &keys[1].AccessKeyID})
	if err != nil || awssdk.ToString(info.Account) != prodAccount {
		t.Fatalf("key info %v %v", info, err)
	}

	// GetUser without a name answers for the calling user.
	own := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: awssdk.String(f.URL), RetryMaxAttempts: 1, HTTPClient: fbaws.HTTPClient(),
		Credentials: credentials.NewStaticCredentialsProvider(keys[0].AccessKeyID, keys[0].SecretAccessKey, "")})
	if u, err := own.GetUser(ctx, &iam.GetUserInput{}); err != nil || awssdk.ToString(u.User.UserName) != "alice" || awssdk.ToString(u.User.Path) != "/dev/" {
		t.Fatalf("GetUser as alice: %+v %v", u, err)
	}

	c := iamClient(t, f)
	list, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: awssdk.String("alice")})
	if err != nil || len(list.AccessKeyMetadata) != 2 || list.AccessKeyMetadata[1].Status != iamtypes.StatusTypeInactive {
		t.Fatalf("keys %+v %v", list, err)
	}
	lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &keys[0].AccessKeyID})
	if err != nil || awssdk.ToString(lu.UserName) != "alice" || !lu.AccessKeyLastUsed.LastUsedDate.Equal(used) || awssdk.ToString(lu.AccessKeyLastUsed.ServiceName) != "s3" {
		t.Fatalf("last used %+v %v", lu, err)
	}
	lu, err = c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &keys[1].AccessKeyID})
	if err != nil || lu.AccessKeyLastUsed.LastUsedDate != nil || awssdk.ToString(lu.AccessKeyLastUsed.Region) != "N/A" {
		t.Fatalf("never used %+v %v", lu, err)
	}

	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String("alice"), AccessKeyId: &keys[0].AccessKeyID, Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if got := f.AccessKeyStatus(keys[0].AccessKeyID); got != "Inactive" {
		t.Errorf("status %q", got)
	}
}

func TestIAMErrorsAreAWSs(t *testing.T) {
	f := newFake(t)
	keys := f.AddIAMUser(prodAccount, awsfake.IAMUser{Name: "alice", Keys: []awsfake.IAMAccessKey{{}}})
	other := f.AddIAMUser("333333333333", awsfake.IAMUser{Name: "mallory", Keys: []awsfake.IAMAccessKey{{}}})
	f.AddIAMRole(prodAccount, awsfake.IAMRole{Name: "app"})
	c := iamClient(t, f)
	ctx := context.Background()
	alice, app := awssdk.String("alice"), awssdk.String("app")
	for _, tc := range []struct {
		name   string
		call   func() error
		code   string
		status int
		msg    string
	}{
		{"unknown user", func() error { _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: awssdk.String("bob")}); return err },
			"NoSuchEntity", 404, "The user with name bob cannot be found."},
		{"unknown key", func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: alice, AccessKeyId: &other[0].AccessKeyID, Status: iamtypes.StatusTypeInactive})
			return err
		}, "NoSuchEntity", 404, "The Access Key with id " + other[0].AccessKeyID + " cannot be found."},
		{"key of another account", func() error {
			_, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &other[0].AccessKeyID})
			return err
		}, "AccessDenied", 403, "is not authorized to perform: iam:GetAccessKeyLastUsed"},
		{"bad status", func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: alice, AccessKeyId: &keys[0].AccessKeyID, Status: "Off"})
			return err
		}, "ValidationError", 400, "Member must satisfy enum value set"},
		{"no such policy", func() error {
			_, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: app, PolicyName: awssdk.String("p")})
			return err
		}, "NoSuchEntity", 404, "The role policy with name p cannot be found."},
		{"malformed policy", func() error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: alice, PolicyName: awssdk.String("p"), PolicyDocument: awssdk.String(`{"Statement":[{"Effect":"Deny","Resource":"*"}]}`)})
			return err
		}, "MalformedPolicyDocument", 400, "Policy statement must contain actions."},
		{"policy too large", func() error {
			doc := `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::` + strings.Repeat("x", 2048) + `"}]}`
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: alice, PolicyName: awssdk.String("p"), PolicyDocument: &doc})
			return err
		}, "LimitExceeded", 409, "Maximum policy size of 2048 bytes exceeded for user alice"},
		{"no login profile", func() error {
			_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: alice})
			return err
		}, "NoSuchEntity", 404, "Login Profile for User alice cannot be found."},
		{"no instance profile", func() error {
			_, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: awssdk.String("web")})
			return err
		}, "NoSuchEntity", 404, "Instance Profile web cannot be found."},
	} {
		before := f.State()
		code, id, status := apiError(t, tc.call())
		if code != tc.code || status != tc.status || id == "" {
			t.Errorf("%s: %s %d %q", tc.name, code, status, id)
		}
		if err := tc.call(); !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v lacks %q", tc.name, err, tc.msg)
		}
		if !reflect.DeepEqual(before, f.State()) {
			t.Errorf("%s: a failed call changed the state", tc.name)
		}
	}
}

func TestIAMInlinePoliciesRoundTripURLEncoded(t *testing.T) {
	f := newFake(t)
	f.AddIAMUser(prodAccount, awsfake.IAMUser{Name: "alice"})
	c := iamClient(t, f)
	ctx := context.Background()
	doc := `{"Version": "2012-10-17", "Statement": [{"Sid": "A1", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringLike": {"aws:userid": "AIDA+x*"}}}]}`
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: awssdk.String("alice"), PolicyName: awssdk.String("p"), PolicyDocument: &doc}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: awssdk.String("alice"), PolicyName: awssdk.String("p")})
	if err != nil {
		t.Fatal(err)
	}
	raw := awssdk.ToString(out.PolicyDocument)
	if strings.ContainsAny(raw, ` {"`) {
		t.Errorf("document not URL-encoded: %s", raw)
	}
	if got, err := url.PathUnescape(raw); err != nil || got != doc {
		t.Errorf("decoded %q, want %q", got, doc)
	}
	if _, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: awssdk.String("alice"), PolicyName: awssdk.String("p")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: awssdk.String("alice"), PolicyName: awssdk.String("p")})
	if code, _, _ := apiError(t, err); code != "NoSuchEntity" {
		t.Errorf("second delete: %s", code)
	}
}

func TestIAMTagsLoginProfilesAndInstanceProfiles(t *testing.T) {
	f := newFake(t)
	f.AddIAMUser(prodAccount, awsfake.IAMUser{Name: "alice", LoginProfile: true})
	roleARN := f.AddIAMRole(prodAccount, awsfake.IAMRole{Name: "web-role"})
	profileARN := f.AddInstanceProfile(prodAccount, "web", "web-role")
	c := iamClient(t, f)
	ctx := context.Background()
	before := f.State()
	alice := awssdk.String("alice")
	if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: alice, Tags: []iamtypes.Tag{{Key: awssdk.String("k"), Value: awssdk.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: alice})
	if err != nil || len(u.User.Tags) != 1 || awssdk.ToString(u.User.Tags[0].Value) != "v" {
		t.Fatalf("user %+v %v", u, err)
	}
	if _, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: alice, TagKeys: []string{"k"}}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, f.State()) {
		t.Error("tag then untag did not restore the state")
	}
	lp, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: alice})
	if err != nil || awssdk.ToString(lp.LoginProfile.UserName) != "alice" {
		t.Fatalf("login profile %+v %v", lp, err)
	}
	if _, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: alice}); err != nil {
		t.Fatal(err)
	}
	ip, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: awssdk.String("web")})
	if err != nil || awssdk.ToString(ip.InstanceProfile.Arn) != profileARN || len(ip.InstanceProfile.Roles) != 1 || awssdk.ToString(ip.InstanceProfile.Roles[0].Arn) != roleARN {
		t.Fatalf("instance profile %+v %v", ip, err)
	}
	// State is a deep copy: a later change to the fake leaves an earlier copy as it was.
	s1, s2 := f.State(), f.State()
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: alice, PolicyName: awssdk.String("p"),
		PolicyDocument: awssdk.String(`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`)}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s1, s2) || reflect.DeepEqual(s1, f.State()) {
		t.Error("State shares the fake's live policies")
	}
}

// A deactivated key no longer signs requests, as in AWS.
func TestInactiveKeyIsRefused(t *testing.T) {
	f := newFake(t)
	keys := f.AddIAMUser(prodAccount, awsfake.IAMUser{Name: "leaky", Keys: []awsfake.IAMAccessKey{{}}})
	c := client(f, keys[0].AccessKeyID, keys[0].SecretAccessKey, "")
	if _, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("active key: %v", err)
	}
	if _, err := iamClient(t, f).UpdateAccessKey(context.Background(), &iam.UpdateAccessKeyInput{
		UserName: awssdk.String("leaky"), AccessKeyId: awssdk.String(keys[0].AccessKeyID), Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if code, _, status := apiError(t, err); code != "InvalidClientTokenId" || status != 403 {
		t.Errorf("inactive key: %s %d", code, status)
	}
}
