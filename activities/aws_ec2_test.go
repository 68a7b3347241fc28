package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

// The EC2 fixture: a web server in an Auto Scaling group that is at its maximum size, with two
// network interfaces (three groups), two EBS volumes and an instance profile.
const (
	ec2Region   = "eu-west-1"
	ec2VPC      = "vpc-0a1b2c3d4e5f60718"
	ec2Subnet   = "subnet-0a1b2c3d4e5f60718"
	ec2Web      = "i-0123456789abcdef0"
	ec2Sibling  = "i-0fedcba9876543210"
	ec2Unknown  = "i-0000000000000dead"
	ec2ENI1     = "eni-0aaaaaaaaaaaaaaa1"
	ec2ENI2     = "eni-0aaaaaaaaaaaaaaa2"
	ec2SGWeb    = "sg-0000000000000aaa1"
	ec2SGSSH    = "sg-0000000000000aaa2"
	ec2SGDB     = "sg-0000000000000aaa3"
	ec2VolRoot  = "vol-0000000000000bbb1"
	ec2VolData  = "vol-0000000000000bbb2"
	ec2Profile  = "arn:aws:iam::222222222222:instance-profile/web"
	ec2ASG      = "web-asg"
	ec2Incident = "INC-2026-0042"
)

func seedEC2(f *awsfake.Server) {
	f.AddAutoScalingGroup(testProdAccount, ec2Region, awsfake.AutoScalingGroup{Name: ec2ASG, MinSize: 1, MaxSize: 2, DesiredCapacity: 2})
	f.AddInstance(testProdAccount, ec2Region, awsfake.Instance{
		ID: ec2Web, VPCID: ec2VPC, SubnetID: ec2Subnet, PrivateIP: "10.0.1.10", PublicIP: "203.0.113.10",
		NetworkInterfaces: []awsfake.NetworkInterface{
			{ID: ec2ENI1, PrivateIP: "10.0.1.10", SecurityGroups: []string{ec2SGWeb, ec2SGSSH}},
			{ID: ec2ENI2, PrivateIP: "10.0.2.10", SecurityGroups: []string{ec2SGDB}},
		},
		Volumes:            []awsfake.Volume{{ID: ec2VolRoot, DeviceName: "/dev/xvda", SizeGiB: 8}, {ID: ec2VolData, DeviceName: "/dev/sdf", SizeGiB: 100}},
		InstanceProfileARN: ec2Profile, AutoScalingGroup: ec2ASG,
		Tags: map[string]string{"Name": "web-1", "team": "payments"},
	})
	f.AddInstance(testProdAccount, ec2Region, awsfake.Instance{ID: ec2Sibling, VPCID: ec2VPC, SubnetID: ec2Subnet, AutoScalingGroup: ec2ASG,
		NetworkInterfaces: []awsfake.NetworkInterface{{ID: "eni-0aaaaaaaaaaaaaaa9", SecurityGroups: []string{ec2SGWeb}}}})
}

func newTestEC2(t *testing.T) (*AWS, *awsfake.Server) {
	t.Helper()
	a, f := newTestAWS(t)
	seedEC2(f)
	return a, f
}

func ec2Action(t *testing.T, a *AWS, name string) Action {
	t.Helper()
	for _, act := range a.ec2Actions() {
		if act.Spec().Name == name {
			return act
		}
	}
	t.Fatalf("no action %s", name)
	return nil
}

func ec2Req(step string, with map[string]any) Request {
	w := map[string]any{"account": "prod"}
	maps.Copy(w, with)
	return Request{Incident: ec2Incident, StepID: step, WorkflowID: "incident-" + ec2Incident,
		IdempotencyKey: "incident-" + ec2Incident + "/run-1/" + step, With: w}
}

func mustExecute(t *testing.T, act Action, req Request) Result {
	t.Helper()
	res, err := act.Execute(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: %v", act.Spec().Name, err)
	}
	return res
}

// ec2Of returns the fake's EC2 resources in the prod account's region.
func ec2Of(t *testing.T, st awsfake.State) awsfake.EC2Region {
	t.Helper()
	return st.EC2.(awsfake.EC2State).Regions[testProdAccount+"/"+ec2Region]
}

func asgOf(st awsfake.State) awsfake.AutoScalingGroup {
	return st.AutoScaling.(awsfake.AutoScalingState).Regions[testProdAccount+"/"+ec2Region][ec2ASG]
}

// withoutHelperGroups drops the groups isolate creates (and release leaves) from a state.
func withoutHelperGroups(st awsfake.State) awsfake.State {
	for _, r := range st.EC2.(awsfake.EC2State).Regions {
		for id, g := range r.SecurityGroups {
			if g.Name == quarantineGroupName || g.Name == untrackGroupName {
				delete(r.SecurityGroups, id)
			}
		}
	}
	return st
}

func groupNamed(t *testing.T, st awsfake.State, name string) awsfake.SecurityGroup {
	t.Helper()
	var found []awsfake.SecurityGroup
	for _, g := range ec2Of(t, st).SecurityGroups {
		if g.Name == name {
			found = append(found, g)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d groups named %s, want 1: %+v", len(found), name, found)
	}
	return found[0]
}

// sideEffects counts the successful calls that change something, by operation.
func sideEffects(calls []awsfake.Call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		if c.ErrorCode == "" && c.Service != "sts" && !strings.HasPrefix(c.Operation, "Describe") {
			out[c.Service+":"+c.Operation]++
		}
	}
	return out
}

// operationsSeen lists the IAM actions of the calls made (what the role needed).
func operationsSeen(calls []awsfake.Call) []string {
	var out []string
	for _, c := range calls {
		if op := c.Service + ":" + c.Operation; op != "sts:AssumeRole" && !slices.Contains(out, op) {
			out = append(out, op)
		}
	}
	slices.Sort(out)
	return out
}

// checkDeclaredIAM compares an action's declared IAM actions with the operations a full
// Plan+Execute made, plus the actions IAM checks without a call of their own (authOnly).
func checkDeclaredIAM(t *testing.T, act Action, calls []awsfake.Call, authOnly ...string) {
	t.Helper()
	var declared []string
	for _, p := range act.Spec().Permissions.IAM {
		if !slices.Contains(declared, p.Action) {
			declared = append(declared, p.Action)
		}
		if p.Resource == "*" && !strings.Contains(p.Action, ":Describe") {
			t.Errorf("%s declares %s on *; it has resource-level permissions", act.Spec().Name, p.Action)
		}
	}
	slices.Sort(declared)
	want := slices.Sorted(slices.Values(slices.Concat(operationsSeen(calls), authOnly)))
	if !slices.Equal(declared, want) {
		t.Errorf("%s declares %v, used %v", act.Spec().Name, declared, want)
	}
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("want an application error, got %T %v", err, err)
	}
	return app
}

// jsonEqual compares two values as JSON documents (an output against a struct).
func jsonEqual(t *testing.T, got, want any) bool {
	t.Helper()
	g, err := jsonValue(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := jsonValue(want)
	if err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(g, w)
}

func TestEC2DescribeInstanceReadsEverything(t *testing.T) {
	a, f := newTestEC2(t)
	act := ec2Action(t, a, "aws.ec2.describe_instance")
	before := f.State()
	req := ec2Req("describe", map[string]any{"instance_id": ec2Web})
	p, err := act.Plan(context.Background(), req)
	if err != nil || !strings.Contains(p.Summary, "no change") {
		t.Fatalf("plan %+v %v", p, err)
	}
	res := mustExecute(t, act, req)
	if !reflect.DeepEqual(f.State(), before) {
		t.Error("describe changed the fake's state")
	}
	assoc := f.CallsTo("ec2", "DescribeIamInstanceProfileAssociations")
	if len(assoc) != 1 {
		t.Fatalf("association lookups: %d", len(assoc))
	}
	o := res.Outputs
	want := map[string]any{
		"instance_id": ec2Web, "state": "running", "vpc_id": ec2VPC, "subnet_id": ec2Subnet,
		"private_ip": "10.0.1.10", "public_ip": "203.0.113.10",
		"network_interfaces": []any{
			map[string]any{"network_interface_id": ec2ENI1, "private_ip": "10.0.1.10", "security_groups": []any{ec2SGWeb, ec2SGSSH}},
			map[string]any{"network_interface_id": ec2ENI2, "private_ip": "10.0.2.10", "security_groups": []any{ec2SGDB}},
		},
		"security_groups": []any{ec2SGWeb, ec2SGSSH, ec2SGDB},
		"volumes": []any{
			map[string]any{"volume_id": ec2VolRoot, "device_name": "/dev/xvda", "boot": true},
			map[string]any{"volume_id": ec2VolData, "device_name": "/dev/sdf", "boot": false},
		},
		"instance_profile_arn": ec2Profile, "auto_scaling_group": ec2ASG, "termination_protection": false,
		"tags": map[string]any{"Name": "web-1", "team": "payments"}, "isolated": false,
	}
	got := maps.Clone(o)
	if id, _ := got["instance_profile_association_id"].(string); !strings.HasPrefix(id, "iip-assoc-") {
		t.Errorf("association ID %v", got["instance_profile_association_id"])
	}
	delete(got, "instance_profile_association_id")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outputs\n got %#v\nwant %#v", got, want)
	}
	if len(res.RequestIDs) != 4 || res.Resource != ec2Web {
		t.Errorf("request IDs %v, resource %q", res.RequestIDs, res.Resource)
	}
	checkDeclaredIAM(t, act, f.Calls())
}

func TestEC2SnapshotVolumesOncePerStep(t *testing.T) {
	a, f := newTestEC2(t)
	act := ec2Action(t, a, "aws.ec2.snapshot_volumes")
	req := ec2Req("evidence", map[string]any{"instance_id": ec2Web})
	before := f.State()
	p, err := act.Plan(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.State(), before) || len(sideEffects(f.Calls())) != 0 {
		t.Fatal("plan changed something")
	}
	if len(p.Changes) != 2 || !strings.Contains(p.Changes[0], ec2VolRoot) || !strings.Contains(p.Changes[1], ec2VolData) {
		t.Errorf("plan %+v", p)
	}
	res := mustExecute(t, act, req)
	checkDeclaredIAM(t, act, f.Calls(), "ec2:CreateTags") // tags on creation are authorized as CreateTags

	snaps := ec2Of(t, f.State()).Snapshots
	if len(snaps) != 2 {
		t.Fatalf("snapshots %+v", snaps)
	}
	byVolume := map[string]any{}
	for id, s := range snaps {
		byVolume[s.VolumeID] = id
		want := map[string]string{tagIncident: ec2Incident, tagInstance: ec2Web, tagIdempotencyKey: req.IdempotencyKey}
		if !reflect.DeepEqual(s.Tags, want) {
			t.Errorf("%s tags %v, want %v", id, s.Tags, want)
		}
	}
	if !reflect.DeepEqual(res.Outputs["snapshots"], byVolume) {
		t.Errorf("outputs %v, want snapshots %v", res.Outputs, byVolume)
	}
	if n := len(f.CallsTo("ec2", "CreateSnapshots")); n != 1 {
		t.Errorf("CreateSnapshots calls: %d, want one crash-consistent set", n)
	}

	// A retry (the same step's key) finds its snapshots and makes none.
	again := mustExecute(t, act, req)
	if !reflect.DeepEqual(again.Outputs, res.Outputs) || len(ec2Of(t, f.State()).Snapshots) != 2 || len(f.CallsTo("ec2", "CreateSnapshots")) != 1 {
		t.Errorf("retry: outputs %v, %d CreateSnapshots calls", again.Outputs, len(f.CallsTo("ec2", "CreateSnapshots")))
	}
	if p, err := act.Plan(context.Background(), req); err != nil || !strings.HasPrefix(p.Summary, "no change") {
		t.Errorf("plan after the step: %+v %v", p, err)
	}
	// Another step's key is another set of evidence.
	mustExecute(t, act, ec2Req("evidence-2", map[string]any{"instance_id": ec2Web}))
	if n := len(ec2Of(t, f.State()).Snapshots); n != 4 {
		t.Errorf("snapshots after a second step: %d", n)
	}
}

// checkIsolated checks the instance as isolation leaves it.
func checkIsolated(t *testing.T, f *awsfake.Server, quarantine, untrack string, desired int) {
	t.Helper()
	st := f.State()
	in := ec2Of(t, st).Instances[ec2Web]
	for _, e := range in.NetworkInterfaces {
		if !slices.Equal(e.SecurityGroups, []string{quarantine}) {
			t.Errorf("%s in %v, want [%s]", e.ID, e.SecurityGroups, quarantine)
		}
	}
	if in.InstanceProfileARN != "" || in.AutoScalingGroup != "" || !in.TerminationProtection {
		t.Errorf("profile %q, group %q, termination protection %t", in.InstanceProfileARN, in.AutoScalingGroup, in.TerminationProtection)
	}
	if in.Tags[tagQuarantinedBy] != ec2Incident || in.Tags[tagQuarantineGroup] != quarantine || in.Tags[tagOriginal] == "" {
		t.Errorf("tags %v", in.Tags)
	}
	if g := asgOf(st); g.DesiredCapacity != desired {
		t.Errorf("desired capacity %d: detaching must keep it so the group replaces the instance", g.DesiredCapacity)
	}
	if untrack != "" {
		for _, e := range []string{ec2ENI1, ec2ENI2} {
			h := f.GroupHistory(testProdAccount, ec2Region, e)
			if n := len(h); n < 3 || !slices.Equal(h[n-2], []string{untrack}) || !slices.Equal(h[n-1], []string{quarantine}) {
				t.Errorf("%s went through %v, want untrack %s then quarantine %s", e, h, untrack, quarantine)
			}
		}
	}
}

// wantRecord is the fixture's original state as isolate must record it.
func wantRecord(assoc, quarantine string) IsolationRecord {
	return IsolationRecord{
		SecurityGroups:     map[string][]string{ec2ENI1: {ec2SGWeb, ec2SGSSH}, ec2ENI2: {ec2SGDB}},
		InstanceProfileARN: ec2Profile, InstanceProfileAssociationID: assoc, AutoScalingGroup: ec2ASG,
		AddedTags: map[string]string{tagQuarantinedBy: ec2Incident, tagQuarantineGroup: quarantine},
	}
}

func associationID(t *testing.T, a *AWS) string {
	t.Helper()
	res := mustExecute(t, ec2Action(t, a, "aws.ec2.describe_instance"), ec2Req("describe", map[string]any{"instance_id": ec2Web}))
	return res.Outputs["instance_profile_association_id"].(string)
}

func TestEC2IsolateThenReleaseRestoresTheInstance(t *testing.T) {
	a, f := newTestEC2(t)
	ctx := context.Background()
	isolate, release := ec2Action(t, a, "aws.ec2.isolate_instance"), ec2Action(t, a, "aws.ec2.release_instance")
	assoc := associationID(t, a)
	f.OpenConnection(testProdAccount, ec2Region, ec2ENI1)
	before := f.State()

	req := ec2Req("isolate", map[string]any{"instance_id": ec2Web})
	from := len(f.Calls())
	p, err := isolate.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.State(), before) || len(sideEffects(f.Calls()[from:])) != 0 {
		t.Fatal("plan changed something")
	}
	for _, want := range []string{
		"create security group firebreak-untrack in " + ec2VPC,
		"create security group firebreak-quarantine in " + ec2VPC + " with no rules",
		"tag " + ec2Web + " with its original state",
		"enable termination protection on " + ec2Web,
		"detach " + ec2Web + " from Auto Scaling group " + ec2ASG + ", keeping the desired capacity",
		"disassociate instance profile " + ec2Profile + " (association " + assoc + ")",
		"move " + ec2ENI1 + " from " + ec2SGWeb + ", " + ec2SGSSH + " to (new firebreak-untrack), then to quarantine (new firebreak-quarantine)",
		"move " + ec2ENI2 + " from " + ec2SGDB,
	} {
		if !slices.ContainsFunc(p.Changes, func(c string) bool { return strings.Contains(c, want) }) {
			t.Errorf("plan lacks %q:\n%s", want, strings.Join(p.Changes, "\n"))
		}
	}

	res := mustExecute(t, isolate, req)
	checkDeclaredIAM(t, isolate, f.Calls()[from:])
	st := f.State()
	q, u := groupNamed(t, st, quarantineGroupName), groupNamed(t, st, untrackGroupName)
	if len(q.Ingress)+len(q.Egress) != 0 || q.VPCID != ec2VPC {
		t.Errorf("quarantine group %+v: want no rules in %s", q, ec2VPC)
	}
	all := []awsfake.Rule{{Protocol: "-1", CIDR: "0.0.0.0/0"}, {Protocol: "-1", CIDR: "::/0"}}
	if !reflect.DeepEqual(u.Ingress, all) || !reflect.DeepEqual(u.Egress, all) {
		t.Errorf("untrack group %+v: want all traffic in and out", u)
	}
	checkIsolated(t, f, q.ID, u.ID, 2)
	if c := f.Connection(testProdAccount, ec2Region, ec2ENI1); c != awsfake.ConnNone {
		t.Errorf("the tracked connection is %q after isolation, want cut", c)
	}
	if !jsonEqual(t, res.Outputs["original"], wantRecord(assoc, q.ID)) {
		t.Errorf("original %#v", res.Outputs["original"])
	}
	if res.Outputs["quarantine_group"] != q.ID || res.Outputs["untrack_group"] != u.ID {
		t.Errorf("outputs %v", res.Outputs)
	}

	// The compensation as a playbook writes it: the isolate step's output through JSON.
	orig, err := jsonValue(res.Outputs["original"])
	if err != nil {
		t.Fatal(err)
	}
	rreq := ec2Req("isolate", map[string]any{"instance_id": ec2Web, "original": orig})
	rreq.IdempotencyKey += "/compensate"
	from = len(f.Calls())
	isolatedState := f.State()
	rp, err := release.Plan(ctx, rreq)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.State(), isolatedState) || len(sideEffects(f.Calls()[from:])) != 0 {
		t.Fatal("release plan changed something")
	}
	for _, want := range []string{"move " + ec2ENI1 + " from " + q.ID + " back to " + ec2SGWeb + ", " + ec2SGSSH,
		"associate instance profile " + ec2Profile, "raise web-asg's maximum size to 3", "attach " + ec2Web + " to Auto Scaling group web-asg",
		"set web-asg's desired capacity back to 2 and maximum to 2"} {
		if !slices.ContainsFunc(rp.Changes, func(c string) bool { return strings.Contains(c, want) }) {
			t.Errorf("release plan lacks %q:\n%s", want, strings.Join(rp.Changes, "\n"))
		}
	}
	rres := mustExecute(t, release, rreq)
	checkDeclaredIAM(t, release, f.Calls()[from:], "iam:PassRole") // PassRole is checked inside AssociateIamInstanceProfile
	if rres.Outputs["released"] != true {
		t.Errorf("release outputs %v", rres.Outputs)
	}
	after := f.State()
	if !reflect.DeepEqual(withoutHelperGroups(after), withoutHelperGroups(before)) {
		t.Errorf("release did not restore the instance:\nbefore %+v\nafter  %+v", ec2Of(t, before).Instances[ec2Web], ec2Of(t, after).Instances[ec2Web])
	}
	if h := f.GroupHistory(testProdAccount, ec2Region, ec2ENI1); !reflect.DeepEqual(h, [][]string{{ec2SGWeb, ec2SGSSH}, {u.ID}, {q.ID}, {ec2SGWeb, ec2SGSSH}}) {
		t.Errorf("%s group history %v", ec2ENI1, h)
	}
}

// With the account's quarantine group configured and the untracking group already in the VPC,
// isolate then release leaves nothing behind at all, prior tag values included.
func TestEC2ReleaseFromTheTagRestoresExactly(t *testing.T) {
	a, f := newTestAWS(t)
	const quarantine, untrack = "sg-0000000000000ccc1", "sg-0000000000000ccc2"
	f.AddAutoScalingGroup(testProdAccount, ec2Region, awsfake.AutoScalingGroup{Name: ec2ASG, MinSize: 0, MaxSize: 4, DesiredCapacity: 1})
	f.AddSecurityGroup(testProdAccount, ec2Region, awsfake.SecurityGroup{ID: quarantine, Name: "prod-quarantine", VPCID: ec2VPC})
	all := []awsfake.Rule{{Protocol: "-1", CIDR: "0.0.0.0/0"}, {Protocol: "-1", CIDR: "::/0"}}
	f.AddSecurityGroup(testProdAccount, ec2Region, awsfake.SecurityGroup{ID: untrack, Name: untrackGroupName, VPCID: ec2VPC, Ingress: all, Egress: all})
	f.AddInstance(testProdAccount, ec2Region, awsfake.Instance{ID: ec2Web, VPCID: ec2VPC, SubnetID: ec2Subnet, TerminationProtection: true,
		NetworkInterfaces:  []awsfake.NetworkInterface{{ID: ec2ENI1, SecurityGroups: []string{ec2SGWeb}}, {ID: ec2ENI2, SecurityGroups: []string{ec2SGDB, ec2SGSSH}}},
		InstanceProfileARN: ec2Profile, AutoScalingGroup: ec2ASG,
		// A tag isolate overwrites: release must put its value back.
		Tags: map[string]string{tagQuarantineGroup: "sg-legacy", "Name": "web-1"}})
	before := f.State()

	res := mustExecute(t, ec2Action(t, a, "aws.ec2.isolate_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web, "quarantine_group": quarantine}))
	checkIsolated(t, f, quarantine, untrack, 1)
	if n := len(f.CallsTo("ec2", "CreateSecurityGroup")); n != 0 {
		t.Errorf("%d groups created; both were there", n)
	}
	rec := res.Outputs["original"].(map[string]any)
	if !reflect.DeepEqual(rec["prior_tags"], map[string]any{tagQuarantineGroup: "sg-legacy"}) || rec["termination_protection"] != true {
		t.Errorf("original %v", rec)
	}
	// Compensation without `with` inherits only instance_id (and account): release reads the tag.
	mustExecute(t, ec2Action(t, a, "aws.ec2.release_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web}))
	if after := f.State(); !reflect.DeepEqual(after, before) {
		t.Errorf("state after release differs:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestEC2RetriesApplyEachChangeOnce(t *testing.T) {
	a, f := newTestEC2(t)
	isolate, release := ec2Action(t, a, "aws.ec2.isolate_instance"), ec2Action(t, a, "aws.ec2.release_instance")
	req := ec2Req("isolate", map[string]any{"instance_id": ec2Web})
	first := mustExecute(t, isolate, req)
	done := sideEffects(f.Calls())
	isolatedState := f.State()
	second := mustExecute(t, isolate, req)
	if got := sideEffects(f.Calls()); !reflect.DeepEqual(got, done) {
		t.Errorf("a retry of a finished isolation changed things: %v, then %v", done, got)
	}
	if !reflect.DeepEqual(first.Outputs, second.Outputs) || !reflect.DeepEqual(f.State(), isolatedState) {
		t.Errorf("retry: outputs %v, then %v", first.Outputs, second.Outputs)
	}
	if !strings.Contains(second.Summary, "already isolated") {
		t.Errorf("summary %q", second.Summary)
	}

	rreq := ec2Req("isolate", map[string]any{"instance_id": ec2Web, "original": first.Outputs["original"]})
	mustExecute(t, release, rreq)
	done = sideEffects(f.Calls())
	released := f.State()
	again := mustExecute(t, release, rreq)
	if got := sideEffects(f.Calls()); !reflect.DeepEqual(got, done) || !reflect.DeepEqual(f.State(), released) {
		t.Errorf("a retry of a finished release changed things: %v, then %v", done, got)
	}
	if again.Outputs["released"] != true {
		t.Errorf("outputs %v", again.Outputs)
	}
	// From the tag alone, a finished release has nothing left to do.
	res := mustExecute(t, release, ec2Req("isolate", map[string]any{"instance_id": ec2Web}))
	if res.Outputs["released"] != false || !reflect.DeepEqual(sideEffects(f.Calls()), done) {
		t.Errorf("release without a record: %v", res.Outputs)
	}
}

// An isolation interrupted at each of its changes is finished by the next attempt, which
// records the original state from before the first change, and release then restores it.
func TestEC2InterruptedIsolationCompletes(t *testing.T) {
	clean := func() (map[string]int, awsfake.State) {
		a, f := newTestEC2(t)
		mustExecute(t, ec2Action(t, a, "aws.ec2.isolate_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web}))
		return sideEffects(f.Calls()), f.State()
	}
	wantEffects, wantState := clean()
	for _, op := range []string{"autoscaling.DetachInstances", "ec2.DisassociateIamInstanceProfile", "ec2.ModifyNetworkInterfaceAttribute",
		"ec2.ModifyInstanceAttribute", "ec2.CreateTags", "ec2.RevokeSecurityGroupEgress", "ec2.AuthorizeSecurityGroupEgress"} {
		t.Run(op, func(t *testing.T) {
			a, f := newTestEC2(t)
			assoc := associationID(t, a)
			before := f.State()
			svc, name, _ := strings.Cut(op, ".")
			act := ec2Action(t, a, "aws.ec2.isolate_instance")
			req := ec2Req("isolate", map[string]any{"instance_id": ec2Web})
			f.Fail(svc, name, &awsfake.Failure{APIError: awsfake.APIError{Status: 500, Code: "InternalError", Message: "An internal error has occurred"}})
			_, err := act.Execute(context.Background(), req)
			if app := appError(t, err); app.NonRetryable() || app.Type() != "InternalError" {
				t.Fatalf("interrupted: %v (non-retryable %t)", err, app.NonRetryable())
			}
			f.Fail(svc, name, nil)
			res := mustExecute(t, act, req)
			if got := sideEffects(f.Calls()); !reflect.DeepEqual(got, wantEffects) {
				t.Errorf("side effects %v, want each once: %v", got, wantEffects)
			}
			if !reflect.DeepEqual(f.State(), wantState) {
				t.Errorf("state differs from an uninterrupted isolation")
			}
			q := groupNamed(t, f.State(), quarantineGroupName).ID
			if !jsonEqual(t, res.Outputs["original"], wantRecord(assoc, q)) {
				t.Errorf("original %#v, want the state before the first attempt", res.Outputs["original"])
			}
			mustExecute(t, ec2Action(t, a, "aws.ec2.release_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web}))
			if !reflect.DeepEqual(withoutHelperGroups(f.State()), withoutHelperGroups(before)) {
				t.Errorf("release after an interrupted isolation did not restore the instance")
			}
		})
	}
}

// ec2Scenario runs every EC2 action that changes something once, as a playbook would.
func ec2Scenario(t *testing.T, a *AWS) {
	t.Helper()
	mustExecute(t, ec2Action(t, a, "aws.ec2.snapshot_volumes"), ec2Req("evidence", map[string]any{"instance_id": ec2Web}))
	res := mustExecute(t, ec2Action(t, a, "aws.ec2.isolate_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web}))
	mustExecute(t, ec2Action(t, a, "aws.ec2.release_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web, "original": res.Outputs["original"]}))
	mustExecute(t, ec2Action(t, a, "aws.ec2.stop_instance"), ec2Req("stop", map[string]any{"instance_id": ec2Sibling}))
}

func TestEC2ThrottledActionsApplyEachChangeOnce(t *testing.T) {
	a, f := newTestEC2(t)
	ec2Scenario(t, a)
	wantEffects, wantState := sideEffects(f.Calls()), f.State()

	a, f = newTestEC2(t)
	f.Throttle(0.3)
	ec2Scenario(t, a)
	throttled := 0
	for _, c := range f.Calls() {
		if c.ErrorCode == "RequestLimitExceeded" || c.ErrorCode == "Throttling" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("nothing was throttled")
	}
	if got := sideEffects(f.Calls()); !reflect.DeepEqual(got, wantEffects) {
		t.Errorf("throttled run's side effects %v, want %v", got, wantEffects)
	}
	if !reflect.DeepEqual(f.State(), wantState) {
		t.Error("throttled run ended in another state")
	}
}

func TestEC2UnknownInstanceFailsWithAWSCode(t *testing.T) {
	for _, name := range []string{"aws.ec2.describe_instance", "aws.ec2.snapshot_volumes", "aws.ec2.isolate_instance", "aws.ec2.release_instance", "aws.ec2.stop_instance"} {
		t.Run(name, func(t *testing.T) {
			a, f := newTestEC2(t)
			before := f.State()
			act := ec2Action(t, a, name)
			res, err := act.Execute(context.Background(), ec2Req("s", map[string]any{"instance_id": ec2Unknown}))
			app := appError(t, err)
			calls := f.CallsTo("ec2", "DescribeInstances")
			if len(calls) != 1 {
				t.Fatalf("DescribeInstances calls: %d", len(calls))
			}
			if app.Type() != "InvalidInstanceID.NotFound" || !app.NonRetryable() ||
				!strings.Contains(err.Error(), "The instance ID '"+ec2Unknown+"' does not exist") || !strings.Contains(err.Error(), calls[0].RequestID) {
				t.Errorf("got %v (type %s, non-retryable %t)", err, app.Type(), app.NonRetryable())
			}
			if !slices.Contains(res.RequestIDs, calls[0].RequestID) {
				t.Errorf("request IDs %v lack the failed call's", res.RequestIDs)
			}
			if len(sideEffects(f.Calls())) != 0 || !reflect.DeepEqual(f.State(), before) {
				t.Error("something changed")
			}
		})
	}
}

func TestEC2BadInputIsRefusedBeforeAnyCall(t *testing.T) {
	a, f := newTestEC2(t)
	for _, tc := range []struct {
		action string
		with   map[string]any
		want   string
	}{
		{"aws.ec2.describe_instance", map[string]any{"instance_id": "web-1"}, `instance_id "web-1" is not an instance ID`},
		{"aws.ec2.stop_instance", map[string]any{}, `missing required input "instance_id"`},
		{"aws.ec2.isolate_instance", map[string]any{"instance_id": ec2Web, "quarantine_group": "quarantine"}, `quarantine_group "quarantine" is not a security group ID`},
		{"aws.ec2.isolate_instance", map[string]any{"instance_id": ec2Web, "quarantine": "sg-0000000000000ccc1"}, `unknown field "quarantine"`},
		{"aws.ec2.snapshot_volumes", map[string]any{"instance_id": ec2Web, "description": strings.Repeat("x", 256)}, "description is 256 characters"},
		{"aws.ec2.release_instance", map[string]any{"instance_id": ec2Web, "original": map[string]any{"auto_scaling_group": "x"}}, "original lacks security_groups"},
		{"aws.ec2.release_instance", map[string]any{"instance_id": ec2Web, "original": map[string]any{"groups": "x"}}, `unknown field "groups"`},
	} {
		for _, run := range []func(Action, Request) error{
			func(act Action, req Request) error { _, err := act.Plan(context.Background(), req); return err },
			func(act Action, req Request) error { _, err := act.Execute(context.Background(), req); return err },
		} {
			err := run(ec2Action(t, a, tc.action), ec2Req("s", tc.with))
			if app := appError(t, err); app.Type() != ErrBadInput || !app.NonRetryable() || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %v: got %v, want %q", tc.action, tc.with, err, tc.want)
			}
		}
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls made for bad inputs", n)
	}
}

func TestEC2IsolateRefusesAQuarantineGroupElsewhere(t *testing.T) {
	a, f := newTestEC2(t)
	f.AddSecurityGroup(testProdAccount, ec2Region, awsfake.SecurityGroup{ID: "sg-0000000000000ddd1", Name: "q", VPCID: "vpc-0ffffffffffffffff"})
	act := ec2Action(t, a, "aws.ec2.isolate_instance")
	before := f.State()
	_, err := act.Execute(context.Background(), ec2Req("isolate", map[string]any{"instance_id": ec2Web, "quarantine_group": "sg-0000000000000ddd1"}))
	if app := appError(t, err); app.Type() != ErrBadInput || !strings.Contains(err.Error(), "is in vpc-0ffffffffffffffff") {
		t.Errorf("got %v", err)
	}
	_, err = act.Execute(context.Background(), ec2Req("isolate", map[string]any{"instance_id": ec2Web, "quarantine_group": "sg-0000000000000eee1"}))
	if app := appError(t, err); app.Type() != "InvalidGroup.NotFound" || !app.NonRetryable() {
		t.Errorf("unknown group: %v", err)
	}
	if !reflect.DeepEqual(f.State(), before) {
		t.Error("state changed")
	}
}

func TestEC2StopInstance(t *testing.T) {
	a, f := newTestEC2(t)
	act := ec2Action(t, a, "aws.ec2.stop_instance")
	req := ec2Req("stop", map[string]any{"instance_id": ec2Web, "force": true})
	before := f.State()
	p, err := act.Plan(context.Background(), req)
	if err != nil || p.Summary != "force-stop "+ec2Web+" (running)" || !reflect.DeepEqual(f.State(), before) {
		t.Fatalf("plan %+v %v", p, err)
	}
	res := mustExecute(t, act, req)
	checkDeclaredIAM(t, act, f.Calls())
	if got := ec2Of(t, f.State()).Instances[ec2Web].State; got != "stopped" {
		t.Errorf("state %s", got)
	}
	if res.Outputs["previous_state"] != "running" || res.Outputs["state"] != "stopping" {
		t.Errorf("outputs %v", res.Outputs)
	}
	stops := f.CallsTo("ec2", "StopInstances")
	if len(stops) != 1 || stops[0].Params.Get("Force") != "true" {
		t.Fatalf("StopInstances calls %+v", stops)
	}
	again := mustExecute(t, act, req)
	if len(f.CallsTo("ec2", "StopInstances")) != 1 || again.Outputs["state"] != "stopped" {
		t.Errorf("a retry stopped again: %v", again.Outputs)
	}

	f.AddInstance(testProdAccount, ec2Region, awsfake.Instance{ID: "i-0000000000000beef", State: "pending", VPCID: ec2VPC})
	_, err = act.Execute(context.Background(), ec2Req("stop", map[string]any{"instance_id": "i-0000000000000beef"}))
	if app := appError(t, err); app.Type() != "IncorrectInstanceState" || app.NonRetryable() {
		t.Errorf("pending: %v, want a retryable IncorrectInstanceState", err)
	}
}

func TestEC2ReleaseOfAStoppedInstanceInAGroupChangesNothing(t *testing.T) {
	a, f := newTestEC2(t)
	res := mustExecute(t, ec2Action(t, a, "aws.ec2.isolate_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web}))
	mustExecute(t, ec2Action(t, a, "aws.ec2.stop_instance"), ec2Req("stop", map[string]any{"instance_id": ec2Web}))
	before := f.State()
	orig, err := json.Marshal(res.Outputs["original"])
	if err != nil {
		t.Fatal(err)
	}
	var with map[string]any
	if err := json.Unmarshal([]byte(`{"instance_id":"`+ec2Web+`","original":`+string(orig)+`}`), &with); err != nil {
		t.Fatal(err)
	}
	_, err = ec2Action(t, a, "aws.ec2.release_instance").Execute(context.Background(), ec2Req("isolate", with))
	if app := appError(t, err); app.Type() != "IncorrectInstanceState" || !app.NonRetryable() || !strings.Contains(err.Error(), "start it, then release again") {
		t.Errorf("got %v", err)
	}
	if !reflect.DeepEqual(f.State(), before) {
		t.Error("a release that cannot finish changed things")
	}
}

// A release interrupted at each of its changes is finished by the next attempt, the Auto
// Scaling group's sizes included (its maximum raised for the attach, or not).
func TestEC2InterruptedReleaseCompletes(t *testing.T) {
	for _, tc := range []struct {
		op      string
		maxSize int
	}{
		{"ec2.ModifyNetworkInterfaceAttribute", 2}, {"ec2.AssociateIamInstanceProfile", 2}, {"ec2.ModifyInstanceAttribute", 2},
		{"ec2.CreateTags", 2}, {"autoscaling.UpdateAutoScalingGroup", 2}, {"autoscaling.AttachInstances", 2},
		{"autoscaling.UpdateAutoScalingGroup", 3}, {"ec2.DeleteTags", 3},
	} {
		t.Run(tc.op+"/max"+strconv.Itoa(tc.maxSize), func(t *testing.T) {
			a, f := newTestEC2(t)
			f.AddAutoScalingGroup(testProdAccount, ec2Region, awsfake.AutoScalingGroup{Name: ec2ASG, MinSize: 1, MaxSize: tc.maxSize, DesiredCapacity: 2})
			before := f.State()
			mustExecute(t, ec2Action(t, a, "aws.ec2.isolate_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web}))
			isolated := len(f.Calls())
			act, req := ec2Action(t, a, "aws.ec2.release_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web})
			svc, name, _ := strings.Cut(tc.op, ".")
			f.Fail(svc, name, &awsfake.Failure{APIError: awsfake.APIError{Status: 500, Code: "InternalError", Message: "An internal error has occurred"}})
			if _, err := act.Execute(context.Background(), req); err == nil || appError(t, err).NonRetryable() {
				t.Fatalf("interrupted: %v", err)
			}
			f.Fail(svc, name, nil)
			mustExecute(t, act, req)
			if after := f.State(); !reflect.DeepEqual(withoutHelperGroups(after), withoutHelperGroups(before)) {
				t.Errorf("not restored:\nbefore %+v %+v\nafter  %+v %+v", ec2Of(t, before).Instances[ec2Web], asgOf(before), ec2Of(t, after).Instances[ec2Web], asgOf(after))
			}
			effects := sideEffects(f.Calls()[isolated:])
			if effects["autoscaling:AttachInstances"] != 1 || effects["ec2:AssociateIamInstanceProfile"] != 1 || effects["ec2:DeleteTags"] != 1 {
				t.Errorf("release side effects %v: attach, associate and untag once each", effects)
			}
		})
	}
}

// A record longer than one tag value is split over several tags and read back whole.
func TestEC2LongRecordSpansTags(t *testing.T) {
	a, f := newTestAWS(t)
	var enis []awsfake.NetworkInterface
	for i := range 8 {
		var groups []string
		for j := range 4 {
			groups = append(groups, fmt.Sprintf("sg-%017x", 0xa00+i*4+j))
		}
		enis = append(enis, awsfake.NetworkInterface{ID: fmt.Sprintf("eni-%017x", 0xe00+i), SecurityGroups: groups})
	}
	f.AddInstance(testProdAccount, ec2Region, awsfake.Instance{ID: ec2Web, VPCID: ec2VPC, NetworkInterfaces: enis})
	before := f.State()
	res := mustExecute(t, ec2Action(t, a, "aws.ec2.isolate_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web}))
	tags := ec2Of(t, f.State()).Instances[ec2Web].Tags
	if _, ok := tags[tagOriginal+".1"]; !ok {
		t.Fatalf("record not split: %v", tags)
	}
	rec, err := readRecord(tags)
	if err != nil || !jsonEqual(t, *rec, res.Outputs["original"]) || len(rec.SecurityGroups) != 8 {
		t.Fatalf("record read back: %+v %v", rec, err)
	}
	mustExecute(t, ec2Action(t, a, "aws.ec2.release_instance"), ec2Req("isolate", map[string]any{"instance_id": ec2Web}))
	if !reflect.DeepEqual(withoutHelperGroups(f.State()), withoutHelperGroups(before)) {
		t.Error("not restored")
	}
}
