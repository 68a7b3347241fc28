package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"golang.org/x/time/rate"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

const ctKey = "AKIAFAKESTOLEN000001"

var ctBase = time.Date(2026, 12, 1, 10, 2, 0, 0, time.UTC)

// ctEvents are n events of the stolen key, one a second from ctBase: 60 event names, 3 IPs,
// 2 user agents, 30 buckets, one write in four, one AccessDenied in a hundred.
func ctEvents(n int) []awsfake.TrailEvent {
	evs := make([]awsfake.TrailEvent, n)
	for i := range evs {
		e := awsfake.TrailEvent{
			EventName: fmt.Sprintf("Op%02d", (i*7)%60), EventSource: "s3.amazonaws.com",
			EventTime: ctBase.Add(time.Duration(i) * time.Second), Username: "alice", AccessKeyID: ctKey,
			ReadOnly: i%4 != 0, SourceIP: fmt.Sprintf("198.51.100.%d", i%3),
			UserAgent: []string{"aws-cli/2.15.0 Python/3.11", "Boto3/1.34.0 " + strings.Repeat("x", 200)}[i%2],
			Resources: []awsfake.TrailResource{{Type: "AWS::S3::Bucket", Name: fmt.Sprintf("bucket-%02d", i%30)}},
		}
		if i%100 == 0 {
			e.ErrorCode = "AccessDenied"
		}
		evs[i] = e
	}
	return evs
}

// ctFast lifts the LookupEvents pace for tests that read hundreds of pages.
func ctFast(a *AWS) {
	a.limiters = map[string]*rate.Limiter{"cloudtrail.LookupEvents/" + testProdAccount + "/eu-west-1": rate.NewLimiter(rate.Inf, 1)}
}

func ctCounts(t *testing.T, v any) map[string]int {
	t.Helper()
	out := map[string]int{}
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("not a list: %T", v)
	}
	for _, e := range list {
		m := e.(map[string]any)
		out[m["name"].(string)] = m["count"].(int)
	}
	return out
}

func TestAWSCloudTrailLookupSummarisesManyPagesWithinBounds(t *testing.T) {
	a, f := newTestAWS(t)
	ctFast(a)
	f.AddTrailEvents(testProdAccount, "eu-west-1", ctEvents(20000)...)
	// Neither another key's events nor the same key's in another region are counted.
	f.AddTrailEvents(testProdAccount, "eu-west-1", awsfake.TrailEvent{EventName: "Other", EventTime: ctBase, AccessKeyID: "AKIAFAKEOTHER0000001"})
	f.AddTrailEvents(testProdAccount, "us-east-1", awsfake.TrailEvent{EventName: "Elsewhere", EventTime: ctBase, AccessKeyID: ctKey})
	act := iamAction(t, a, "aws.cloudtrail.lookup_events")

	// The default bound: the newest 10,000 events, in 200 pages.
	n := len(f.Calls())
	_, res := iamRun(t, f, act, iamReq("sweep", map[string]any{"account": "prod", "access_key_id": ctKey}))
	iamCheckPermissions(t, act, iamCallsSince(f, n))
	if res.Outputs["total"] != 10000 || res.Outputs["truncated"] != true || res.Outputs["pages"] != 200 {
		t.Fatalf("total %v truncated %v pages %v", res.Outputs["total"], res.Outputs["truncated"], res.Outputs["pages"])
	}
	if got := res.Outputs["first_seen"]; got != ctBase.Add(10000*time.Second).Format(time.RFC3339) {
		t.Errorf("first_seen %v: the newest events are the ones read", got)
	}
	calls := f.CallsTo("cloudtrail", "LookupEvents")
	if len(calls) != 200 {
		t.Fatalf("%d LookupEvents calls", len(calls))
	}
	for _, c := range calls {
		var body struct {
			LookupAttributes []map[string]string
			MaxResults       int
		}
		if err := json.Unmarshal(c.Body, &body); err != nil || len(body.LookupAttributes) != 1 || body.LookupAttributes[0]["AttributeValue"] != ctKey || body.MaxResults > 50 {
			t.Fatalf("call %s", c.Body)
		}
	}
	if !strings.HasPrefix(res.Summary, "10,000 events 2026-12-01T12:48Z–2026-12-01T15:35Z from 3 IPs (") || !strings.Contains(res.Summary, "stopped at max_events 10,000") ||
		!strings.Contains(res.Summary, "198.51.100.0") || !strings.Contains(res.Summary, "198.51.100.2") {
		t.Errorf("summary %q", res.Summary)
	}

	// All of it: 400 pages, every count exact, and still a few KB.
	_, res = iamRun(t, f, act, iamReq("sweep", map[string]any{"account": "prod", "access_key_id": ctKey, "max_events": 25000}))
	o := res.Outputs
	if o["total"] != 20000 || o["truncated"] != false || o["pages"] != 400 || o["read_only"] != 15000 || o["write"] != 5000 || o["errors"] != 200 {
		t.Fatalf("outputs %v", o)
	}
	if o["first_seen"] != "2026-12-01T10:02:00Z" || o["last_seen"] != ctBase.Add(19999*time.Second).Format(time.RFC3339) {
		t.Errorf("seen %v – %v", o["first_seen"], o["last_seen"])
	}
	names := ctCounts(t, o["event_names"])
	if len(names) != 50 || o["distinct_event_names"] != 60 {
		t.Errorf("%d event names listed of %v", len(names), o["distinct_event_names"])
	}
	want := map[string]int{}
	for _, e := range ctEvents(20000) {
		want[e.EventName]++
	}
	for name, c := range names {
		if want[name] != c {
			t.Errorf("%s counted %d, want %d", name, c, want[name])
		}
	}
	if ips := ctCounts(t, o["source_ips"]); !reflect.DeepEqual(ips, map[string]int{"198.51.100.0": 6667, "198.51.100.1": 6667, "198.51.100.2": 6666}) {
		t.Errorf("ips %v", ips)
	}
	if codes := ctCounts(t, o["error_codes"]); !reflect.DeepEqual(codes, map[string]int{"AccessDenied": 200}) {
		t.Errorf("error codes %v", codes)
	}
	for ua := range ctCounts(t, o["user_agents"]) {
		if len([]rune(ua)) > maxAgentLen+1 {
			t.Errorf("user agent not cut: %d runes", len([]rune(ua)))
		}
	}
	res0 := o["resources"].([]any)[0].(map[string]any)
	if len(o["resources"].([]any)) != 20 || o["distinct_resources"] != 30 || res0["type"] != "AWS::S3::Bucket" || !strings.HasPrefix(res0["name"].(string), "bucket-") {
		t.Errorf("resources %v", o["resources"])
	}
	if len(res.RequestIDs) != maxRequestIDs {
		t.Errorf("%d request IDs kept of 400 calls", len(res.RequestIDs))
	}
	b, _ := json.Marshal(res)
	if len(b) > 6000 {
		t.Errorf("result is %d bytes of JSON for 20,000 events; want a few KB", len(b))
	}
	t.Logf("result: %d bytes of JSON; summary: %s", len(b), res.Summary)
}

func TestAWSCloudTrailLookupKeepsCloudTrailsPaceAndHeartbeats(t *testing.T) {
	a, f := newTestAWS(t)
	f.AddTrailEvents(testProdAccount, "eu-west-1", ctEvents(300)...) // 6 pages
	act := iamAction(t, a, "aws.cloudtrail.lookup_events")
	var env testsuite.WorkflowTestSuite
	aenv := env.NewTestActivityEnvironment()
	var mu sync.Mutex
	var beats []lookupProgress
	aenv.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var p lookupProgress
		if err := details.Get(&p); err == nil {
			mu.Lock()
			beats = append(beats, p)
			mu.Unlock()
		}
	})
	sweep := func(ctx context.Context, with map[string]any) (Result, error) {
		return act.Execute(ctx, iamReq("sweep", with))
	}
	aenv.RegisterActivity(sweep)
	start := time.Now()
	val, err := aenv.ExecuteActivity(sweep, map[string]any{"role_session": "i-0abc1234def567890", "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	// The role session is CloudTrail's Username: none of these events is the instance's.
	if res.Outputs["total"] != float64(0) || !strings.HasPrefix(res.Summary, "no CloudTrail events of role session i-0abc1234def567890") {
		t.Errorf("outputs %v summary %q", res.Outputs, res.Summary)
	}

	val, err = aenv.ExecuteActivity(sweep, map[string]any{"username": "alice", "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if err := val.Get(&res); err != nil || res.Outputs["total"] != float64(300) || res.Outputs["pages"] != float64(6) {
		t.Fatalf("%v %v", err, res.Outputs)
	}
	// 7 calls at 2 a second with a burst of 1: at least 3 seconds.
	if elapsed < 2900*time.Millisecond {
		t.Errorf("7 LookupEvents calls took %s; CloudTrail allows 2 a second", elapsed)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(beats) == 0 || beats[0].Pages != 1 {
		t.Errorf("heartbeats %v", beats)
	}
}

func TestAWSCloudTrailThrottledLookupStillCompletes(t *testing.T) {
	a, f := newTestAWS(t)
	ctFast(a)
	f.AddTrailEvents(testProdAccount, "eu-west-1", ctEvents(300)...)
	f.Throttle(0.3)
	n := len(f.Calls())
	res, err := iamAction(t, a, "aws.cloudtrail.lookup_events").Execute(context.Background(),
		iamReq("sweep", map[string]any{"access_key_id": ctKey, "start": "2026-12-01T10:02:00Z", "end": "2026-12-01T10:06:59Z"}))
	if err != nil {
		t.Fatal(err)
	}
	// 10:02:00 to 10:06:59 holds the first 300 seconds: every event, once.
	if res.Outputs["total"] != 300 || res.Outputs["pages"] != 6 || res.Outputs["read_only"] != 225 {
		t.Errorf("outputs %v", res.Outputs)
	}
	throttled := 0
	for _, c := range f.Calls()[n:] {
		if c.ErrorCode == "ThrottlingException" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("nothing was throttled")
	}
}

func TestAWSCloudTrailLookupWindows(t *testing.T) {
	a, f := newTestAWS(t)
	ctFast(a)
	now := time.Now().UTC().Truncate(time.Second)
	f.AddTrailEvents(testProdAccount, "eu-west-1",
		awsfake.TrailEvent{EventName: "Recent", EventTime: now.Add(-time.Hour), Username: "bob", Resources: []awsfake.TrailResource{{Type: "AWS::EC2::Instance", Name: "i-0abc"}}},
		awsfake.TrailEvent{EventName: "Old", EventTime: now.Add(-72 * time.Hour), Username: "bob"})
	act := iamAction(t, a, "aws.cloudtrail.lookup_events")
	for _, tc := range []struct {
		with  map[string]any
		total int
	}{
		{map[string]any{"username": "bob"}, 2},
		{map[string]any{"username": "bob", "start": "24h"}, 1},
		{map[string]any{"username": "bob", "start": "4d", "end": "2d"}, 1},
		{map[string]any{"resource_name": "i-0abc"}, 1},
		{map[string]any{"username": "bob", "start": now.Add(-2 * time.Hour).Format(time.RFC3339), "end": now.Format(time.RFC3339)}, 1},
	} {
		_, res := iamRun(t, f, act, iamReq("sweep", tc.with))
		if res.Outputs["total"] != tc.total {
			t.Errorf("%v: %v events, want %d", tc.with, res.Outputs["total"], tc.total)
		}
	}
}

func TestAWSCloudTrailBadInputs(t *testing.T) {
	a, f := newTestAWS(t)
	act := iamAction(t, a, "aws.cloudtrail.lookup_events")
	for _, with := range []map[string]any{
		{},
		{"access_key_id": ctKey, "username": "alice"},
		{"access_key_id": "nope"},
		{"role_session": "a"},
		{"username": "alice", "start": "yesterday"},
		{"username": "alice", "start": "1h", "end": "2h"},
		{"username": "alice", "max_events": -1},
		{"username": "alice", "max_events": 1000000},
	} {
		_, perr := act.Plan(context.Background(), iamReq("sweep", with))
		_, eerr := act.Execute(context.Background(), iamReq("sweep", with))
		for _, err := range []error{perr, eerr} {
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != ErrBadInput || !app.NonRetryable() {
				t.Errorf("%v: got %v, want bad input", with, err)
			}
		}
	}
	if len(f.Calls()) != 0 {
		t.Errorf("bad inputs made %d calls", len(f.Calls()))
	}
}

func TestAWSCloudTrailThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1204: "1,204", 1234567: "1,234,567", -1204: "-1,204"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
