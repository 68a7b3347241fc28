package awsfake_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	wafv2types "github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

// wafClient is a real WAFv2 client in region for a user of the prod account, SDK retries off.
func wafClient(t *testing.T, f *awsfake.Server, region string) *wafv2.Client {
	t.Helper()
	id, secret := f.AddUser(prodAccount, "waf-admin")
	return wafv2.New(wafv2.Options{Region: region, BaseEndpoint: awssdk.String(f.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""), RetryMaxAttempts: 1, HTTPClient: fbaws.HTTPClient()})
}

func TestWAFv2IPSetReadUpdateAndLockToken(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	id, arn := f.AddIPSet(prodAccount, "eu-west-1", "REGIONAL", "attackers", "IPV4", "192.0.2.1/32")
	c := wafClient(t, f, "eu-west-1")
	ref := &wafv2.GetIPSetInput{Name: awssdk.String("attackers"), Id: &id, Scope: wafv2types.ScopeRegional}
	got, err := c.GetIPSet(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if awssdk.ToString(got.IPSet.ARN) != arn || got.IPSet.IPAddressVersion != wafv2types.IPAddressVersionIpv4 ||
		!reflect.DeepEqual(got.IPSet.Addresses, []string{"192.0.2.1/32"}) || awssdk.ToString(got.LockToken) == "" {
		t.Fatalf("GetIPSet: %+v", got.IPSet)
	}
	update := func(token *string, addresses ...string) error {
		_, err := c.UpdateIPSet(ctx, &wafv2.UpdateIPSetInput{Name: ref.Name, Id: &id, Scope: ref.Scope,
			LockToken: token, Addresses: addresses, Description: got.IPSet.Description})
		return err
	}
	if err := update(got.LockToken, "192.0.2.1/32", "203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	// The token read before that update is stale now.
	if code, _, _ := apiError(t, update(got.LockToken, "192.0.2.1/32")); code != "WAFOptimisticLockException" {
		t.Errorf("stale token: %s", code)
	}
	fresh, err := c.GetIPSet(ctx, ref)
	if err != nil || !reflect.DeepEqual(fresh.IPSet.Addresses, []string{"192.0.2.1/32", "203.0.113.0/24"}) {
		t.Fatalf("after update: %+v %v", fresh, err)
	}
	// WAF wants CIDRs of the set's version: no bare address, no IPv6 in an IPv4 set, no /0.
	for _, bad := range []string{"203.0.113.9", "2001:db8::1/128", "0.0.0.0/0"} {
		err := update(fresh.LockToken, bad)
		var ipe *wafv2types.WAFInvalidParameterException
		if code, _, _ := apiError(t, err); code != "WAFInvalidParameterException" || !strings.Contains(err.Error(), "field: IP_ADDRESS, parameter: "+bad) {
			t.Errorf("%s: %v", bad, err)
		} else if !errors.As(err, &ipe) {
			t.Errorf("%s: the SDK did not decode a WAFInvalidParameterException: %T", bad, err)
		}
	}
	// Another writer between a read and an update: the update's token goes stale, once.
	f.WAFv2ConcurrentUpdate(arn, "198.51.100.7/32")
	if code, _, _ := apiError(t, update(fresh.LockToken, "192.0.2.1/32")); code != "WAFOptimisticLockException" {
		t.Errorf("concurrent update: %s", code)
	}
	again, err := c.GetIPSet(ctx, ref)
	if err != nil || !reflect.DeepEqual(again.IPSet.Addresses, []string{"192.0.2.1/32", "203.0.113.0/24", "198.51.100.7/32"}) {
		t.Fatalf("after the other writer: %+v %v", again, err)
	}
	if err := update(again.LockToken, "192.0.2.1/32"); err != nil {
		t.Errorf("update with a fresh token: %v", err)
	}
}

func TestWAFv2UnknownSetsAndScopes(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	id, _ := f.AddIPSet(prodAccount, "eu-west-1", "REGIONAL", "attackers", "IPV4")
	cfID, _ := f.AddIPSet(prodAccount, "", "CLOUDFRONT", "edge", "IPV6")
	for _, tc := range []struct {
		region, name, id string
		scope            wafv2types.Scope
		want             string
	}{
		{"eu-west-1", "attackers", "00000000-0000-4000-8000-000000000000", wafv2types.ScopeRegional, "WAFNonexistentItemException"},
		{"eu-west-1", "other", id, wafv2types.ScopeRegional, "WAFNonexistentItemException"},
		{"us-west-2", "attackers", id, wafv2types.ScopeRegional, "WAFNonexistentItemException"},
		{"eu-west-1", "edge", cfID, wafv2types.ScopeCloudfront, "WAFInvalidParameterException"},
		{"us-east-1", "edge", cfID, wafv2types.ScopeCloudfront, ""},
	} {
		_, err := wafClient(t, f, tc.region).GetIPSet(ctx, &wafv2.GetIPSetInput{Name: &tc.name, Id: &tc.id, Scope: tc.scope})
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc, err)
			}
			continue
		}
		if code, _, _ := apiError(t, err); code != tc.want {
			t.Errorf("%+v: %s", tc, code)
		}
	}
}
