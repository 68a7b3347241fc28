package awsfake_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

const (
	region = "eu-west-1"
	vpc    = "vpc-0a1b2c3d4e5f60718"
	inst   = "i-0123456789abcdef0"
	eni    = "eni-0aaaaaaaaaaaaaaa1"
	sgApp  = "sg-0000000000000aaa1"
)

// ec2Clients are real EC2 and Auto Scaling clients acting in prodAccount, SDK retries off.
func ec2Clients(t *testing.T) (*awsfake.Server, *ec2.Client, *autoscaling.Client) {
	t.Helper()
	f := newFake(t)
	id, secret := f.AddUser(prodAccount, "responder")
	creds := credentials.NewStaticCredentialsProvider(id, secret, "")
	e := ec2.New(ec2.Options{Region: region, BaseEndpoint: awssdk.String(f.URL), Credentials: creds, RetryMaxAttempts: 1, HTTPClient: fbaws.HTTPClient()})
	a := autoscaling.New(autoscaling.Options{Region: region, BaseEndpoint: awssdk.String(f.URL), Credentials: creds, RetryMaxAttempts: 1, HTTPClient: fbaws.HTTPClient()})
	f.AddAutoScalingGroup(prodAccount, region, awsfake.AutoScalingGroup{Name: "web", MinSize: 1, MaxSize: 2, DesiredCapacity: 2})
	f.AddInstance(prodAccount, region, awsfake.Instance{ID: inst, VPCID: vpc, SubnetID: "subnet-0a1b2c3d4e5f60718", AutoScalingGroup: "web",
		NetworkInterfaces:  []awsfake.NetworkInterface{{ID: eni, SecurityGroups: []string{sgApp}}},
		Volumes:            []awsfake.Volume{{ID: "vol-0000000000000bbb1", DeviceName: "/dev/xvda", SizeGiB: 8}},
		InstanceProfileARN: "arn:aws:iam::222222222222:instance-profile/web", Tags: map[string]string{"Name": "web-1"}})
	return f, e, a
}

func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got success", code)
	}
	got, reqID, _ := apiError(t, err)
	if got != code || !strings.Contains(err.Error(), msg) || reqID == "" {
		t.Errorf("got %v (request %q), want %s containing %q", err, reqID, code, msg)
	}
}

func TestEC2DescribeInstancesSpeaksEC2(t *testing.T) {
	f, c, _ := ec2Clients(t)
	ctx := context.Background()
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{inst}})
	if err != nil {
		t.Fatal(err)
	}
	in := out.Reservations[0].Instances[0]
	if awssdk.ToString(in.InstanceId) != inst || in.State.Name != ec2types.InstanceStateNameRunning || awssdk.ToString(in.VpcId) != vpc ||
		awssdk.ToString(in.NetworkInterfaces[0].Groups[0].GroupId) != sgApp || awssdk.ToString(in.BlockDeviceMappings[0].Ebs.VolumeId) != "vol-0000000000000bbb1" ||
		!strings.HasSuffix(awssdk.ToString(in.IamInstanceProfile.Arn), "instance-profile/web") || awssdk.ToString(in.Tags[0].Value) != "web-1" {
		t.Errorf("instance %+v", in)
	}
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0000000000000dead", "i-0000000000000beef"}})
	wantCode(t, err, "InvalidInstanceID.NotFound", "The instance IDs 'i-0000000000000dead, i-0000000000000beef' do not exist")
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"web-1"}})
	wantCode(t, err, "InvalidInstanceID.Malformed", `Invalid id: "web-1"`)

	// Reads in a region with nothing in it leave State as it was.
	before := f.State()
	other := ec2.New(c.Options(), func(o *ec2.Options) { o.Region = "us-east-1" })
	if _, err := other.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.State(), before) {
		t.Error("a read changed State")
	}
}

// Security group changes leave tracked connections open; only a pass through all-open rules
// (which untracks them) lets the quarantine group cut them.
func TestEC2ConnectionTracking(t *testing.T) {
	f, c, _ := ec2Clients(t)
	ctx := context.Background()
	mk := func(name string, open bool) string {
		out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: &name, Description: &name, VpcId: awssdk.String(vpc)})
		if err != nil {
			t.Fatal(err)
		}
		id := awssdk.ToString(out.GroupId)
		perm := []ec2types.IpPermission{{IpProtocol: awssdk.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}}
		if !open {
			if _, err := c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: &id, IpPermissions: perm}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		perm[0].Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: awssdk.String("::/0")}}
		if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &id, IpPermissions: perm}); err != nil {
			t.Fatal(err)
		}
		// 0.0.0.0/0 egress is there from creation: asking for it again is a duplicate.
		_, err = c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: &id, IpPermissions: perm})
		wantCode(t, err, "InvalidPermission.Duplicate", "peer: 0.0.0.0/0, ALL, ALLOW")
		perm[0].IpRanges = nil
		if _, err := c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: &id, IpPermissions: perm}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	quarantine, untrack := mk("quarantine", false), mk("untrack", true)
	move := func(groups ...string) {
		if _, err := c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: awssdk.String(eni), Groups: groups}); err != nil {
			t.Fatal(err)
		}
	}
	f.OpenConnection(prodAccount, region, eni)
	move(quarantine)
	if got := f.Connection(prodAccount, region, eni); got != awsfake.ConnTracked {
		t.Errorf("after a direct move to quarantine: %q, want still tracked", got)
	}
	move(untrack)
	if got := f.Connection(prodAccount, region, eni); got != awsfake.ConnUntracked {
		t.Errorf("in the all-open group: %q, want untracked", got)
	}
	move(quarantine)
	if got := f.Connection(prodAccount, region, eni); got != awsfake.ConnNone {
		t.Errorf("back in quarantine: %q, want cut", got)
	}
	want := [][]string{{sgApp}, {quarantine}, {untrack}, {quarantine}}
	if got := f.GroupHistory(prodAccount, region, eni); !reflect.DeepEqual(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}

	_, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("quarantine"), Description: awssdk.String("x"), VpcId: awssdk.String(vpc)})
	wantCode(t, err, "InvalidGroup.Duplicate", "The security group 'quarantine' already exists for VPC '"+vpc+"'")
	f.AddSecurityGroup(prodAccount, region, awsfake.SecurityGroup{ID: "sg-0000000000000fff1", Name: "elsewhere", VPCID: "vpc-0ffffffffffffffff"})
	_, err = c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: awssdk.String(eni), Groups: []string{"sg-0000000000000fff1"}})
	wantCode(t, err, "InvalidParameter", "belong to different networks")
	_, err = c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: awssdk.String(eni), Groups: []string{"sg-0000000000000dead"}})
	wantCode(t, err, "InvalidGroup.NotFound", "The security group 'sg-0000000000000dead' does not exist")
}

func TestEC2ProfileAndStopErrors(t *testing.T) {
	f, c, _ := ec2Clients(t)
	ctx := context.Background()
	_, err := c.AssociateIamInstanceProfile(ctx, &ec2.AssociateIamInstanceProfileInput{InstanceId: awssdk.String(inst),
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: awssdk.String("other")}})
	wantCode(t, err, "IncorrectState", "There is an existing association for instance "+inst)
	_, err = c.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{AssociationId: awssdk.String("iip-assoc-0000000000000dead")})
	wantCode(t, err, "InvalidAssociationID.NotFound", "iip-assoc-0000000000000dead")

	f.AddInstance(prodAccount, region, awsfake.Instance{ID: "i-0000000000000beef", VPCID: vpc, RootDeviceType: "instance-store"})
	_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{"i-0000000000000beef"}})
	wantCode(t, err, "UnsupportedOperation", "does not have an 'ebs' root device type")
	f.AddInstance(prodAccount, region, awsfake.Instance{ID: "i-0000000000000cafe", VPCID: vpc, State: "terminated"})
	_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{"i-0000000000000cafe"}})
	wantCode(t, err, "IncorrectInstanceState", "is not in a state from which it can be stopped")
}

func TestAutoScalingMembershipAndSizes(t *testing.T) {
	f, _, a := ec2Clients(t)
	ctx := context.Background()
	f.AddInstance(prodAccount, region, awsfake.Instance{ID: "i-0000000000000beef", VPCID: vpc, AutoScalingGroup: "web"})
	if _, err := a.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: awssdk.String("web"), InstanceIds: []string{inst},
		ShouldDecrementDesiredCapacity: awssdk.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	out, err := a.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	g := out.AutoScalingGroups[0]
	if awssdk.ToInt32(g.DesiredCapacity) != 2 || len(g.Instances) != 1 || awssdk.ToString(g.Instances[0].InstanceId) != "i-0000000000000beef" {
		t.Errorf("group after detach: desired %d, instances %+v", awssdk.ToInt32(g.DesiredCapacity), g.Instances)
	}
	ins, err := a.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{inst}})
	if err != nil || len(ins.AutoScalingInstances) != 0 {
		t.Errorf("detached instance still listed: %+v %v", ins, err)
	}
	_, err = a.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: awssdk.String("web"), InstanceIds: []string{inst},
		ShouldDecrementDesiredCapacity: awssdk.Bool(false)})
	wantCode(t, err, "ValidationError", "is not part of Auto Scaling group web")
	// Attaching raises the desired capacity, which may not pass the maximum.
	_, err = a.AttachInstances(ctx, &autoscaling.AttachInstancesInput{AutoScalingGroupName: awssdk.String("web"), InstanceIds: []string{inst}})
	wantCode(t, err, "ValidationError", "Desired capacity:3 must be between the specified min size:1 and max size:2")
	if _, err := a.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: awssdk.String("web"), MaxSize: awssdk.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AttachInstances(ctx, &autoscaling.AttachInstancesInput{AutoScalingGroupName: awssdk.String("web"), InstanceIds: []string{inst}}); err != nil {
		t.Fatal(err)
	}
	want := awsfake.AutoScalingGroup{Name: "web", MinSize: 1, MaxSize: 3, DesiredCapacity: 3}
	if got := f.State().AutoScaling.(awsfake.AutoScalingState).Regions[prodAccount+"/"+region]["web"]; got != want {
		t.Errorf("group %+v, want %+v", got, want)
	}
	_, err = a.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: awssdk.String("web"), DesiredCapacity: awssdk.Int32(4)})
	wantCode(t, err, "ValidationError", "Desired capacity:4 must be between")
	_, err = a.AttachInstances(ctx, &autoscaling.AttachInstancesInput{AutoScalingGroupName: awssdk.String("nope"), InstanceIds: []string{inst}})
	wantCode(t, err, "ValidationError", "AutoScalingGroup name not found")
}

func TestEC2TagsAndSnapshots(t *testing.T) {
	f, c, _ := ec2Clients(t)
	ctx := context.Background()
	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{inst}, Tags: []ec2types.Tag{{Key: awssdk.String("aws:x"), Value: awssdk.String("1")}}})
	wantCode(t, err, "InvalidParameterValue", "reserved")
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{inst}, Tags: []ec2types.Tag{{Key: awssdk.String("k"), Value: awssdk.String(strings.Repeat("v", 257))}}})
	wantCode(t, err, "InvalidParameterValue", "256")
	out, err := c.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{InstanceSpecification: &ec2types.InstanceSpecification{InstanceId: awssdk.String(inst)},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: []ec2types.Tag{{Key: awssdk.String("case"), Value: awssdk.String("42")}}}}})
	if err != nil || len(out.Snapshots) != 1 {
		t.Fatalf("%+v %v", out, err)
	}
	found, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []ec2types.Filter{{Name: awssdk.String("tag:case"), Values: []string{"42"}}}})
	if err != nil || len(found.Snapshots) != 1 || awssdk.ToString(found.Snapshots[0].SnapshotId) != awssdk.ToString(out.Snapshots[0].SnapshotId) {
		t.Errorf("describe by tag: %+v %v", found, err)
	}
	none, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{Filters: []ec2types.Filter{{Name: awssdk.String("tag:case"), Values: []string{"43"}}}})
	if err != nil || len(none.Snapshots) != 0 {
		t.Errorf("describe by another tag value: %+v %v", none, err)
	}
	// State is a copy: changing it changes nothing in the fake.
	st := f.State()
	st.EC2.(awsfake.EC2State).Regions[prodAccount+"/"+region].Instances[inst].Tags["Name"] = "changed"
	if got := f.State().EC2.(awsfake.EC2State).Regions[prodAccount+"/"+region].Instances[inst].Tags["Name"]; got != "web-1" {
		t.Errorf("State shares memory with the fake: Name is %q", got)
	}
}
