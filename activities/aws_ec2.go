package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"
)

// Resource patterns of the EC2 actions' declared permissions.
const (
	arnInstance      = "arn:aws:ec2:*:*:instance/*"
	arnVolume        = "arn:aws:ec2:*:*:volume/*"
	arnSnapshot      = "arn:aws:ec2:*::snapshot/*" // snapshot ARNs carry no account
	arnSecurityGroup = "arn:aws:ec2:*:*:security-group/*"
	arnENI           = "arn:aws:ec2:*:*:network-interface/*"
	arnVPC           = "arn:aws:ec2:*:*:vpc/*"
	arnASG           = "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*"
	// arnAnyRole is where release_instance may pass a role: AssociateIamInstanceProfile needs
	// iam:PassRole on the instance profile's role, and which role that is is only known from
	// the instance at run time. Narrow it in the generated policy to your instance roles' path.
	arnAnyRole = "arn:aws:iam::*:role/*"
)

// Tags Firebreak puts on instances and snapshots.
const (
	// tagOriginal holds isolate_instance's record of the instance before it changed anything,
	// as JSON; a record longer than a tag value continues in tagOriginal.1, .2, ...
	tagOriginal        = "firebreak:original"
	tagQuarantinedBy   = "firebreak:quarantined-by"
	tagQuarantineGroup = "firebreak:quarantine-group"
	// tagReleaseASG holds the Auto Scaling group's sizes before release_instance attached the
	// instance (which raises the desired capacity), so a retry after the attach restores them.
	tagReleaseASG     = "firebreak:release-asg"
	tagIncident       = "firebreak:incident"
	tagInstance       = "firebreak:instance"
	tagIdempotencyKey = "firebreak:idempotency-key"
)

// The helper groups isolate_instance creates in an instance's VPC, found again by name.
const (
	quarantineGroupName = "firebreak-quarantine"
	untrackGroupName    = "firebreak-untrack"
)

const (
	tagValueMax = 256 // characters in an EC2 tag value
	// recordTagsMax bounds the record's tags (an instance has at most 50): 4 KiB holds 15
	// interfaces with 5 groups each.
	recordTagsMax = 16
)

var (
	ec2InstanceIDRe = regexp.MustCompile(`^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
	ec2GroupIDRe    = regexp.MustCompile(`^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
)

// ec2Actions lists the EC2 (and Auto Scaling) actions.
func (a *AWS) ec2Actions() []Action {
	return []Action{a.ec2DescribeInstance(), a.ec2SnapshotVolumes(), a.ec2IsolateInstance(), a.ec2ReleaseInstance(), a.ec2StopInstance()}
}

// InstanceInput names one EC2 instance.
type InstanceInput struct {
	AWSTarget
	InstanceID string `json:"instance_id" action:"required"`
}

// SnapshotVolumesInput is the input of aws.ec2.snapshot_volumes.
type SnapshotVolumesInput struct {
	AWSTarget
	InstanceID  string `json:"instance_id" action:"required"`
	Description string `json:"description,omitempty"`
}

// IsolateInstanceInput is the input of aws.ec2.isolate_instance.
type IsolateInstanceInput struct {
	AWSTarget
	InstanceID string `json:"instance_id" action:"required"`
	// QuarantineGroup is a security group in the instance's VPC (the account's quarantine_sg);
	// "" creates firebreak-quarantine there.
	QuarantineGroup string `json:"quarantine_group,omitempty"`
}

// ReleaseInstanceInput is the input of aws.ec2.release_instance.
type ReleaseInstanceInput struct {
	AWSTarget
	InstanceID string `json:"instance_id" action:"required"`
	// Original is isolate_instance's `original` output; without it the record isolate left
	// on the instance (tag firebreak:original) is used.
	Original *IsolationRecord `json:"original,omitempty"`
}

// StopInstanceInput is the input of aws.ec2.stop_instance.
type StopInstanceInput struct {
	AWSTarget
	InstanceID string `json:"instance_id" action:"required"`
	// Force stops without flushing caches (for an instance that does not stop cleanly).
	Force bool `json:"force,omitempty"`
}

// IsolationRecord is an instance as it was before isolate_instance changed it: isolate's
// `original` output and release_instance's `original` input.
type IsolationRecord struct {
	// SecurityGroups are each network interface's groups, in order.
	SecurityGroups               map[string][]string `json:"security_groups"`
	InstanceProfileARN           string              `json:"instance_profile_arn,omitempty"`
	InstanceProfileAssociationID string              `json:"instance_profile_association_id,omitempty"`
	AutoScalingGroup             string              `json:"auto_scaling_group,omitempty"`
	TerminationProtection        bool                `json:"termination_protection"`
	// AddedTags are the tags isolate puts on the instance (besides the record itself).
	AddedTags map[string]string `json:"added_tags"`
	// PriorTags are the values AddedTags replaced, for keys the instance already had.
	PriorTags map[string]string `json:"prior_tags,omitempty"`
}

func checkInstanceID(action, id string) error {
	if !ec2InstanceIDRe.MatchString(id) {
		return badInput(action, "instance_id %q is not an instance ID (i- and 8 or 17 hex digits)", id)
	}
	return nil
}

// actor names who acted, for tags: the incident, or the workflow outside one.
func actor(req Request) string {
	if req.Incident != "" {
		return req.Incident
	}
	return req.WorkflowID
}

// --- reading an instance ---

// instanceView is what the EC2 actions read about an instance.
type instanceView struct {
	ID, State, VPC, Subnet    string
	PrivateIP, PublicIP       string
	RootDevice, RootKind      string
	ENIs                      []eniView
	Volumes                   []volumeView
	Tags                      map[string]string
	ProfileARN, AssociationID string
	ASG                       string
	TerminationProtection     bool
}

type eniView struct {
	ID, PrivateIP string
	Groups        []string
}

type volumeView struct {
	ID, Device string
}

func (v instanceView) eni(id string) *eniView {
	for i := range v.ENIs {
		if v.ENIs[i].ID == id {
			return &v.ENIs[i]
		}
	}
	return nil
}

// describeInstance reads what DescribeInstances says about id.
func describeInstance(ctx context.Context, c *ec2.Client, id string) (instanceView, error) {
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return instanceView{}, awsFailure(err)
	}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			if awssdk.ToString(in.InstanceId) == id {
				return viewOf(in), nil
			}
		}
	}
	// AWS answers InvalidInstanceID.NotFound instead; an empty answer is no better.
	return instanceView{}, temporal.NewNonRetryableApplicationError("ec2 DescribeInstances: no instance "+id+" in the answer", "InvalidInstanceID.NotFound", nil)
}

func viewOf(in ec2types.Instance) instanceView {
	v := instanceView{ID: awssdk.ToString(in.InstanceId), VPC: awssdk.ToString(in.VpcId), Subnet: awssdk.ToString(in.SubnetId),
		PrivateIP: awssdk.ToString(in.PrivateIpAddress), PublicIP: awssdk.ToString(in.PublicIpAddress),
		RootDevice: awssdk.ToString(in.RootDeviceName), RootKind: string(in.RootDeviceType), Tags: map[string]string{}}
	if in.State != nil {
		v.State = string(in.State.Name)
	}
	if in.IamInstanceProfile != nil {
		v.ProfileARN = awssdk.ToString(in.IamInstanceProfile.Arn)
	}
	enis := slices.Clone(in.NetworkInterfaces)
	sort.SliceStable(enis, func(i, j int) bool { return deviceIndex(enis[i]) < deviceIndex(enis[j]) })
	for _, n := range enis {
		e := eniView{ID: awssdk.ToString(n.NetworkInterfaceId), PrivateIP: awssdk.ToString(n.PrivateIpAddress), Groups: []string{}}
		for _, g := range n.Groups {
			e.Groups = append(e.Groups, awssdk.ToString(g.GroupId))
		}
		v.ENIs = append(v.ENIs, e)
	}
	for _, b := range in.BlockDeviceMappings {
		if b.Ebs != nil {
			v.Volumes = append(v.Volumes, volumeView{ID: awssdk.ToString(b.Ebs.VolumeId), Device: awssdk.ToString(b.DeviceName)})
		}
	}
	for _, t := range in.Tags {
		v.Tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	return v
}

func deviceIndex(n ec2types.InstanceNetworkInterface) int32 {
	if n.Attachment == nil {
		return 1 << 30
	}
	return awssdk.ToInt32(n.Attachment.DeviceIndex)
}

// readDetails adds what DescribeInstances does not say: termination protection, the
// instance profile's association and the Auto Scaling group.
func (v *instanceView) readDetails(ctx context.Context, c *ec2.Client, asc *autoscaling.Client) error {
	attr, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: &v.ID, Attribute: ec2types.InstanceAttributeNameDisableApiTermination})
	if err != nil {
		return awsFailure(err)
	}
	v.TerminationProtection = attr.DisableApiTermination != nil && awssdk.ToBool(attr.DisableApiTermination.Value)
	assoc, err := c.DescribeIamInstanceProfileAssociations(ctx, &ec2.DescribeIamInstanceProfileAssociationsInput{
		Filters: []ec2types.Filter{{Name: awssdk.String("instance-id"), Values: []string{v.ID}}}})
	if err != nil {
		return awsFailure(err)
	}
	v.ProfileARN, v.AssociationID = "", ""
	for _, as := range assoc.IamInstanceProfileAssociations {
		// An association on its way out no longer lends the instance its role.
		if as.State == ec2types.IamInstanceProfileAssociationStateAssociated || as.State == ec2types.IamInstanceProfileAssociationStateAssociating {
			v.AssociationID = awssdk.ToString(as.AssociationId)
			if as.IamInstanceProfile != nil {
				v.ProfileARN = awssdk.ToString(as.IamInstanceProfile.Arn)
			}
		}
	}
	groups, err := asc.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{v.ID}})
	if err != nil {
		return awsFailure(err)
	}
	v.ASG = ""
	for _, g := range groups.AutoScalingInstances {
		if awssdk.ToString(g.InstanceId) == v.ID {
			v.ASG = awssdk.ToString(g.AutoScalingGroupName)
		}
	}
	return nil
}

// ec2Session opens the session and both clients.
func (a *AWS) ec2Session(ctx context.Context, req Request, t AWSTarget) (*awsSession, *ec2.Client, *autoscaling.Client, error) {
	sess, err := a.session(ctx, req, t)
	if err != nil {
		return nil, nil, nil, err
	}
	return sess, ec2.NewFromConfig(sess.Config), autoscaling.NewFromConfig(sess.Config), nil
}

// awsCode is the AWS error code of an SDK error, "" for none.
func awsCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// instanceStateError is the failure of an instance that cannot take the action now.
func instanceStateError(action string, v instanceView, what string) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: instance %s is %s: %s", action, v.ID, v.State, what), "IncorrectInstanceState", nil)
}

// ec2Step is one change an action would make: Plan lists the descriptions, Execute runs them
// in order. Both come from one list, so the plan is what Execute does.
type ec2Step struct {
	desc string
	do   func(ctx context.Context) error
}

func descriptions(steps []ec2Step) []string {
	out := make([]string, 0, len(steps))
	for _, s := range steps {
		out = append(out, s.desc)
	}
	return out
}

func runSteps(ctx context.Context, steps []ec2Step) error {
	for _, s := range steps {
		if err := s.do(ctx); err != nil {
			return err
		}
	}
	return nil
}

func anySlice[T any](xs []T) []any {
	out := make([]any, 0, len(xs))
	for _, x := range xs {
		out = append(out, x)
	}
	return out
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// jsonValue turns v into the plain values outputs are made of.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode output: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode output: %w", err)
	}
	return out, nil
}

// --- aws.ec2.describe_instance ---

func (a *AWS) ec2DescribeInstance() Action {
	const name = "aws.ec2.describe_instance"
	return Def[InstanceInput]{
		Name: name,
		Description: "Read an instance: state, VPC, subnet, addresses, security groups per network interface, instance profile, " +
			"Auto Scaling group, tags, EBS volumes, termination protection, and whether Firebreak isolated it. Changes nothing.",
		Permissions: Permissions{IAM: []IAMPermission{
			{Action: "ec2:DescribeInstances", Resource: "*"},
			{Action: "ec2:DescribeInstanceAttribute", Resource: "*"},
			{Action: "ec2:DescribeIamInstanceProfileAssociations", Resource: "*"},
			{Action: "autoscaling:DescribeAutoScalingInstances", Resource: "*"},
		}},
		PlanFunc: func(ctx context.Context, req Request, in InstanceInput) (Plan, error) {
			if err := checkInstanceID(name, in.InstanceID); err != nil {
				return Plan{}, err
			}
			// Read it already, so that an instance that does not exist fails this step, the one
			// that names it, rather than the first later step whose plan reads it.
			_, c, _, err := a.ec2Session(ctx, req, in.AWSTarget)
			if err != nil {
				return Plan{}, err
			}
			v, err := describeInstance(ctx, c, in.InstanceID)
			if err != nil {
				return Plan{}, err
			}
			return Plan{Summary: fmt.Sprintf("no change: reads %s (%s in %s)", in.InstanceID, v.State, v.VPC)}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in InstanceInput) (Result, error) {
			if err := checkInstanceID(name, in.InstanceID); err != nil {
				return Result{}, err
			}
			sess, c, asc, err := a.ec2Session(ctx, req, in.AWSTarget)
			if err != nil {
				return Result{}, err
			}
			res := Result{Resource: in.InstanceID}
			v, err := describeInstance(ctx, c, in.InstanceID)
			if err == nil {
				err = v.readDetails(ctx, c, asc)
			}
			res.RequestIDs = sess.RequestIDs()
			if err != nil {
				return res, err
			}
			var enis, groups, volumes []any
			for _, e := range v.ENIs {
				enis = append(enis, map[string]any{"network_interface_id": e.ID, "private_ip": e.PrivateIP, "security_groups": anySlice(e.Groups)})
				for _, g := range e.Groups {
					if !slices.Contains(groups, any(g)) {
						groups = append(groups, g)
					}
				}
			}
			for _, vol := range v.Volumes {
				volumes = append(volumes, map[string]any{"volume_id": vol.ID, "device_name": vol.Device, "boot": vol.Device == v.RootDevice})
			}
			_, isolated := v.Tags[tagOriginal]
			res.Outputs = map[string]any{
				"instance_id": v.ID, "state": v.State, "vpc_id": v.VPC, "subnet_id": v.Subnet,
				"private_ip": v.PrivateIP, "public_ip": v.PublicIP,
				"network_interfaces": orEmpty(enis), "security_groups": orEmpty(groups), "volumes": orEmpty(volumes),
				"instance_profile_arn": v.ProfileARN, "instance_profile_association_id": v.AssociationID,
				"auto_scaling_group": v.ASG, "termination_protection": v.TerminationProtection,
				"tags": anyMap(v.Tags), "isolated": isolated,
			}
			res.Summary = fmt.Sprintf("%s is %s in %s, %d network interfaces, %d volumes", v.ID, v.State, v.VPC, len(v.ENIs), len(v.Volumes))
			return res, nil
		},
	}
}

func orEmpty(xs []any) []any {
	if xs == nil {
		return []any{}
	}
	return xs
}

// --- aws.ec2.snapshot_volumes ---

// tagSafe fits a value into a tag, hashing what is too long so that it still identifies.
func tagSafe(v string) string {
	if len([]rune(v)) <= tagValueMax {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}

type snapshotJob struct {
	v        instanceView
	existing map[string]string // volume ID -> snapshot ID started by this step before
	missing  []volumeView
}

func (a *AWS) ec2SnapshotVolumes() Action {
	const name = "aws.ec2.snapshot_volumes"
	prepare := func(ctx context.Context, c *ec2.Client, req Request, in SnapshotVolumesInput) (snapshotJob, error) {
		var j snapshotJob
		v, err := describeInstance(ctx, c, in.InstanceID)
		if err != nil {
			return j, err
		}
		j.v, j.existing = v, map[string]string{}
		// A retry finds the snapshots its step already started by the step's key.
		p := ec2.NewDescribeSnapshotsPaginator(c, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []ec2types.Filter{
			{Name: awssdk.String("tag:" + tagIdempotencyKey), Values: []string{tagSafe(req.IdempotencyKey)}},
			{Name: awssdk.String("tag:" + tagInstance), Values: []string{in.InstanceID}},
		}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return j, awsFailure(err)
			}
			for _, s := range page.Snapshots {
				j.existing[awssdk.ToString(s.VolumeId)] = awssdk.ToString(s.SnapshotId)
			}
		}
		for _, vol := range v.Volumes {
			if _, done := j.existing[vol.ID]; !done {
				j.missing = append(j.missing, vol)
			}
		}
		return j, nil
	}
	check := func(in SnapshotVolumesInput) error {
		if err := checkInstanceID(name, in.InstanceID); err != nil {
			return err
		}
		if len(in.Description) > 255 {
			return badInput(name, "description is %d characters, at most 255", len(in.Description))
		}
		return nil
	}
	return Def[SnapshotVolumesInput]{
		Name: name,
		Description: "Snapshot every EBS volume attached to an instance at one point in time (CreateSnapshots, crash-consistent), " +
			"tagged firebreak:incident, firebreak:instance and firebreak:idempotency-key; a retry finds the snapshots its step " +
			"started and makes no second. Outputs snapshot IDs by volume ID.",
		Permissions: Permissions{IAM: []IAMPermission{
			{Action: "ec2:DescribeInstances", Resource: "*"},
			{Action: "ec2:DescribeSnapshots", Resource: "*"},
			{Action: "ec2:CreateSnapshots", Resource: arnInstance},
			{Action: "ec2:CreateSnapshots", Resource: arnVolume},
			{Action: "ec2:CreateSnapshots", Resource: arnSnapshot},
			// Tags given at creation need ec2:CreateTags on the new snapshot; no CreateTags call is made.
			{Action: "ec2:CreateTags", Resource: arnSnapshot},
		}},
		PlanFunc: func(ctx context.Context, req Request, in SnapshotVolumesInput) (Plan, error) {
			if err := check(in); err != nil {
				return Plan{}, err
			}
			_, c, _, err := a.ec2Session(ctx, req, in.AWSTarget)
			if err != nil {
				return Plan{}, err
			}
			j, err := prepare(ctx, c, req, in)
			if err != nil {
				return Plan{}, err
			}
			if len(j.missing) == 0 {
				return Plan{Summary: fmt.Sprintf("no change: %s has %d EBS volumes, all snapshotted by this step", in.InstanceID, len(j.v.Volumes))}, nil
			}
			var changes []string
			for _, vol := range j.missing {
				changes = append(changes, fmt.Sprintf("snapshot %s (%s) of %s, tagged %s=%s", vol.ID, vol.Device, in.InstanceID, tagIncident, actor(req)))
			}
			return Plan{Summary: fmt.Sprintf("snapshot %d EBS volumes of %s", len(j.missing), in.InstanceID), Changes: changes}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in SnapshotVolumesInput) (Result, error) {
			if err := check(in); err != nil {
				return Result{}, err
			}
			sess, c, _, err := a.ec2Session(ctx, req, in.AWSTarget)
			if err != nil {
				return Result{}, err
			}
			res := Result{Resource: in.InstanceID}
			j, err := prepare(ctx, c, req, in)
			if err == nil && len(j.missing) > 0 {
				err = createSnapshots(ctx, c, req, in, j)
			}
			res.RequestIDs = sess.RequestIDs()
			if err != nil {
				return res, err
			}
			byVolume := map[string]any{}
			ids := []any{}
			for _, vol := range slices.Sorted(maps.Keys(j.existing)) {
				byVolume[vol] = j.existing[vol]
				ids = append(ids, j.existing[vol])
			}
			res.Outputs = map[string]any{"instance_id": in.InstanceID, "snapshots": byVolume, "snapshot_ids": ids}
			res.Summary = fmt.Sprintf("%d snapshots of %s's EBS volumes", len(byVolume), in.InstanceID)
			return res, nil
		},
	}
}

// createSnapshots snapshots j's missing volumes in one crash-consistent set and adds them to
// j.existing. CreateSnapshots has no client token; the tags, set atomically with creation, are
// what a retry finds.
func createSnapshots(ctx context.Context, c *ec2.Client, req Request, in SnapshotVolumesInput, j snapshotJob) error {
	spec := &ec2types.InstanceSpecification{InstanceId: &in.InstanceID, ExcludeBootVolume: awssdk.Bool(true)}
	for _, vol := range j.missing {
		if vol.Device == j.v.RootDevice {
			spec.ExcludeBootVolume = awssdk.Bool(false)
		}
	}
	for _, vol := range j.v.Volumes {
		if _, done := j.existing[vol.ID]; done && vol.Device != j.v.RootDevice {
			spec.ExcludeDataVolumeIds = append(spec.ExcludeDataVolumeIds, vol.ID)
		}
	}
	desc := in.Description
	if desc == "" {
		desc = fmt.Sprintf("Firebreak evidence: %s for %s", in.InstanceID, actor(req))
	}
	tags := []ec2types.Tag{
		{Key: awssdk.String(tagInstance), Value: awssdk.String(in.InstanceID)},
		{Key: awssdk.String(tagIdempotencyKey), Value: awssdk.String(tagSafe(req.IdempotencyKey))},
	}
	if req.Incident != "" {
		tags = append(tags, ec2types.Tag{Key: awssdk.String(tagIncident), Value: awssdk.String(tagSafe(req.Incident))})
	}
	out, err := c.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{InstanceSpecification: spec, Description: &desc,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags}}})
	if err != nil {
		return awsFailure(err)
	}
	for _, s := range out.Snapshots {
		j.existing[awssdk.ToString(s.VolumeId)] = awssdk.ToString(s.SnapshotId)
	}
	return nil
}

// --- isolation record on the instance ---

func recordKey(i int) string {
	if i == 0 {
		return tagOriginal
	}
	return tagOriginal + "." + strconv.Itoa(i)
}

// recordTags splits rec's JSON over as many tags as it needs.
func recordTags(rec IsolationRecord) (map[string]string, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode isolation record: %w", err)
	}
	runes := []rune(string(b))
	out := map[string]string{}
	for i := 0; i*tagValueMax < len(runes); i++ {
		out[recordKey(i)] = string(runes[i*tagValueMax : min((i+1)*tagValueMax, len(runes))])
	}
	if len(out) > recordTagsMax {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the instance's original state needs %d tags, more than the %d Firebreak allows itself", len(out), recordTagsMax), "RecordTooLarge", nil)
	}
	return out, nil
}

// readRecord reads the record isolate left in the tags; nil when there is none.
func readRecord(tags map[string]string) (*IsolationRecord, error) {
	first, ok := tags[tagOriginal]
	if !ok {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString(first)
	for i := 1; ; i++ {
		v, ok := tags[recordKey(i)]
		if !ok {
			break
		}
		b.WriteString(v)
	}
	var rec IsolationRecord
	err := json.Unmarshal([]byte(b.String()), &rec)
	if err == nil && rec.SecurityGroups == nil {
		err = errors.New("it has no security_groups")
	}
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("tag %s is not a record Firebreak wrote (%v); remove it or pass original", tagOriginal, err), "BadIsolationRecord", err)
	}
	return &rec, nil
}

// recordKeys lists the record's tags present on the instance.
func recordKeys(tags map[string]string) []string {
	var out []string
	for k := range tags {
		if k == tagOriginal || strings.HasPrefix(k, tagOriginal+".") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, ec2types.Tag{Key: awssdk.String(k), Value: awssdk.String(m[k])})
	}
	return out
}

func createTags(ctx context.Context, c *ec2.Client, id string, tags map[string]string) error {
	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: ec2Tags(tags)})
	return awsFailure(err)
}

// --- security groups isolate needs ---

// allTraffic is the rule that makes connections untracked, in and out.
func allTraffic() ec2types.IpPermission {
	return ec2types.IpPermission{IpProtocol: awssdk.String("-1"),
		IpRanges:   []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}},
		Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: awssdk.String("::/0")}}}
}

// missingAllTraffic returns the part of allTraffic that perms do not grant yet (nil: none).
func missingAllTraffic(perms []ec2types.IpPermission) *ec2types.IpPermission {
	has4, has6 := false, false
	for _, p := range perms {
		if awssdk.ToString(p.IpProtocol) != "-1" {
			continue
		}
		for _, r := range p.IpRanges {
			has4 = has4 || awssdk.ToString(r.CidrIp) == "0.0.0.0/0"
		}
		for _, r := range p.Ipv6Ranges {
			has6 = has6 || awssdk.ToString(r.CidrIpv6) == "::/0"
		}
	}
	if has4 && has6 {
		return nil
	}
	want := allTraffic()
	if has4 {
		want.IpRanges = nil
	}
	if has6 {
		want.Ipv6Ranges = nil
	}
	return &want
}

func findGroup(ctx context.Context, c *ec2.Client, vpc, name string) (*ec2types.SecurityGroup, error) {
	out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("group-name"), Values: []string{name}}, {Name: awssdk.String("vpc-id"), Values: []string{vpc}}}})
	if err != nil {
		return nil, awsFailure(err)
	}
	if len(out.SecurityGroups) == 0 {
		return nil, nil
	}
	return &out.SecurityGroups[0], nil
}

func describeGroup(ctx context.Context, c *ec2.Client, id string) (*ec2types.SecurityGroup, error) {
	out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	if err != nil {
		return nil, awsFailure(err)
	}
	if len(out.SecurityGroups) == 0 {
		return nil, temporal.NewNonRetryableApplicationError("ec2 DescribeSecurityGroups: no group "+id+" in the answer", "InvalidGroup.NotFound", nil)
	}
	return &out.SecurityGroups[0], nil
}

// createGroup creates name in vpc, or finds the one a concurrent step created first.
func createGroup(ctx context.Context, c *ec2.Client, vpc, name, desc string) (*ec2types.SecurityGroup, error) {
	out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: &name, Description: &desc, VpcId: &vpc})
	if awsCode(err) == "InvalidGroup.Duplicate" {
		g, ferr := findGroup(ctx, c, vpc, name)
		if ferr == nil && g == nil {
			ferr = awsFailure(err)
		}
		return g, ferr
	}
	if err != nil {
		return nil, awsFailure(err)
	}
	// Described again for the rules AWS gave it (the default egress rule, one per IP version).
	return describeGroup(ctx, c, awssdk.ToString(out.GroupId))
}

// authorizeAll grants allTraffic's missing part; a rule someone else just added is fine.
func authorizeAll(ctx context.Context, c *ec2.Client, id string, egress bool, p ec2types.IpPermission) error {
	var err error
	if egress {
		_, err = c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: &id, IpPermissions: []ec2types.IpPermission{p}})
	} else {
		_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &id, IpPermissions: []ec2types.IpPermission{p}})
	}
	if awsCode(err) == "InvalidPermission.Duplicate" {
		return nil
	}
	return awsFailure(err)
}

// --- aws.ec2.isolate_instance ---

// isolation is one isolate_instance run: what it read, then the steps that finish the job.
type isolation struct {
	action   string
	req      Request
	in       IsolateInstanceInput
	c        *ec2.Client
	asc      *autoscaling.Client
	v        instanceView
	rec      IsolationRecord
	recorded bool // rec was read from the instance, written by an earlier attempt

	untrack, quarantine *ec2types.SecurityGroup // nil until found or created
}

func (x *isolation) untrackID() string    { return groupID(x.untrack) }
func (x *isolation) quarantineID() string { return groupID(x.quarantine) }

func groupID(g *ec2types.SecurityGroup) string {
	if g == nil {
		return ""
	}
	return awssdk.ToString(g.GroupId)
}

func (a *AWS) prepareIsolation(ctx context.Context, action string, req Request, in IsolateInstanceInput) (*awsSession, *isolation, error) {
	if err := checkInstanceID(action, in.InstanceID); err != nil {
		return nil, nil, err
	}
	if in.QuarantineGroup != "" && !ec2GroupIDRe.MatchString(in.QuarantineGroup) {
		return nil, nil, badInput(action, "quarantine_group %q is not a security group ID (sg- and 8 or 17 hex digits)", in.QuarantineGroup)
	}
	sess, c, asc, err := a.ec2Session(ctx, req, in.AWSTarget)
	if err != nil {
		return nil, nil, err
	}
	x := &isolation{action: action, req: req, in: in, c: c, asc: asc}
	if x.v, err = describeInstance(ctx, c, in.InstanceID); err != nil {
		return sess, nil, err
	}
	switch x.v.State {
	case "terminated", "shutting-down":
		return sess, nil, instanceStateError(action, x.v, "nothing to isolate")
	}
	if err := x.v.readDetails(ctx, c, asc); err != nil {
		return sess, nil, err
	}
	rec, err := readRecord(x.v.Tags)
	if err != nil {
		return sess, nil, err
	}
	if rec != nil {
		// An earlier attempt recorded the instance before changing it: that is the original,
		// whatever it changed since.
		x.rec, x.recorded = *rec, true
	} else {
		x.rec = IsolationRecord{SecurityGroups: map[string][]string{}, InstanceProfileARN: x.v.ProfileARN,
			InstanceProfileAssociationID: x.v.AssociationID, AutoScalingGroup: x.v.ASG, TerminationProtection: x.v.TerminationProtection}
		for _, e := range x.v.ENIs {
			x.rec.SecurityGroups[e.ID] = slices.Clone(e.Groups)
		}
	}
	if x.untrack, err = findGroup(ctx, c, x.v.VPC, untrackGroupName); err != nil {
		return sess, nil, err
	}
	if in.QuarantineGroup != "" {
		if x.quarantine, err = describeGroup(ctx, c, in.QuarantineGroup); err != nil {
			return sess, nil, err
		}
		if vpc := awssdk.ToString(x.quarantine.VpcId); vpc != x.v.VPC {
			return sess, nil, badInput(action, "quarantine_group %s is in %s, but %s is in %s", in.QuarantineGroup, vpc, x.v.ID, x.v.VPC)
		}
	} else if x.quarantine, err = findGroup(ctx, c, x.v.VPC, quarantineGroupName); err != nil {
		return sess, nil, err
	}
	if in.QuarantineGroup == "" && x.quarantine != nil && len(x.quarantine.IpPermissions) > 0 {
		return sess, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s %s in %s has inbound rules, so it no longer quarantines; remove them or pass quarantine_group",
			action, quarantineGroupName, x.quarantineID(), x.v.VPC), "QuarantineGroupNotEmpty", nil)
	}
	return sess, x, nil
}

// addedTags are the tags isolate puts on the instance besides the record.
func (x *isolation) addedTags() map[string]string {
	q := x.quarantineID()
	if q == "" {
		q = "(new " + quarantineGroupName + ")"
	}
	return map[string]string{tagQuarantinedBy: tagSafe(actor(x.req)), tagQuarantineGroup: q}
}

// steps lists what is left to do, in the order that keeps a partial run safe and finishable:
// helper groups first (no change to the instance), then the record of the original state,
// then the instance's changes, each skipped when already made.
func (x *isolation) steps() []ec2Step {
	var steps []ec2Step
	id, vpc := x.v.ID, x.v.VPC

	switch g := x.untrack; {
	case g == nil:
		steps = append(steps, ec2Step{
			desc: fmt.Sprintf("create security group %s in %s allowing all traffic in and out (0.0.0.0/0, ::/0), through which connections become untracked", untrackGroupName, vpc),
			do: func(ctx context.Context) error {
				var err error
				if x.untrack, err = createGroup(ctx, x.c, vpc, untrackGroupName, "Firebreak: allows all traffic so that existing connections become untracked before quarantine"); err != nil {
					return err
				}
				return x.completeUntrack(ctx)
			}})
	case missingAllTraffic(g.IpPermissions) != nil || missingAllTraffic(g.IpPermissionsEgress) != nil:
		steps = append(steps, ec2Step{
			desc: fmt.Sprintf("allow all traffic in and out of %s %s, so connections moved through it become untracked", untrackGroupName, groupID(g)),
			do:   x.completeUntrack})
	}

	if x.in.QuarantineGroup == "" {
		switch g := x.quarantine; {
		case g == nil:
			steps = append(steps, ec2Step{
				desc: fmt.Sprintf("create security group %s in %s with no rules (its default egress rule revoked)", quarantineGroupName, vpc),
				do: func(ctx context.Context) error {
					var err error
					if x.quarantine, err = createGroup(ctx, x.c, vpc, quarantineGroupName, "Firebreak quarantine: no inbound or outbound rules"); err != nil {
						return err
					}
					return x.emptyQuarantine(ctx)
				}})
		case len(g.IpPermissionsEgress) > 0:
			steps = append(steps, ec2Step{
				desc: fmt.Sprintf("revoke the %d egress rules of %s %s", len(g.IpPermissionsEgress), quarantineGroupName, groupID(g)),
				do:   x.emptyQuarantine})
		}
	}

	want := x.addedTags()
	if !x.recorded {
		steps = append(steps, ec2Step{
			desc: fmt.Sprintf("tag %s with its original state (%s) and %s=%s, %s=%s", id, tagOriginal, tagQuarantinedBy, want[tagQuarantinedBy], tagQuarantineGroup, want[tagQuarantineGroup]),
			do: func(ctx context.Context) error {
				// The record and the markers go in one call, which EC2 applies whole: a retry
				// either finds the record or starts from an unchanged instance.
				x.rec.AddedTags, x.rec.PriorTags = x.addedTags(), nil
				for k := range x.rec.AddedTags {
					if v, ok := x.v.Tags[k]; ok {
						if x.rec.PriorTags == nil {
							x.rec.PriorTags = map[string]string{}
						}
						x.rec.PriorTags[k] = v
					}
				}
				tags, err := recordTags(x.rec)
				if err != nil {
					return err
				}
				maps.Copy(tags, x.rec.AddedTags)
				if err := createTags(ctx, x.c, id, tags); err != nil {
					return err
				}
				x.recorded = true
				return nil
			}})
	} else if differs(x.v.Tags, want) {
		steps = append(steps, ec2Step{
			desc: fmt.Sprintf("tag %s %s=%s, %s=%s", id, tagQuarantinedBy, want[tagQuarantinedBy], tagQuarantineGroup, want[tagQuarantineGroup]),
			do:   func(ctx context.Context) error { return createTags(ctx, x.c, id, x.addedTags()) }})
	}

	if !x.v.TerminationProtection {
		steps = append(steps, ec2Step{desc: "enable termination protection on " + id, do: func(ctx context.Context) error {
			return setTerminationProtection(ctx, x.c, id, true)
		}})
	}
	if asg := x.v.ASG; asg != "" {
		// Before the network changes: a quarantined instance fails its health checks, and the
		// group would terminate it, evidence and all.
		steps = append(steps, ec2Step{
			desc: fmt.Sprintf("detach %s from Auto Scaling group %s, keeping the desired capacity so the group replaces it", id, asg),
			do: func(ctx context.Context) error {
				_, err := x.asc.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: &asg, InstanceIds: []string{id},
					ShouldDecrementDesiredCapacity: awssdk.Bool(false)})
				return awsFailure(err)
			}})
	}
	if assoc := x.v.AssociationID; assoc != "" {
		steps = append(steps, ec2Step{
			desc: fmt.Sprintf("disassociate instance profile %s (association %s) from %s", x.v.ProfileARN, assoc, id),
			do: func(ctx context.Context) error {
				_, err := x.c.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{AssociationId: &assoc})
				if awsCode(err) == "InvalidAssociationID.NotFound" {
					return nil // gone already: what this step wanted
				}
				return awsFailure(err)
			}})
	}
	for _, e := range x.v.ENIs {
		if x.quarantine != nil && slices.Equal(e.Groups, []string{x.quarantineID()}) {
			continue
		}
		untracked := x.untrack != nil && slices.Equal(e.Groups, []string{x.untrackID()})
		desc := fmt.Sprintf("move %s from %s to %s, then to quarantine %s (so its tracked connections are cut)",
			e.ID, strings.Join(e.Groups, ", "), orNew(x.untrackID(), untrackGroupName), orNew(x.quarantineID(), quarantineGroupName))
		if untracked {
			desc = fmt.Sprintf("move %s from %s to quarantine %s", e.ID, x.untrackID(), orNew(x.quarantineID(), quarantineGroupName))
		}
		eni := e.ID
		steps = append(steps, ec2Step{desc: desc, do: func(ctx context.Context) error {
			// Security group changes leave tracked connections open; all-open rules untrack
			// them, and the quarantine group's lack of rules then drops them (AWS Security
			// Incident Response Guide, "Isolation").
			if !untracked {
				if err := setGroups(ctx, x.c, eni, x.untrackID()); err != nil {
					return err
				}
			}
			return setGroups(ctx, x.c, eni, x.quarantineID())
		}})
	}
	return steps
}

func orNew(id, name string) string {
	if id == "" {
		return "(new " + name + ")"
	}
	return id
}

func differs(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return true
		}
	}
	return false
}

// completeUntrack adds to the untracking group what allTraffic it lacks.
func (x *isolation) completeUntrack(ctx context.Context) error {
	g, id := x.untrack, x.untrackID()
	if p := missingAllTraffic(g.IpPermissions); p != nil {
		if err := authorizeAll(ctx, x.c, id, false, *p); err != nil {
			return err
		}
	}
	if p := missingAllTraffic(g.IpPermissionsEgress); p != nil {
		if err := authorizeAll(ctx, x.c, id, true, *p); err != nil {
			return err
		}
	}
	return nil
}

// emptyQuarantine revokes the quarantine group's egress rules (AWS gives a new group one).
func (x *isolation) emptyQuarantine(ctx context.Context) error {
	if len(x.quarantine.IpPermissionsEgress) == 0 {
		return nil
	}
	id := x.quarantineID()
	_, err := x.c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: &id, IpPermissions: x.quarantine.IpPermissionsEgress})
	return awsFailure(err)
}

func setGroups(ctx context.Context, c *ec2.Client, eni string, groups ...string) error {
	_, err := c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: &eni, Groups: groups})
	return awsFailure(err)
}

func setTerminationProtection(ctx context.Context, c *ec2.Client, id string, on bool) error {
	_, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &id, DisableApiTermination: &ec2types.AttributeBooleanValue{Value: &on}})
	return awsFailure(err)
}

func (a *AWS) ec2IsolateInstance() Action {
	const name = "aws.ec2.isolate_instance"
	return Def[IsolateInstanceInput]{
		Name: name,
		Description: "Isolate an instance for forensics: record its original state (security groups of every network interface, " +
			"instance profile association, Auto Scaling group, termination protection) on the instance as tag firebreak:original " +
			"and in the output `original`; enable termination protection; detach it from its Auto Scaling group keeping the desired " +
			"capacity (the group replaces it); disassociate its instance profile; tag it firebreak:quarantined-by; and move every " +
			"network interface first to firebreak-untrack (all traffic allowed, so tracked connections become untracked) and then " +
			"to the quarantine group (quarantine_group, or firebreak-quarantine with no rules, created in the instance's VPC), which " +
			"cuts existing connections. The two helper groups are created once per VPC, found again by name, and stay after " +
			"release_instance. A retry finishes an interrupted isolation with the original state it recorded first.",
		Permissions: Permissions{IAM: []IAMPermission{
			{Action: "ec2:DescribeInstances", Resource: "*"},
			{Action: "ec2:DescribeInstanceAttribute", Resource: "*"},
			{Action: "ec2:DescribeIamInstanceProfileAssociations", Resource: "*"},
			{Action: "ec2:DescribeSecurityGroups", Resource: "*"},
			{Action: "autoscaling:DescribeAutoScalingInstances", Resource: "*"},
			{Action: "ec2:CreateSecurityGroup", Resource: arnSecurityGroup},
			{Action: "ec2:CreateSecurityGroup", Resource: arnVPC},
			{Action: "ec2:AuthorizeSecurityGroupIngress", Resource: arnSecurityGroup},
			{Action: "ec2:AuthorizeSecurityGroupEgress", Resource: arnSecurityGroup},
			{Action: "ec2:RevokeSecurityGroupEgress", Resource: arnSecurityGroup},
			{Action: "ec2:CreateTags", Resource: arnInstance},
			{Action: "ec2:ModifyInstanceAttribute", Resource: arnInstance},
			{Action: "autoscaling:DetachInstances", Resource: arnASG},
			{Action: "ec2:DisassociateIamInstanceProfile", Resource: arnInstance},
			{Action: "ec2:ModifyNetworkInterfaceAttribute", Resource: arnENI},
			{Action: "ec2:ModifyNetworkInterfaceAttribute", Resource: arnSecurityGroup},
		}},
		PlanFunc: func(ctx context.Context, req Request, in IsolateInstanceInput) (Plan, error) {
			_, x, err := a.prepareIsolation(ctx, name, req, in)
			if err != nil {
				return Plan{}, err
			}
			steps := x.steps()
			if len(steps) == 0 {
				return Plan{Summary: fmt.Sprintf("no change: %s is isolated in %s", in.InstanceID, x.quarantineID())}, nil
			}
			return Plan{Summary: fmt.Sprintf("isolate %s (%d changes)", in.InstanceID, len(steps)), Changes: descriptions(steps)}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in IsolateInstanceInput) (Result, error) {
			sess, x, err := a.prepareIsolation(ctx, name, req, in)
			res := Result{Resource: in.InstanceID}
			var steps []ec2Step
			if err == nil {
				steps = x.steps()
				err = runSteps(ctx, steps)
			}
			if sess != nil {
				res.RequestIDs = sess.RequestIDs()
			}
			if err != nil {
				return res, err
			}
			rec, err := jsonValue(x.rec)
			if err != nil {
				return res, err
			}
			enis := []any{}
			for _, e := range x.v.ENIs {
				enis = append(enis, e.ID)
			}
			res.Outputs = map[string]any{"instance_id": in.InstanceID, "original": rec, "quarantine_group": x.quarantineID(),
				"untrack_group": x.untrackID(), "network_interfaces": enis}
			res.Summary = fmt.Sprintf("%s isolated in %s (%d changes made)", in.InstanceID, x.quarantineID(), len(steps))
			if len(steps) == 0 {
				res.Summary = fmt.Sprintf("%s was already isolated in %s", in.InstanceID, x.quarantineID())
			}
			return res, nil
		},
	}
}

// --- aws.ec2.release_instance ---

// releaseASG is what tagReleaseASG holds: the group's sizes before the attach.
type releaseASG struct {
	Group   string `json:"group"`
	Desired int32  `json:"desired"`
	Max     int32  `json:"max"`
}

type release struct {
	action string
	c      *ec2.Client
	asc    *autoscaling.Client
	v      instanceView
	rec    *IsolationRecord // nil: nothing to release

	// The group to re-attach to, as read (nil when no attach is pending or needed).
	group  *releaseASG
	marker *releaseASG // tagReleaseASG as found
}

func (a *AWS) prepareRelease(ctx context.Context, action string, req Request, in ReleaseInstanceInput) (*awsSession, *release, error) {
	if err := checkInstanceID(action, in.InstanceID); err != nil {
		return nil, nil, err
	}
	if in.Original != nil && in.Original.SecurityGroups == nil {
		return nil, nil, badInput(action, "original lacks security_groups: pass isolate_instance's output `original` whole")
	}
	sess, c, asc, err := a.ec2Session(ctx, req, in.AWSTarget)
	if err != nil {
		return nil, nil, err
	}
	x := &release{action: action, c: c, asc: asc, rec: in.Original}
	if x.v, err = describeInstance(ctx, c, in.InstanceID); err != nil {
		return sess, nil, err
	}
	if err := x.v.readDetails(ctx, c, asc); err != nil {
		return sess, nil, err
	}
	if x.rec == nil {
		if x.rec, err = readRecord(x.v.Tags); err != nil {
			return sess, nil, err
		}
	}
	if m, ok := x.v.Tags[tagReleaseASG]; ok {
		x.marker = &releaseASG{}
		if err := json.Unmarshal([]byte(m), x.marker); err != nil {
			return sess, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("tag %s is not what Firebreak wrote: %v", tagReleaseASG, err), "BadIsolationRecord", err)
		}
	}
	if x.rec == nil {
		return sess, x, nil
	}
	if p := x.v.ProfileARN; p != "" && x.rec.InstanceProfileARN != "" && p != x.rec.InstanceProfileARN {
		return sess, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s now has instance profile %s, not its original %s; replace it by hand if that is wrong",
			action, x.v.ID, p, x.rec.InstanceProfileARN), "InstanceProfileChanged", nil)
	}
	if g := x.rec.AutoScalingGroup; g != "" && (x.v.ASG == "" || (x.v.ASG == g && x.marker != nil)) {
		out, err := asc.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{g}})
		if err != nil {
			return sess, nil, awsFailure(err)
		}
		if len(out.AutoScalingGroups) == 0 {
			return sess, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: Auto Scaling group %s of %s no longer exists", action, g, x.v.ID), "ValidationError", nil)
		}
		grp := out.AutoScalingGroups[0]
		x.group = &releaseASG{Group: g, Desired: awssdk.ToInt32(grp.DesiredCapacity), Max: awssdk.ToInt32(grp.MaxSize)}
	}
	if x.v.ASG != "" && x.v.ASG != x.rec.AutoScalingGroup {
		return sess, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s is in Auto Scaling group %s now, not its original %q", action, x.v.ID, x.v.ASG, x.rec.AutoScalingGroup), "ValidationError", nil)
	}
	if x.v.ASG == "" && x.rec.AutoScalingGroup != "" && x.v.State != "running" {
		return sess, nil, instanceStateError(action, x.v, "Auto Scaling attaches running instances only; start it, then release again")
	}
	return sess, x, nil
}

// steps restores the instance in the order that brings it back to service safely: network and
// role before the Auto Scaling group can count it, and the record removed last, since a retry
// needs it.
func (x *release) steps() []ec2Step {
	var steps []ec2Step
	id, rec := x.v.ID, x.rec
	for _, eni := range slices.Sorted(maps.Keys(rec.SecurityGroups)) {
		want, cur := rec.SecurityGroups[eni], x.v.eni(eni)
		if cur == nil || slices.Equal(cur.Groups, want) {
			// An interface detached since isolation has no groups here to restore.
			continue
		}
		steps = append(steps, ec2Step{
			desc: fmt.Sprintf("move %s from %s back to %s", eni, strings.Join(cur.Groups, ", "), strings.Join(want, ", ")),
			do:   func(ctx context.Context) error { return setGroups(ctx, x.c, eni, want...) }})
	}
	if p := rec.InstanceProfileARN; p != "" && x.v.ProfileARN == "" {
		steps = append(steps, ec2Step{desc: fmt.Sprintf("associate instance profile %s with %s", p, id), do: func(ctx context.Context) error {
			_, err := x.c.AssociateIamInstanceProfile(ctx, &ec2.AssociateIamInstanceProfileInput{InstanceId: &id,
				IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Arn: &p}})
			if awsCode(err) == "IncorrectState" {
				return nil // associated by a request whose answer was lost
			}
			return awsFailure(err)
		}})
	}
	if x.v.TerminationProtection != rec.TerminationProtection {
		on := rec.TerminationProtection
		steps = append(steps, ec2Step{desc: fmt.Sprintf("set termination protection of %s back to %t", id, on), do: func(ctx context.Context) error {
			return setTerminationProtection(ctx, x.c, id, on)
		}})
	}
	steps = append(steps, x.asgSteps()...)

	restore, remove := map[string]string{}, recordKeys(x.v.Tags)
	for k := range rec.AddedTags {
		if prior, ok := rec.PriorTags[k]; ok {
			if x.v.Tags[k] != prior {
				restore[k] = prior
			}
		} else if _, ok := x.v.Tags[k]; ok {
			remove = append(remove, k)
		}
	}
	if _, ok := x.v.Tags[tagReleaseASG]; ok || (x.group != nil && x.v.ASG == "") {
		// Present, or about to be written by the attach steps.
		remove = append(remove, tagReleaseASG)
	}
	if len(restore) > 0 {
		steps = append(steps, ec2Step{desc: fmt.Sprintf("restore tags %s of %s", strings.Join(slices.Sorted(maps.Keys(restore)), ", "), id),
			do: func(ctx context.Context) error { return createTags(ctx, x.c, id, restore) }})
	}
	if len(remove) > 0 {
		sort.Strings(remove)
		steps = append(steps, ec2Step{desc: fmt.Sprintf("remove tags %s from %s", strings.Join(remove, ", "), id), do: func(ctx context.Context) error {
			var tags []ec2types.Tag
			for _, k := range remove {
				tags = append(tags, ec2types.Tag{Key: awssdk.String(k)})
			}
			_, err := x.c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: tags})
			return awsFailure(err)
		}})
	}
	return steps
}

// asgSteps re-attaches the instance to its group. AttachInstances raises the desired capacity
// by one (and fails beyond the maximum), so the sizes before the attach are first kept on the
// instance, then restored after it: a retry at any point knows them.
func (x *release) asgSteps() []ec2Step {
	id, cur := x.v.ID, x.group
	if cur == nil {
		return nil
	}
	group := cur.Group
	var steps []ec2Step
	before, after := x.marker, *cur
	if x.v.ASG == "" {
		if before == nil {
			before = cur
			marker := *cur
			steps = append(steps, ec2Step{desc: fmt.Sprintf("tag %s with %s's sizes (desired %d, max %d)", id, group, cur.Desired, cur.Max),
				do: func(ctx context.Context) error {
					b, err := json.Marshal(marker)
					if err != nil {
						return fmt.Errorf("encode %s: %w", tagReleaseASG, err)
					}
					return createTags(ctx, x.c, id, map[string]string{tagReleaseASG: string(b)})
				}})
		}
		if raised := cur.Desired + 1; raised > cur.Max {
			steps = append(steps, ec2Step{desc: fmt.Sprintf("raise %s's maximum size to %d for the attach", group, raised), do: func(ctx context.Context) error {
				return updateASG(ctx, x.asc, group, nil, awssdk.Int32(raised))
			}})
		}
		steps = append(steps, ec2Step{desc: fmt.Sprintf("attach %s to Auto Scaling group %s", id, group), do: func(ctx context.Context) error {
			_, err := x.asc.AttachInstances(ctx, &autoscaling.AttachInstancesInput{AutoScalingGroupName: &group, InstanceIds: []string{id}})
			return awsFailure(err)
		}})
		after = releaseASG{Group: group, Desired: cur.Desired + 1, Max: max(cur.Max, cur.Desired+1)}
	}
	if before != nil && (after.Desired != before.Desired || after.Max != before.Max) {
		want := *before
		steps = append(steps, ec2Step{desc: fmt.Sprintf("set %s's desired capacity back to %d and maximum to %d", group, want.Desired, want.Max),
			do: func(ctx context.Context) error {
				return updateASG(ctx, x.asc, group, awssdk.Int32(want.Desired), awssdk.Int32(want.Max))
			}})
	}
	return steps
}

func updateASG(ctx context.Context, asc *autoscaling.Client, group string, desired, maxSize *int32) error {
	_, err := asc.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: &group, DesiredCapacity: desired, MaxSize: maxSize})
	return awsFailure(err)
}

func (a *AWS) ec2ReleaseInstance() Action {
	const name = "aws.ec2.release_instance"
	return Def[ReleaseInstanceInput]{
		Name: name,
		Description: "Undo isolate_instance from its record (`original`, or the instance's firebreak:original tag): restore every " +
			"network interface's security groups, re-associate the instance profile, restore termination protection, re-attach " +
			"the instance to its Auto Scaling group and set the group's desired capacity (and maximum) back to what they were " +
			"before the attach raised them (so the group may then scale in by one), and remove the tags isolate added. The " +
			"firebreak-quarantine and firebreak-untrack groups stay in the VPC for other isolations. An instance with no record " +
			"is left alone.",
		Permissions: Permissions{IAM: []IAMPermission{
			{Action: "ec2:DescribeInstances", Resource: "*"},
			{Action: "ec2:DescribeInstanceAttribute", Resource: "*"},
			{Action: "ec2:DescribeIamInstanceProfileAssociations", Resource: "*"},
			{Action: "autoscaling:DescribeAutoScalingInstances", Resource: "*"},
			{Action: "autoscaling:DescribeAutoScalingGroups", Resource: "*"},
			{Action: "ec2:ModifyNetworkInterfaceAttribute", Resource: arnENI},
			{Action: "ec2:ModifyNetworkInterfaceAttribute", Resource: arnSecurityGroup},
			{Action: "ec2:AssociateIamInstanceProfile", Resource: arnInstance},
			// Associating a profile hands its role to the instance, which IAM checks as PassRole.
			{Action: "iam:PassRole", Resource: arnAnyRole},
			{Action: "ec2:ModifyInstanceAttribute", Resource: arnInstance},
			{Action: "ec2:CreateTags", Resource: arnInstance},
			{Action: "autoscaling:AttachInstances", Resource: arnASG},
			{Action: "autoscaling:UpdateAutoScalingGroup", Resource: arnASG},
			{Action: "ec2:DeleteTags", Resource: arnInstance},
		}},
		PlanFunc: func(ctx context.Context, req Request, in ReleaseInstanceInput) (Plan, error) {
			_, x, err := a.prepareRelease(ctx, name, req, in)
			if err != nil {
				return Plan{}, err
			}
			if x.rec == nil {
				return Plan{Summary: fmt.Sprintf("no change: %s carries no isolation record (%s) and no original was given", in.InstanceID, tagOriginal)}, nil
			}
			steps := x.steps()
			if len(steps) == 0 {
				return Plan{Summary: fmt.Sprintf("no change: %s is as it was before isolation", in.InstanceID)}, nil
			}
			return Plan{Summary: fmt.Sprintf("release %s (%d changes)", in.InstanceID, len(steps)), Changes: descriptions(steps)}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in ReleaseInstanceInput) (Result, error) {
			sess, x, err := a.prepareRelease(ctx, name, req, in)
			res := Result{Resource: in.InstanceID}
			var steps []ec2Step
			if err == nil && x.rec != nil {
				steps = x.steps()
				err = runSteps(ctx, steps)
			}
			if sess != nil {
				res.RequestIDs = sess.RequestIDs()
			}
			if err != nil {
				return res, err
			}
			res.Outputs = map[string]any{"instance_id": in.InstanceID, "released": x.rec != nil}
			if x.rec == nil {
				res.Summary = fmt.Sprintf("%s carries no isolation record: nothing to release", in.InstanceID)
				return res, nil
			}
			groups := map[string]any{}
			for eni, gs := range x.rec.SecurityGroups {
				groups[eni] = anySlice(gs)
			}
			res.Outputs["security_groups"] = groups
			res.Outputs["instance_profile_arn"] = x.rec.InstanceProfileARN
			res.Outputs["auto_scaling_group"] = x.rec.AutoScalingGroup
			res.Outputs["termination_protection"] = x.rec.TerminationProtection
			res.Summary = fmt.Sprintf("%s released (%d changes made)", in.InstanceID, len(steps))
			return res, nil
		},
	}
}

// --- aws.ec2.stop_instance ---

func (a *AWS) ec2StopInstance() Action {
	const name = "aws.ec2.stop_instance"
	read := func(ctx context.Context, req Request, in StopInstanceInput) (*awsSession, *ec2.Client, instanceView, error) {
		if err := checkInstanceID(name, in.InstanceID); err != nil {
			return nil, nil, instanceView{}, err
		}
		sess, c, _, err := a.ec2Session(ctx, req, in.AWSTarget)
		if err != nil {
			return nil, nil, instanceView{}, err
		}
		v, err := describeInstance(ctx, c, in.InstanceID)
		if err != nil {
			return sess, nil, v, err
		}
		switch v.State {
		case "pending":
			// Retryable: a pending instance is running soon, and can then be stopped.
			return sess, nil, v, temporal.NewApplicationError(fmt.Sprintf("%s: instance %s is pending; it can be stopped once running", name, v.ID), "IncorrectInstanceState")
		case "shutting-down", "terminated":
			return sess, nil, v, instanceStateError(name, v, "it cannot be stopped")
		}
		return sess, c, v, nil
	}
	return Def[StopInstanceInput]{
		Name:        name,
		Description: "Stop an EBS-backed instance (memory is lost; snapshot first if it matters). Stopping or stopped already is success.",
		Permissions: Permissions{IAM: []IAMPermission{
			{Action: "ec2:DescribeInstances", Resource: "*"},
			{Action: "ec2:StopInstances", Resource: arnInstance},
		}},
		PlanFunc: func(ctx context.Context, req Request, in StopInstanceInput) (Plan, error) {
			_, _, v, err := read(ctx, req, in)
			if err != nil {
				return Plan{}, err
			}
			if v.State == "stopping" || v.State == "stopped" {
				return Plan{Summary: fmt.Sprintf("no change: %s is %s", v.ID, v.State)}, nil
			}
			how := "stop"
			if in.Force {
				how = "force-stop"
			}
			return Plan{Summary: fmt.Sprintf("%s %s (%s)", how, v.ID, v.State), Changes: []string{fmt.Sprintf("%s %s, now %s", how, v.ID, v.State)}}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in StopInstanceInput) (Result, error) {
			sess, c, v, err := read(ctx, req, in)
			res := Result{Resource: in.InstanceID}
			state := v.State
			if err == nil && state != "stopping" && state != "stopped" {
				var out *ec2.StopInstancesOutput
				out, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{in.InstanceID}, Force: awssdk.Bool(in.Force)})
				err = awsFailure(err)
				if err == nil && len(out.StoppingInstances) == 1 && out.StoppingInstances[0].CurrentState != nil {
					state = string(out.StoppingInstances[0].CurrentState.Name)
				}
			}
			if sess != nil {
				res.RequestIDs = sess.RequestIDs()
			}
			if err != nil {
				return res, err
			}
			res.Outputs = map[string]any{"instance_id": in.InstanceID, "previous_state": v.State, "state": state}
			res.Summary = fmt.Sprintf("%s: %s → %s", in.InstanceID, v.State, state)
			return res, nil
		},
	}
}
