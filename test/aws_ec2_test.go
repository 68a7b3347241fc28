package test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
	"github.com/firebreak-ir/firebreak/test/harness"
)

// The EC2 and Auto Scaling operations that change something, as "service:Operation".
var ec2Mutating = []string{
	"ec2:CreateSnapshots", "ec2:CreateTags", "ec2:DeleteTags", "ec2:ModifyInstanceAttribute",
	"ec2:ModifyNetworkInterfaceAttribute", "ec2:DisassociateIamInstanceProfile", "ec2:AssociateIamInstanceProfile",
	"ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
	"ec2:RevokeSecurityGroupEgress", "ec2:StopInstances",
	"autoscaling:DetachInstances", "autoscaling:AttachInstances", "autoscaling:UpdateAutoScalingGroup",
}

// ec2Mutations counts the mutating calls AWS carried out so far, by operation.
func ec2Mutations(f *awsfake.Server) map[string]int {
	out := map[string]int{}
	for _, op := range ec2Mutating {
		svc, name, _ := strings.Cut(op, ":")
		if n := successfulCalls(f, svc, name); n > 0 {
			out[op] = n
		}
	}
	return out
}

// ec2MutationsSince is what ec2Mutations added since before.
func ec2MutationsSince(f *awsfake.Server, before map[string]int) map[string]int {
	out := map[string]int{}
	for op, n := range ec2Mutations(f) {
		if d := n - before[op]; d != 0 {
			out[op] = d
		}
	}
	return out
}

// isolationCalls are the changes isolating an instance with enis network interfaces makes once
// the helper groups exist: one crash-consistent snapshot set, one tag call (record and markers),
// termination protection, the detach, the disassociation, and two moves per interface (through
// the untracking group, then to quarantine).
func isolationCalls(enis int) map[string]int {
	return map[string]int{
		"ec2:CreateSnapshots": 1, "ec2:CreateTags": 1, "ec2:ModifyInstanceAttribute": 1,
		"autoscaling:DetachInstances": 1, "ec2:DisassociateIamInstanceProfile": 1,
		"ec2:ModifyNetworkInterfaceAttribute": 2 * enis,
	}
}

// ec2Prod is the prod account's EC2 resources in the seeded region.
func (e *awsEnv) ec2Prod() awsfake.EC2Region {
	return ec2ProdOf(e.aws.State())
}

func ec2ProdOf(st awsfake.State) awsfake.EC2Region {
	return st.EC2.(awsfake.EC2State).Regions[harness.AWSProdAccount+"/"+harness.AWSRegion]
}

// addEC2Instance seeds another running web server in web-asg with the world's instance profile,
// one network interface per entry of groups (with those security groups) and two volumes.
func (e *awsEnv) addEC2Instance(id string, groups ...[]string) awsfake.Instance {
	e.t.Helper()
	tail := strings.TrimPrefix(id, "i-")
	in := awsfake.Instance{ID: id, VPCID: "vpc-0a1b2c3d4e5f60718", SubnetID: "subnet-0a1b2c3d4e5f60718", PrivateIP: "10.0.1.30",
		Volumes:            []awsfake.Volume{{ID: "vol-" + tail, DeviceName: "/dev/xvda", SizeGiB: 8}, {ID: "vol-1" + tail[1:], DeviceName: "/dev/xvdf", SizeGiB: 50}},
		InstanceProfileARN: e.world.InstanceProfile, AutoScalingGroup: "web-asg",
		Tags: map[string]string{"Name": "web-" + tail[:2], "aws:autoscaling:groupName": "web-asg"}}
	for i, g := range groups {
		in.NetworkInterfaces = append(in.NetworkInterfaces, awsfake.NetworkInterface{ID: "eni-" + string(rune('0'+i)) + tail[1:], SecurityGroups: g})
	}
	e.aws.AddInstance(harness.AWSProdAccount, harness.AWSRegion, in)
	return in
}

// helperGroups are the groups isolate creates in a VPC, by name.
func helperGroups(r awsfake.EC2Region) map[string]awsfake.SecurityGroup {
	out := map[string]awsfake.SecurityGroup{}
	for _, g := range r.SecurityGroups {
		if g.Name == "firebreak-quarantine" || g.Name == "firebreak-untrack" {
			out[g.Name] = g
		}
	}
	return out
}

// snapshotsOf lists the snapshots firebreak took of instance id, by volume.
func snapshotsOf(r awsfake.EC2Region, id string) []awsfake.Snapshot {
	var out []awsfake.Snapshot
	for _, s := range r.Snapshots {
		if s.Tags["firebreak:instance"] == id {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b awsfake.Snapshot) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// withoutEvidence is st without what a rollback rightly leaves behind: the helper security
// groups (kept for later isolations in the VPC) and the snapshots (evidence). st is a copy, so
// it is changed in place.
func withoutEvidence(st awsfake.State) awsfake.State {
	for _, r := range st.EC2.(awsfake.EC2State).Regions {
		for id, g := range r.SecurityGroups {
			if g.Name == "firebreak-quarantine" || g.Name == "firebreak-untrack" {
				delete(r.SecurityGroups, id)
			}
		}
		for id := range r.Snapshots {
			delete(r.Snapshots, id)
		}
	}
	return st
}

// assertIsolated checks that instance id is contained as isolate_instance promises: every
// interface in the rule-less quarantine group, having passed through the all-open untracking
// group (so its tracked connections were cut), out of its Auto Scaling group (whose desired
// capacity stays, so it is replaced), its instance profile gone, termination protection on,
// tagged with the incident and its original state; and that snapshots holds the two snapshots
// of its volumes, tagged with the incident.
func (e *awsEnv) assertIsolated(orig awsfake.Instance, key string, snapshots []awsfake.Snapshot) {
	e.t.Helper()
	r := e.ec2Prod()
	in, ok := r.Instances[orig.ID]
	if !ok {
		e.t.Fatalf("%s is gone", orig.ID)
	}
	helpers := helperGroups(r)
	q, u := helpers["firebreak-quarantine"], helpers["firebreak-untrack"]
	if q.ID == "" || u.ID == "" || len(q.Ingress)+len(q.Egress) != 0 || len(u.Ingress) == 0 || len(u.Egress) == 0 {
		e.t.Fatalf("helper groups: quarantine %+v, untrack %+v", q, u)
	}
	for _, eni := range in.NetworkInterfaces {
		if !slices.Equal(eni.SecurityGroups, []string{q.ID}) {
			e.t.Errorf("%s %s is in %v, want only the quarantine group %s", orig.ID, eni.ID, eni.SecurityGroups, q.ID)
		}
		hist := e.aws.GroupHistory(harness.AWSProdAccount, harness.AWSRegion, eni.ID)
		if n := len(hist); n < 3 || !slices.Equal(hist[n-2], []string{u.ID}) || !slices.Equal(hist[n-1], []string{q.ID}) {
			e.t.Errorf("%s did not pass through the untracking group %s on its way to quarantine: %v", eni.ID, u.ID, hist)
		}
	}
	if in.AutoScalingGroup != "" || in.InstanceProfileARN != "" || !in.TerminationProtection {
		e.t.Errorf("%s: Auto Scaling group %q, instance profile %q, termination protection %t", orig.ID, in.AutoScalingGroup, in.InstanceProfileARN, in.TerminationProtection)
	}
	if in.Tags["firebreak:quarantined-by"] != key || in.Tags["firebreak:quarantine-group"] != q.ID || in.Tags["firebreak:original"] == "" {
		e.t.Errorf("%s tags: %v", orig.ID, in.Tags)
	}
	if g := e.aws.State().AutoScaling.(awsfake.AutoScalingState).Regions[harness.AWSProdAccount+"/"+harness.AWSRegion]["web-asg"]; g.DesiredCapacity != 2 {
		e.t.Errorf("web-asg's desired capacity is %d, want 2 kept so the group replaces the instance", g.DesiredCapacity)
	}
	var vols []string
	for _, s := range snapshots {
		vols = append(vols, s.VolumeID)
		if s.Tags["firebreak:incident"] != key || !strings.Contains(s.Description, key) {
			e.t.Errorf("snapshot %s: tags %v, description %q", s.ID, s.Tags, s.Description)
		}
	}
	slices.Sort(vols)
	var want []string
	for _, v := range orig.Volumes {
		want = append(want, v.ID)
	}
	slices.Sort(want)
	if !slices.Equal(vols, want) {
		e.t.Errorf("snapshots of volumes %v, want one of each of %v", vols, want)
	}
}

// newSnapshots are the snapshots of id that are not in before.
func newSnapshots(before awsfake.EC2Region, after awsfake.EC2Region, id string) []awsfake.Snapshot {
	var out []awsfake.Snapshot
	for _, s := range snapshotsOf(after, id) {
		if _, old := before.Snapshots[s.ID]; !old {
			out = append(out, s)
		}
	}
	return out
}

// TestEC2CompromiseContainmentEndToEnd drives ec2-compromise-containment from Slack against
// firebreak dev and awsfake, on one dev and one incident: a plan changes nothing; an unknown
// instance fails the first step with EC2's code and changes nothing; an abort after isolation
// rolls the instance back exactly (only the helper groups and the evidence stay); an approved run
// isolates the instance, cuts an open connection and posts the blast radius from CloudTrail; with
// 30% of calls throttled every change is still made once; and kill -9 of firebreak dev in the
// middle of isolate_instance, then a restart, finishes the isolation with every change made once.
// The role's calls are exactly what `playbook iam-policy` grants.
func TestEC2CompromiseContainmentEndToEnd(t *testing.T) {
	e := startAWSDev(t, "")
	a := e.ec2Prod().Instances[e.world.Instance]
	// Two more web servers in the same group: one with two interfaces for the throttled run, one
	// for the kill.
	b := e.addEC2Instance("i-0b1b2c3d4e5f60718", []string{"sg-0a1b2c3d4e5f60718"}, []string{"sg-0a1b2c3d4e5f60718", "sg-0b1b2c3d4e5f60718"})
	c := e.addEC2Instance("i-0c1b2c3d4e5f60718", []string{"sg-0a1b2c3d4e5f60718"})
	ch := e.declare("Crypto miner on web-1")
	key := keyOf(t, ch.Name)
	run := func(verb, id string) string {
		t.Helper()
		return e.startRunID(ch, verb, "ec2-compromise-containment instance_id="+id+" account=prod")
	}
	status := func() string {
		t.Helper()
		return e.command("U0DECL", ch.ID, ch.Name, "status", "trig-st-"+nowTag(), nil)["text"].(string)
	}
	// The incident's whole timeline: /incident timeline shows only the latest events.
	timeline := func() string {
		t.Helper()
		code, out := cli(t, []string{"TEMPORAL_ADDRESS=" + e.d.TemporalAddr}, "incident", "timeline", key)
		if code != 0 {
			t.Fatalf("incident timeline: exit %d\n%s", code, out)
		}
		return out
	}
	before := e.aws.State()

	// Plan: what would change is posted; nothing changes.
	id := run("plan", a.ID)
	e.waitRunStatus(ch, id, "planned")
	e.messageWith(ch.ID, "disassociate instance profile")
	if !reflect.DeepEqual(before, e.aws.State()) {
		t.Fatalf("a plan changed AWS:\nbefore %+v\nafter  %+v", ec2ProdOf(before), e.ec2Prod())
	}

	// An unknown instance: the first step fails with EC2's code and message, in /incident status,
	// in the run's status message and on the timeline; nothing changes.
	calls := ec2Mutations(e.aws)
	id = run("run", "i-00000000000000000")
	e.waitRunStatus(ch, id, "failed")
	if st := runLine(status(), id); !strings.Contains(st, "step describe") || !strings.Contains(st, "InvalidInstanceID.NotFound") {
		t.Errorf("status does not say the first step failed with EC2's error code:\n%s", st)
	}
	e.messageWith(ch.ID, "InvalidInstanceID.NotFound") // the run's own status message says why
	if tl := timeline(); !strings.Contains(tl, "The instance ID 'i-00000000000000000' does not exist") {
		t.Errorf("timeline lacks EC2's message:\n%s", tl)
	}
	if got := ec2MutationsSince(e.aws, calls); len(got) != 0 || !reflect.DeepEqual(before, e.aws.State()) {
		t.Fatalf("an unknown instance changed AWS: calls %v", got)
	}

	// Abort after isolation, while the CloudTrail sweep is under way: the rollback releases the
	// instance exactly as it was. Only the helper groups and the snapshots stay.
	base := e.aws.State() // what withoutEvidence may trim; before stays whole
	reached, release := e.aws.Hold("cloudtrail", "LookupEvents")
	defer release()
	id = run("run", a.ID)
	e.approve(ch, "isolate")
	waitReached(t, reached, "the CloudTrail sweep")
	e.assertIsolated(a, key, snapshotsOf(e.ec2Prod(), a.ID)) // there is something to roll back
	if out := e.command("U0IC1", ch.ID, ch.Name, "abort wrong instance", "trig-abort-"+nowTag(), nil); !strings.Contains(out["text"].(string), "abort") {
		t.Fatalf("abort: %v", out)
	}
	release()
	e.waitRunStatus(ch, id, "aborted")
	after := e.aws.State()
	if got, want := helperGroups(ec2ProdOf(after)), helperGroups(ec2ProdOf(before)); len(want) != 0 || len(got) != 2 {
		t.Errorf("helper groups before %v, after %v: want none, then firebreak-quarantine and firebreak-untrack", want, got)
	}
	if got := newSnapshots(ec2ProdOf(before), ec2ProdOf(after), a.ID); len(got) != 2 || len(ec2ProdOf(after).Snapshots) != 2 {
		t.Errorf("after rollback: snapshots %v of %s, %d in all; want the 2 of the run kept as evidence", got, a.ID, len(ec2ProdOf(after).Snapshots))
	}
	if !reflect.DeepEqual(withoutEvidence(e.aws.State()), withoutEvidence(base)) {
		t.Fatalf("rollback did not restore AWS:\nbefore %+v\n%+v\nafter  %+v\n%+v",
			ec2ProdOf(before).Instances[a.ID], before.AutoScaling, ec2ProdOf(after).Instances[a.ID], after.AutoScaling)
	}
	if tl := timeline(); !strings.Contains(tl, "compensat") {
		t.Errorf("timeline lacks the compensation:\n%s", tl)
	}

	// The run: an attacker's shell is open on the instance; after approval it is isolated, the
	// connection cut, the evidence kept, and the blast radius posted in the channel.
	e.aws.OpenConnection(harness.AWSProdAccount, harness.AWSRegion, a.NetworkInterfaces[0].ID)
	prev, calls := e.ec2Prod(), ec2Mutations(e.aws)
	id = run("run", a.ID)
	e.approve(ch, "isolate")
	e.waitRunStatus(ch, id, "succeeded")
	e.assertIsolated(a, key, newSnapshots(prev, e.ec2Prod(), a.ID))
	if conn := e.aws.Connection(harness.AWSProdAccount, harness.AWSRegion, a.NetworkInterfaces[0].ID); conn != awsfake.ConnNone {
		t.Errorf("the open connection survived isolation: %q", conn)
	}
	if got, want := ec2MutationsSince(e.aws, calls), isolationCalls(1); !maps.Equal(got, want) {
		t.Errorf("the run made %v, want %v", got, want)
	}
	tell := e.messageWith(ch.ID, a.ID+" is isolated (snapshots:")
	for _, want := range []string{"Blast radius of its role web-server", "120 events", "120 GetObject"} {
		if !strings.Contains(tell.Text+string(tell.Blocks), want) {
			t.Errorf("the channel's summary lacks %q: %s", want, tell.Text)
		}
	}

	// 30% of AWS calls throttled: the run completes and makes every change once. The SDK resends
	// a throttled request itself; so that the action's own idempotency is tried too, one
	// interface move fails with a 500, which Temporal retries: the second attempt of
	// isolate_instance must redo none of what the first did.
	prev, calls = e.ec2Prod(), ec2Mutations(e.aws)
	throttledBefore := throttledCalls(e.aws)
	e.aws.Throttle(0.3)
	e.aws.Fail("ec2", "ModifyNetworkInterfaceAttribute", &awsfake.Failure{Times: 1,
		APIError: awsfake.APIError{Status: 500, Code: "InternalError", Message: "An internal error has occurred"}})
	id = run("run", b.ID)
	e.approve(ch, "isolate")
	e.waitRunStatus(ch, id, "succeeded")
	e.aws.Throttle(0)
	if n := throttledCalls(e.aws) - throttledBefore; n < 5 {
		t.Fatalf("only %d calls throttled", n)
	}
	if tl := timeline(); !strings.Contains(tl, "InternalError") {
		t.Fatalf("isolate_instance was not retried after the 500:\n%s", tl)
	}
	e.assertIsolated(b, key, newSnapshots(prev, e.ec2Prod(), b.ID))
	if got, want := ec2MutationsSince(e.aws, calls), isolationCalls(2); !maps.Equal(got, want) {
		t.Errorf("throttled, the run made %v, want %v", got, want)
	}

	// kill -9 of firebreak dev while isolate_instance moves the first interface; AWS carries the
	// move out; after a restart on the same data the isolation finishes, every change made once.
	eni := c.NetworkInterfaces[0].ID
	e.aws.OpenConnection(harness.AWSProdAccount, harness.AWSRegion, eni)
	reached, release = e.aws.Hold("ec2", "ModifyNetworkInterfaceAttribute")
	defer release()
	prev, calls = e.ec2Prod(), ec2Mutations(e.aws)
	id = run("run", c.ID)
	e.approve(ch, "isolate")
	waitReached(t, reached, "isolate's first interface move")
	if err := e.d.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-e.d.Done()
	killedLog := e.d.Output()
	release()
	waitFor(t, func() bool { return len(e.aws.GroupHistory(harness.AWSProdAccount, harness.AWSRegion, eni)) == 2 })
	if mid := e.ec2Prod().Instances[c.ID]; mid.AutoScalingGroup != "" || mid.InstanceProfileARN != "" {
		t.Fatalf("the kill came before isolate's earlier changes: %+v", mid)
	}
	e.restartDev()
	e.waitRunStatus(ch, id, "succeeded")
	e.assertIsolated(c, key, newSnapshots(prev, e.ec2Prod(), c.ID))
	if conn := e.aws.Connection(harness.AWSProdAccount, harness.AWSRegion, eni); conn != awsfake.ConnNone {
		t.Errorf("the open connection survived isolation across the kill: %q", conn)
	}
	if got, want := ec2MutationsSince(e.aws, calls), isolationCalls(1); !maps.Equal(got, want) {
		t.Errorf("across the kill the run made %v, want %v", got, want)
	}
	if strings.Contains(killedLog, "CANARY") {
		t.Errorf("canary in the killed dev's log")
	}

	// The generated policy grants what the role called, plus iam:PassRole: IAM authorises
	// AssociateIamInstanceProfile (the rollback's re-association) as passing the profile's role,
	// with no call of its own. (ec2:CreateTags is also declared on snapshots, authorising the tags
	// CreateSnapshots sets at creation; it needs no adjustment here, since the role calls
	// CreateTags on the instance.)
	called := roleCalls(e.aws)
	for _, want := range []string{"ec2:AssociateIamInstanceProfile", "ec2:CreateTags", "cloudtrail:LookupEvents", "iam:GetInstanceProfile"} {
		if !slices.Contains(called, want) {
			t.Fatalf("the role never called %s: %v", want, called)
		}
	}
	called = append(called, "iam:PassRole")
	slices.Sort(called)
	assertPolicyMatches(t, "ec2-compromise-containment", called)
	e.assertNoSecrets()
}

// waitReached waits for a held AWS call to arrive.
func waitReached(t *testing.T, reached <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not reach AWS within 60s", what)
	}
}

// throttledCalls counts the calls the fake answered with a throttling error.
func throttledCalls(f *awsfake.Server) int {
	n := 0
	for _, c := range f.Calls() {
		switch c.ErrorCode {
		case "Throttling", "ThrottlingException", "RequestLimitExceeded":
			n++
		}
	}
	return n
}

// runLine is the line of /incident status about run id, "" when there is none.
func runLine(status, id string) string {
	for _, l := range strings.Split(status, "\n") {
		if strings.Contains(l, "run `"+id+"`") {
			return l
		}
	}
	return ""
}
