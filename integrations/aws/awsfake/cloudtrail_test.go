package awsfake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

func trailClient(t *testing.T, f *awsfake.Server, region string) *cloudtrail.Client {
	t.Helper()
	id, secret := f.AddUser(prodAccount, "auditor")
	return cloudtrail.New(cloudtrail.Options{
		Region:           region,
		BaseEndpoint:     awssdk.String(f.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1, HTTPClient: fbaws.HTTPClient(),
	})
}

func byKey(key string) []cttypes.LookupAttribute {
	return []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: awssdk.String(key)}}
}

func TestLookupEventsPagesNewestFirstWithinTheWindow(t *testing.T) {
	f := newFake(t)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var evs []awsfake.TrailEvent
	for i := range 120 {
		evs = append(evs, awsfake.TrailEvent{EventName: fmt.Sprintf("Op%d", i), EventTime: base.Add(time.Duration(i) * time.Minute),
			AccessKeyID: "AKIAFAKESTOLEN000001", ReadOnly: i%2 == 0, SourceIP: "203.0.113.9", UserAgent: "curl/8", ErrorCode: "AccessDenied",
			Resources: []awsfake.TrailResource{{Type: "AWS::S3::Bucket", Name: "b"}}})
	}
	f.AddTrailEvents(prodAccount, "eu-west-1", evs...)
	f.AddTrailEvents(prodAccount, "us-east-1", awsfake.TrailEvent{EventName: "Elsewhere", EventTime: base, AccessKeyID: "AKIAFAKESTOLEN000001"})
	c := trailClient(t, f, "eu-west-1")
	ctx := context.Background()
	in := &cloudtrail.LookupEventsInput{LookupAttributes: byKey("AKIAFAKESTOLEN000001"),
		StartTime: awssdk.Time(base.Add(10 * time.Minute)), EndTime: awssdk.Time(base.Add(109 * time.Minute))}
	p := cloudtrail.NewLookupEventsPaginator(c, in)
	var names []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range out.Events {
			names = append(names, awssdk.ToString(e.EventName))
		}
		if pages == 1 {
			e := out.Events[0]
			var rec map[string]any
			if err := json.Unmarshal([]byte(awssdk.ToString(e.CloudTrailEvent)), &rec); err != nil {
				t.Fatal(err)
			}
			if rec["sourceIPAddress"] != "203.0.113.9" || rec["userAgent"] != "curl/8" || rec["errorCode"] != "AccessDenied" || rec["awsRegion"] != "eu-west-1" ||
				!e.EventTime.Equal(base.Add(109*time.Minute)) || awssdk.ToString(e.ReadOnly) != "false" || awssdk.ToString(e.Resources[0].ResourceName) != "b" {
				t.Errorf("event %+v record %v", e, rec)
			}
		}
	}
	if len(names) != 100 || pages != 2 || names[0] != "Op109" || names[99] != "Op10" {
		t.Errorf("%d events in %d pages, %s … %s", len(names), pages, names[0], names[len(names)-1])
	}
}

func TestLookupEventsRefusesWhatCloudTrailRefuses(t *testing.T) {
	f := newFake(t)
	f.AddTrailEvents(prodAccount, "eu-west-1", awsfake.TrailEvent{EventName: "A", EventTime: time.Now(), AccessKeyID: "AKIAFAKESTOLEN000001"},
		awsfake.TrailEvent{EventName: "B", EventTime: time.Now(), AccessKeyID: "AKIAFAKESTOLEN000001"})
	c := trailClient(t, f, "eu-west-1")
	ctx := context.Background()
	first, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: byKey("AKIAFAKESTOLEN000001"), MaxResults: awssdk.Int32(1)})
	if err != nil || first.NextToken == nil {
		t.Fatalf("%v %v", first, err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name string
		in   cloudtrail.LookupEventsInput
		code string
	}{
		{"two attributes", cloudtrail.LookupEventsInput{LookupAttributes: append(byKey("AKIAFAKESTOLEN000001"),
			cttypes.LookupAttribute{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: awssdk.String("alice")})}, "InvalidLookupAttributesException"},
		{"unknown attribute", cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: "Colour", AttributeValue: awssdk.String("red")}}}, "InvalidLookupAttributesException"},
		{"page too large", cloudtrail.LookupEventsInput{MaxResults: awssdk.Int32(51)}, "InvalidMaxResultsException"},
		{"start after end", cloudtrail.LookupEventsInput{StartTime: awssdk.Time(now), EndTime: awssdk.Time(now.Add(-time.Hour))}, "InvalidTimeRangeException"},
		{"garbage token", cloudtrail.LookupEventsInput{NextToken: awssdk.String("nope")}, "InvalidNextTokenException"},
		{"token of another query", cloudtrail.LookupEventsInput{LookupAttributes: byKey("AKIAFAKEOTHER0000001"), NextToken: first.NextToken}, "InvalidNextTokenException"},
	} {
		_, err := c.LookupEvents(ctx, &tc.in)
		if code, id, _ := apiError(t, err); code != tc.code || id == "" {
			t.Errorf("%s: %s (request %q), want %s", tc.name, code, id, tc.code)
		}
	}
	// The token goes on with its own query, even with another page size.
	next, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: byKey("AKIAFAKESTOLEN000001"), MaxResults: awssdk.Int32(50), NextToken: first.NextToken})
	if err != nil || len(next.Events) != 1 || next.NextToken != nil {
		t.Errorf("%v %v", next, err)
	}
}
