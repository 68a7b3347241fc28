package awsfake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Instance is an EC2 instance as tests seed it (AddInstance) and as State shows it.
type Instance struct {
	ID string
	// State is pending, running (the default), stopping, stopped, shutting-down or terminated.
	State     string
	VPCID     string
	SubnetID  string
	PrivateIP string
	PublicIP  string
	// RootDeviceName defaults to /dev/xvda; RootDeviceType to ebs (instance-store cannot stop).
	RootDeviceName    string
	RootDeviceType    string
	NetworkInterfaces []NetworkInterface
	Volumes           []Volume
	// InstanceProfileARN is the associated instance profile, "" for none. State shows the
	// profile, not the association ID: AWS issues a new ID for every association, so no
	// rollback could restore it, and the association is what the instance can do.
	InstanceProfileARN string
	// AutoScalingGroup is the group the instance belongs to ("" for none); it must have been
	// added with AddAutoScalingGroup. Membership lives here only: Auto Scaling reads it.
	AutoScalingGroup      string
	Tags                  map[string]string
	TerminationProtection bool
}

// NetworkInterface is an attached ENI; the first is the primary (device index 0).
type NetworkInterface struct {
	ID             string
	PrivateIP      string
	SecurityGroups []string
}

// Volume is an attached EBS volume.
type Volume struct {
	ID         string
	DeviceName string
	SizeGiB    int
}

// SecurityGroup is a VPC security group with its rules.
type SecurityGroup struct {
	ID          string
	Name        string
	Description string
	VPCID       string
	Ingress     []Rule
	Egress      []Rule
}

// Rule is one security group rule for one CIDR (IPv4 or IPv6). Protocol "-1" is all traffic,
// and then the ports are 0.
type Rule struct {
	Protocol string
	FromPort int
	ToPort   int
	CIDR     string
}

// Snapshot is an EBS snapshot.
type Snapshot struct {
	ID          string
	VolumeID    string
	OwnerID     string
	Description string
	State       string
	SizeGiB     int
	Tags        map[string]string
}

// EC2State is State().EC2: resources by "account/region".
type EC2State struct {
	Regions map[string]EC2Region
}

// EC2Region is one account's EC2 resources in one region.
type EC2Region struct {
	Instances      map[string]Instance
	SecurityGroups map[string]SecurityGroup
	Snapshots      map[string]Snapshot
}

// Connection states of an ENI (see OpenConnection).
const (
	ConnTracked   = "tracked"
	ConnUntracked = "untracked"
	ConnNone      = ""
)

// ec2State is the fake's EC2 state; the Server's mutex guards it.
type ec2State struct {
	regions map[string]*ec2Region
	seq     int
}

type ec2Region struct {
	instances map[string]*Instance
	groups    map[string]*SecurityGroup
	snapshots map[string]*Snapshot
	// assoc is the instance profile association ID per instance.
	assoc map[string]string
	// history is every group set each ENI has had, in order: what isolation tests read to see
	// that connections were untracked before they were cut. Not part of State, because a
	// rollback cannot (and need not) undo history.
	history map[string][][]string
	// conns models connection tracking per ENI, as far as isolation needs it: a tracked
	// connection survives any group change; moving the ENI to groups that allow all traffic in
	// and out (0.0.0.0/0 and ::/0) makes it untracked; an untracked connection is dropped as
	// soon as the groups no longer allow all traffic. Not part of State either.
	conns map[string]string
}

func newEC2State() *ec2State { return &ec2State{regions: map[string]*ec2Region{}} }

func regionKey(account, region string) string { return account + "/" + region }

// region returns the account's region; with create false it may return nil, so that reads
// never add an empty region to State.
func (st *ec2State) region(account, region string, create bool) *ec2Region {
	k := regionKey(account, region)
	r := st.regions[k]
	if r == nil && create {
		r = &ec2Region{instances: map[string]*Instance{}, groups: map[string]*SecurityGroup{},
			snapshots: map[string]*Snapshot{}, assoc: map[string]string{},
			history: map[string][][]string{}, conns: map[string]string{}}
		st.regions[k] = r
	}
	return r
}

// id issues a resource ID in AWS's long format: prefix, dash, 17 hex digits.
func (st *ec2State) id(prefix string) string {
	st.seq++
	return fmt.Sprintf("%s-%017x", prefix, 0xfa4e0000000+st.seq)
}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *ec2State) snapshot() any {
	out := EC2State{Regions: map[string]EC2Region{}}
	for k, r := range st.regions {
		cp := EC2Region{Instances: map[string]Instance{}, SecurityGroups: map[string]SecurityGroup{}, Snapshots: map[string]Snapshot{}}
		for id, in := range r.instances {
			cp.Instances[id] = copyInstance(*in)
		}
		for id, g := range r.groups {
			cp.SecurityGroups[id] = copyGroup(*g)
		}
		for id, sn := range r.snapshots {
			c := *sn
			c.Tags = copyTags(sn.Tags)
			cp.Snapshots[id] = c
		}
		out.Regions[k] = cp
	}
	return out
}

// The copies are normalised (never-nil slices and maps) so that an emptied tag set compares
// equal to one that was never set.
func copyInstance(in Instance) Instance {
	in.Tags = copyTags(in.Tags)
	in.Volumes = append([]Volume{}, in.Volumes...)
	enis := make([]NetworkInterface, 0, len(in.NetworkInterfaces))
	for _, e := range in.NetworkInterfaces {
		e.SecurityGroups = append([]string{}, e.SecurityGroups...)
		enis = append(enis, e)
	}
	in.NetworkInterfaces = enis
	return in
}

func copyGroup(g SecurityGroup) SecurityGroup {
	g.Ingress = append([]Rule{}, g.Ingress...)
	g.Egress = append([]Rule{}, g.Egress...)
	return g
}

func copyTags(t map[string]string) map[string]string {
	out := make(map[string]string, len(t))
	maps.Copy(out, t)
	return out
}

// AddInstance seeds an instance in account and region. Security groups its interfaces name
// that do not exist yet are created in its VPC, named after their ID, with AWS's default
// egress rule. A named Auto Scaling group must have been added first.
func (s *Server) AddInstance(account, region string, in Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.ec2.region(account, region, true)
	in = copyInstance(in)
	if in.State == "" {
		in.State = "running"
	}
	if in.RootDeviceName == "" {
		in.RootDeviceName = "/dev/xvda"
	}
	if in.RootDeviceType == "" {
		in.RootDeviceType = "ebs"
	}
	if in.AutoScalingGroup != "" && s.asg.group(account, region, in.AutoScalingGroup) == nil {
		panic("awsfake: AddInstance: add Auto Scaling group " + in.AutoScalingGroup + " first")
	}
	for _, e := range in.NetworkInterfaces {
		for _, g := range e.SecurityGroups {
			if r.groups[g] == nil {
				r.groups[g] = &SecurityGroup{ID: g, Name: g, Description: "seeded by awsfake", VPCID: in.VPCID,
					Egress: []Rule{{Protocol: "-1", CIDR: "0.0.0.0/0"}}}
			}
		}
		r.history[e.ID] = [][]string{slices.Clone(e.SecurityGroups)}
	}
	if in.InstanceProfileARN != "" {
		r.assoc[in.ID] = s.ec2.id("iip-assoc")
	}
	r.instances[in.ID] = &in
}

// AddSecurityGroup seeds a security group (a configured quarantine group, say).
func (s *Server) AddSecurityGroup(account, region string, g SecurityGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g = copyGroup(g)
	s.ec2.region(account, region, true).groups[g.ID] = &g
}

// GroupHistory returns every set of security groups the ENI has had, the seeded one first.
func (s *Server) GroupHistory(account, region, eni string) [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.ec2.region(account, region, false)
	if r == nil {
		return nil
	}
	var out [][]string
	for _, h := range r.history[eni] {
		out = append(out, slices.Clone(h))
	}
	return out
}

// OpenConnection opens a tracked connection on the ENI (an attacker's shell, say), which
// security group changes do not end; see Connection.
func (s *Server) OpenConnection(account, region, eni string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ec2.region(account, region, true).conns[eni] = ConnTracked
}

// Connection says whether the connection OpenConnection opened on the ENI is still there:
// ConnTracked, ConnUntracked, or ConnNone once it was cut.
func (s *Server) Connection(account, region, eni string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.ec2.region(account, region, false); r != nil {
		return r.conns[eni]
	}
	return ConnNone
}

// registerEC2 registers the EC2 operations the fake serves.
func registerEC2(s *Server) {
	for op, h := range map[string]Handler{
		"DescribeInstances":                      ec2DescribeInstances,
		"DescribeInstanceAttribute":              ec2DescribeInstanceAttribute,
		"ModifyInstanceAttribute":                ec2ModifyInstanceAttribute,
		"ModifyNetworkInterfaceAttribute":        ec2ModifyNetworkInterfaceAttribute,
		"CreateTags":                             ec2CreateTags,
		"DeleteTags":                             ec2DeleteTags,
		"DescribeSecurityGroups":                 ec2DescribeSecurityGroups,
		"CreateSecurityGroup":                    ec2CreateSecurityGroup,
		"AuthorizeSecurityGroupIngress":          ec2AuthorizeIngress,
		"AuthorizeSecurityGroupEgress":           ec2AuthorizeEgress,
		"RevokeSecurityGroupEgress":              ec2RevokeEgress,
		"CreateSnapshots":                        ec2CreateSnapshots,
		"DescribeSnapshots":                      ec2DescribeSnapshots,
		"DescribeIamInstanceProfileAssociations": ec2DescribeProfileAssociations,
		"AssociateIamInstanceProfile":            ec2AssociateProfile,
		"DisassociateIamInstanceProfile":         ec2DisassociateProfile,
		"StopInstances":                          ec2StopInstances,
	} {
		s.Handle("ec2", op, h)
	}
}

// --- parameters in EC2's query dialect ---

// listParam reads prefix.1, prefix.2, ... up to the first missing index.
func listParam(p url.Values, prefix string) []string {
	var out []string
	for i := 1; p.Has(fmt.Sprintf("%s.%d", prefix, i)); i++ {
		out = append(out, p.Get(fmt.Sprintf("%s.%d", prefix, i)))
	}
	return out
}

// indexes returns 1..n where prefix.i.field is present for every i.
func indexes(p url.Values, prefix, field string) []int {
	var out []int
	for i := 1; p.Has(fmt.Sprintf("%s.%d.%s", prefix, i, field)); i++ {
		out = append(out, i)
	}
	return out
}

// ec2Filters reads Filter.N.Name / Filter.N.Value.M, refusing names the fake does not model
// so that a caller relying on one fails loudly instead of matching everything.
func ec2Filters(p url.Values, known ...string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, i := range indexes(p, "Filter", "Name") {
		name := p.Get(fmt.Sprintf("Filter.%d.Name", i))
		if !slices.Contains(known, name) && !(slices.Contains(known, "tag:") && strings.HasPrefix(name, "tag:")) {
			return nil, &APIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("The filter '%s' is invalid", name)}
		}
		out[name] = append(out[name], listParam(p, fmt.Sprintf("Filter.%d.Value", i))...)
	}
	return out, nil
}

// match reports whether v passes the filter (absent filters pass).
func match(f map[string][]string, name, v string) bool {
	want, ok := f[name]
	return !ok || slices.Contains(want, v)
}

type tagKV struct {
	key, value string
	hasValue   bool
}

func tagParams(p url.Values, prefix string) []tagKV {
	var out []tagKV
	for _, i := range indexes(p, prefix, "Key") {
		v := fmt.Sprintf("%s.%d.Value", prefix, i)
		out = append(out, tagKV{key: p.Get(fmt.Sprintf("%s.%d.Key", prefix, i)), value: p.Get(v), hasValue: p.Has(v)})
	}
	return out
}

var (
	instanceIDRe = regexp.MustCompile(`^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
	groupIDRe    = regexp.MustCompile(`^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
	eniIDRe      = regexp.MustCompile(`^eni-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
	vpcIDRe      = regexp.MustCompile(`^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
	profileARNRe = regexp.MustCompile(`^arn:aws:iam::(\d{12}):instance-profile/(?:.*/)?([\w+=,.@-]+)$`)
)

func malformed(code, id, want string) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf("Invalid id: %q (expecting %q)", id, want)}
}

// instancesByID resolves instance IDs the way EC2 does: malformed IDs first, then one error
// naming every unknown ID. s.mu must be held.
func (s *Server) instancesByID(r *Request, ids []string) ([]*Instance, error) {
	for _, id := range ids {
		if !instanceIDRe.MatchString(id) {
			return nil, malformed("InvalidInstanceID.Malformed", id, "i-...")
		}
	}
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	var out []*Instance
	var missing []string
	for _, id := range ids {
		var in *Instance
		if reg != nil {
			in = reg.instances[id]
		}
		if in == nil {
			missing = append(missing, id)
			continue
		}
		out = append(out, in)
	}
	switch len(missing) {
	case 0:
		return out, nil
	case 1:
		return nil, &APIError{Code: "InvalidInstanceID.NotFound", Message: fmt.Sprintf("The instance ID '%s' does not exist", missing[0])}
	}
	return nil, &APIError{Code: "InvalidInstanceID.NotFound", Message: fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(missing, ", "))}
}

func (s *Server) instanceByID(r *Request, id string) (*Instance, *ec2Region, error) {
	if id == "" {
		return nil, nil, &APIError{Code: "MissingParameter", Message: "The request must contain the parameter InstanceId"}
	}
	ins, err := s.instancesByID(r, []string{id})
	if err != nil {
		return nil, nil, err
	}
	return ins[0], s.ec2.region(r.Caller.Account, r.Region, false), nil
}

// --- replies (EC2's lowerCamel XML, lists as <item>) ---

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func xmlTags(t map[string]string) []xmlTag {
	var out []xmlTag
	for _, k := range slices.Sorted(maps.Keys(t)) {
		out = append(out, xmlTag{k, t[k]})
	}
	return out
}

type xmlGroupRef struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type xmlState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

func xmlInstanceState(name string) xmlState { return xmlState{stateCodes[name], name} }

type xmlProfile struct {
	ARN string `xml:"arn"`
	ID  string `xml:"id"`
}

// profileID derives a stable instance profile ID (AIPA...) from its ARN.
func profileID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return "AIPA" + strings.ToUpper(hex.EncodeToString(sum[:]))[:17]
}

type xmlENI struct {
	ID         string        `xml:"networkInterfaceId"`
	SubnetID   string        `xml:"subnetId"`
	VPCID      string        `xml:"vpcId"`
	OwnerID    string        `xml:"ownerId"`
	Status     string        `xml:"status"`
	PrivateIP  string        `xml:"privateIpAddress"`
	Groups     []xmlGroupRef `xml:"groupSet>item"`
	Attachment struct {
		DeviceIndex int    `xml:"deviceIndex"`
		Status      string `xml:"status"`
	} `xml:"attachment"`
}

type xmlBlockDevice struct {
	DeviceName string `xml:"deviceName"`
	EBS        struct {
		VolumeID            string `xml:"volumeId"`
		Status              string `xml:"status"`
		DeleteOnTermination bool   `xml:"deleteOnTermination"`
	} `xml:"ebs"`
}

type xmlInstance struct {
	ID             string           `xml:"instanceId"`
	State          xmlState         `xml:"instanceState"`
	VPCID          string           `xml:"vpcId,omitempty"`
	SubnetID       string           `xml:"subnetId,omitempty"`
	PrivateIP      string           `xml:"privateIpAddress,omitempty"`
	PublicIP       string           `xml:"ipAddress,omitempty"`
	RootDeviceName string           `xml:"rootDeviceName"`
	RootDeviceType string           `xml:"rootDeviceType"`
	Groups         []xmlGroupRef    `xml:"groupSet>item"`
	Profile        *xmlProfile      `xml:"iamInstanceProfile,omitempty"`
	BlockDevices   []xmlBlockDevice `xml:"blockDeviceMapping>item"`
	ENIs           []xmlENI         `xml:"networkInterfaceSet>item"`
	Tags           []xmlTag         `xml:"tagSet>item"`
}

type xmlReservation struct {
	ID        string        `xml:"reservationId"`
	OwnerID   string        `xml:"ownerId"`
	Instances []xmlInstance `xml:"instancesSet>item"`
}

type describeInstancesResult struct {
	Reservations []xmlReservation `xml:"reservationSet>item"`
}

type returnResult struct {
	Return bool `xml:"return"`
}

func (reg *ec2Region) groupRefs(ids []string) []xmlGroupRef {
	var out []xmlGroupRef
	for _, id := range ids {
		ref := xmlGroupRef{GroupID: id}
		if g := reg.groups[id]; g != nil {
			ref.GroupName = g.Name
		}
		out = append(out, ref)
	}
	return out
}

func (reg *ec2Region) xmlInstance(account string, in *Instance) xmlInstance {
	x := xmlInstance{ID: in.ID, State: xmlInstanceState(in.State), VPCID: in.VPCID, SubnetID: in.SubnetID,
		PrivateIP: in.PrivateIP, PublicIP: in.PublicIP, RootDeviceName: in.RootDeviceName, RootDeviceType: in.RootDeviceType,
		Tags: xmlTags(in.Tags)}
	if in.InstanceProfileARN != "" {
		x.Profile = &xmlProfile{ARN: in.InstanceProfileARN, ID: profileID(in.InstanceProfileARN)}
	}
	for i, e := range in.NetworkInterfaces {
		xe := xmlENI{ID: e.ID, SubnetID: in.SubnetID, VPCID: in.VPCID, OwnerID: account, Status: "in-use",
			PrivateIP: e.PrivateIP, Groups: reg.groupRefs(e.SecurityGroups)}
		xe.Attachment.DeviceIndex, xe.Attachment.Status = i, "attached"
		x.ENIs = append(x.ENIs, xe)
		if i == 0 {
			// The instance's own group set is its primary interface's.
			x.Groups = reg.groupRefs(e.SecurityGroups)
		}
	}
	for _, v := range in.Volumes {
		var b xmlBlockDevice
		b.DeviceName, b.EBS.VolumeID, b.EBS.Status, b.EBS.DeleteOnTermination = v.DeviceName, v.ID, "attached", v.DeviceName == in.RootDeviceName
		x.BlockDevices = append(x.BlockDevices, b)
	}
	return x
}

// --- instances ---

func ec2DescribeInstances(s *Server, r *Request) (any, error) {
	if _, err := ec2Filters(r.Params); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := listParam(r.Params, "InstanceId")
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	var ins []*Instance
	if len(ids) > 0 {
		var err error
		if ins, err = s.instancesByID(r, ids); err != nil {
			return nil, err
		}
	} else if reg != nil {
		for _, id := range slices.Sorted(maps.Keys(reg.instances)) {
			ins = append(ins, reg.instances[id])
		}
	}
	var out describeInstancesResult
	for _, in := range ins {
		// One reservation per instance: the fake does not model launches.
		out.Reservations = append(out.Reservations, xmlReservation{ID: "r-" + strings.TrimPrefix(in.ID, "i-"),
			OwnerID: r.Caller.Account, Instances: []xmlInstance{reg.xmlInstance(r.Caller.Account, in)}})
	}
	return out, nil
}

type xmlBool struct {
	Value bool `xml:"value"`
}

type instanceAttributeResult struct {
	InstanceID            string   `xml:"instanceId"`
	DisableAPITermination *xmlBool `xml:"disableApiTermination,omitempty"`
}

func ec2DescribeInstanceAttribute(s *Server, r *Request) (any, error) {
	attr := r.Params.Get("Attribute")
	if attr != "disableApiTermination" {
		return nil, &APIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("awsfake models only the disableApiTermination attribute, not %q", attr)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, _, err := s.instanceByID(r, r.Params.Get("InstanceId"))
	if err != nil {
		return nil, err
	}
	return instanceAttributeResult{InstanceID: in.ID, DisableAPITermination: &xmlBool{in.TerminationProtection}}, nil
}

func ec2ModifyInstanceAttribute(s *Server, r *Request) (any, error) {
	v := r.Params.Get("DisableApiTermination.Value")
	if r.Params.Get("Attribute") == "disableApiTermination" {
		v = r.Params.Get("Value")
	}
	on, perr := strconv.ParseBool(v)
	if perr != nil {
		return nil, &APIError{Code: "InvalidParameterCombination", Message: "awsfake models only DisableApiTermination (true or false)"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, _, err := s.instanceByID(r, r.Params.Get("InstanceId"))
	if err != nil {
		return nil, err
	}
	in.TerminationProtection = on
	return returnResult{true}, nil
}

// instanceStoppable answers what StopInstances answers for in, or nil.
func instanceStoppable(in *Instance) *APIError {
	if in.RootDeviceType != "ebs" {
		return &APIError{Code: "UnsupportedOperation", Message: fmt.Sprintf("The instance '%s' does not have an 'ebs' root device type and cannot be stopped.", in.ID)}
	}
	switch in.State {
	case "running", "stopping", "stopped":
		return nil
	}
	return &APIError{Code: "IncorrectInstanceState", Message: fmt.Sprintf("The instance '%s' is not in a state from which it can be stopped.", in.ID)}
}

type xmlStateChange struct {
	ID       string   `xml:"instanceId"`
	Current  xmlState `xml:"currentState"`
	Previous xmlState `xml:"previousState"`
}

type stopInstancesResult struct {
	Instances []xmlStateChange `xml:"instancesSet>item"`
}

func ec2StopInstances(s *Server, r *Request) (any, error) {
	ids := listParam(r.Params, "InstanceId")
	if len(ids) == 0 {
		return nil, &APIError{Code: "MissingParameter", Message: "The request must contain the parameter InstanceId"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ins, err := s.instancesByID(r, ids)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if e := instanceStoppable(in); e != nil {
			return nil, e
		}
	}
	var out stopInstancesResult
	for _, in := range ins {
		prev := in.State
		cur := "stopping"
		if prev == "stopped" {
			cur = "stopped"
		}
		// The fake has no clock: the instance is stopped at once, while the reply says
		// "stopping" as AWS's does.
		in.State = "stopped"
		out.Instances = append(out.Instances, xmlStateChange{ID: in.ID, Current: xmlInstanceState(cur), Previous: xmlInstanceState(prev)})
	}
	return out, nil
}

// --- tags ---

// tagTarget finds a taggable resource's tag map (creating it), or answers AWS's not-found.
// s.mu must be held.
func (s *Server) tagTarget(r *Request, id string) (*map[string]string, error) {
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	switch {
	case strings.HasPrefix(id, "i-"):
		in, _, err := s.instanceByID(r, id)
		if err != nil {
			return nil, err
		}
		return &in.Tags, nil
	case strings.HasPrefix(id, "snap-"):
		if reg != nil && reg.snapshots[id] != nil {
			return &reg.snapshots[id].Tags, nil
		}
		return nil, &APIError{Code: "InvalidSnapshot.NotFound", Message: fmt.Sprintf("The snapshot '%s' does not exist.", id)}
	}
	return nil, &APIError{Code: "InvalidID", Message: fmt.Sprintf("The ID '%s' is not valid", id)}
}

func validateTag(t tagKV) error {
	switch {
	case t.key == "" || len([]rune(t.key)) > 128:
		return &APIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("Tag key '%s' must be between 1 and 128 characters", t.key)}
	case strings.HasPrefix(strings.ToLower(t.key), "aws:"):
		return &APIError{Code: "InvalidParameterValue", Message: "Tag keys starting with 'aws:' are reserved for internal use"}
	case len([]rune(t.value)) > 256:
		return &APIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("Tag value for key '%s' exceeds the maximum length of 256 characters", t.key)}
	}
	return nil
}

func ec2CreateTags(s *Server, r *Request) (any, error) {
	ids, tags := listParam(r.Params, "ResourceId"), tagParams(r.Params, "Tag")
	if len(ids) == 0 || len(tags) == 0 {
		return nil, &APIError{Code: "MissingParameter", Message: "The request must contain the parameters ResourceId and Tag"}
	}
	for _, t := range tags {
		if err := validateTag(t); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// All resources are checked before any is tagged: the call is all or nothing.
	var targets []*map[string]string
	for _, id := range ids {
		m, err := s.tagTarget(r, id)
		if err != nil {
			return nil, err
		}
		n := len(*m)
		for _, t := range tags {
			if _, ok := (*m)[t.key]; !ok {
				n++
			}
		}
		if n > 50 {
			return nil, &APIError{Code: "TagLimitExceeded", Message: fmt.Sprintf("The maximum number of tags for resource '%s' has been reached.", id)}
		}
		targets = append(targets, m)
	}
	for _, m := range targets {
		if *m == nil {
			*m = map[string]string{}
		}
		for _, t := range tags {
			(*m)[t.key] = t.value
		}
	}
	return returnResult{true}, nil
}

func ec2DeleteTags(s *Server, r *Request) (any, error) {
	ids, tags := listParam(r.Params, "ResourceId"), tagParams(r.Params, "Tag")
	if len(ids) == 0 {
		return nil, &APIError{Code: "MissingParameter", Message: "The request must contain the parameter ResourceId"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var targets []*map[string]string
	for _, id := range ids {
		m, err := s.tagTarget(r, id)
		if err != nil {
			return nil, err
		}
		targets = append(targets, m)
	}
	for _, m := range targets {
		if len(tags) == 0 {
			// No Tag parameter deletes every tag, as in AWS.
			*m = map[string]string{}
		}
		for _, t := range tags {
			// A value given deletes the tag only when it matches.
			if v, ok := (*m)[t.key]; ok && (!t.hasValue || v == t.value) {
				delete(*m, t.key)
			}
		}
	}
	return returnResult{true}, nil
}

// --- network interfaces and connection tracking ---

// allOpen says whether groups together allow all traffic in and out for IPv4 and IPv6, which
// is what makes AWS stop tracking connections.
func (reg *ec2Region) allOpen(groups []string) bool {
	has := func(rules func(*SecurityGroup) []Rule, cidr string) bool {
		for _, id := range groups {
			for _, rl := range rules(reg.groups[id]) {
				if rl.Protocol == "-1" && rl.CIDR == cidr {
					return true
				}
			}
		}
		return false
	}
	in := func(g *SecurityGroup) []Rule { return g.Ingress }
	out := func(g *SecurityGroup) []Rule { return g.Egress }
	return has(in, "0.0.0.0/0") && has(in, "::/0") && has(out, "0.0.0.0/0") && has(out, "::/0")
}

func ec2ModifyNetworkInterfaceAttribute(s *Server, r *Request) (any, error) {
	id, groups := r.Params.Get("NetworkInterfaceId"), listParam(r.Params, "SecurityGroupId")
	if !eniIDRe.MatchString(id) {
		return nil, malformed("InvalidNetworkInterfaceId.Malformed", id, "eni-...")
	}
	if len(groups) == 0 {
		return nil, &APIError{Code: "InvalidParameterCombination", Message: "awsfake models only the SecurityGroupId attribute of network interfaces"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	var owner *Instance
	var eni *NetworkInterface
	if reg != nil {
		for _, in := range reg.instances {
			for i := range in.NetworkInterfaces {
				if in.NetworkInterfaces[i].ID == id {
					owner, eni = in, &in.NetworkInterfaces[i]
				}
			}
		}
	}
	if eni == nil {
		return nil, &APIError{Code: "InvalidNetworkInterfaceID.NotFound", Message: fmt.Sprintf("The networkInterface ID '%s' does not exist", id)}
	}
	for _, g := range groups {
		if !groupIDRe.MatchString(g) {
			return nil, malformed("InvalidGroupId.Malformed", g, "sg-...")
		}
		sg := reg.groups[g]
		if sg == nil {
			return nil, &APIError{Code: "InvalidGroup.NotFound", Message: fmt.Sprintf("The security group '%s' does not exist", g)}
		}
		if sg.VPCID != owner.VPCID {
			return nil, &APIError{Code: "InvalidParameter", Message: fmt.Sprintf("Security group %s and subnet %s belong to different networks.", g, owner.SubnetID)}
		}
	}
	eni.SecurityGroups = slices.Clone(groups)
	reg.history[id] = append(reg.history[id], slices.Clone(groups))
	open := reg.allOpen(groups)
	switch reg.conns[id] {
	case ConnTracked:
		if open {
			reg.conns[id] = ConnUntracked
		}
	case ConnUntracked:
		if !open {
			delete(reg.conns, id)
		}
	}
	return returnResult{true}, nil
}

// --- security groups ---

type xmlRange struct {
	CIDR string `xml:"cidrIp"`
}

type xmlRange6 struct {
	CIDR string `xml:"cidrIpv6"`
}

type xmlPermission struct {
	Protocol string      `xml:"ipProtocol"`
	FromPort *int        `xml:"fromPort,omitempty"`
	ToPort   *int        `xml:"toPort,omitempty"`
	Ranges   []xmlRange  `xml:"ipRanges>item"`
	Ranges6  []xmlRange6 `xml:"ipv6Ranges>item"`
}

type xmlSecurityGroup struct {
	OwnerID     string          `xml:"ownerId"`
	ID          string          `xml:"groupId"`
	Name        string          `xml:"groupName"`
	Description string          `xml:"groupDescription"`
	VPCID       string          `xml:"vpcId"`
	Ingress     []xmlPermission `xml:"ipPermissions>item"`
	Egress      []xmlPermission `xml:"ipPermissionsEgress>item"`
}

type describeSecurityGroupsResult struct {
	Groups []xmlSecurityGroup `xml:"securityGroupInfo>item"`
}

// xmlPermissions groups rules by protocol and ports, as AWS describes them.
func xmlPermissions(rules []Rule) []xmlPermission {
	var out []xmlPermission
	idx := map[[3]string]int{}
	for _, rl := range rules {
		k := [3]string{rl.Protocol, strconv.Itoa(rl.FromPort), strconv.Itoa(rl.ToPort)}
		i, ok := idx[k]
		if !ok {
			p := xmlPermission{Protocol: rl.Protocol}
			if rl.Protocol != "-1" {
				from, to := rl.FromPort, rl.ToPort
				p.FromPort, p.ToPort = &from, &to
			}
			out = append(out, p)
			i = len(out) - 1
			idx[k] = i
		}
		if strings.Contains(rl.CIDR, ":") {
			out[i].Ranges6 = append(out[i].Ranges6, xmlRange6{rl.CIDR})
		} else {
			out[i].Ranges = append(out[i].Ranges, xmlRange{rl.CIDR})
		}
	}
	return out
}

func ec2DescribeSecurityGroups(s *Server, r *Request) (any, error) {
	f, err := ec2Filters(r.Params, "group-name", "vpc-id", "group-id")
	if err != nil {
		return nil, err
	}
	if len(listParam(r.Params, "GroupName")) > 0 {
		return nil, &APIError{Code: "InvalidParameterValue", Message: "awsfake models VPC security groups only: find them by the group-name filter"}
	}
	ids := listParam(r.Params, "GroupId")
	s.mu.Lock()
	defer s.mu.Unlock()
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	for _, id := range ids {
		if !groupIDRe.MatchString(id) {
			return nil, malformed("InvalidGroupId.Malformed", id, "sg-...")
		}
		if reg == nil || reg.groups[id] == nil {
			return nil, &APIError{Code: "InvalidGroup.NotFound", Message: fmt.Sprintf("The security group '%s' does not exist", id)}
		}
	}
	var out describeSecurityGroupsResult
	if reg == nil {
		return out, nil
	}
	for _, id := range slices.Sorted(maps.Keys(reg.groups)) {
		g := reg.groups[id]
		if (len(ids) > 0 && !slices.Contains(ids, id)) || !match(f, "group-name", g.Name) || !match(f, "vpc-id", g.VPCID) || !match(f, "group-id", id) {
			continue
		}
		out.Groups = append(out.Groups, xmlSecurityGroup{OwnerID: r.Caller.Account, ID: g.ID, Name: g.Name, Description: g.Description,
			VPCID: g.VPCID, Ingress: xmlPermissions(g.Ingress), Egress: xmlPermissions(g.Egress)})
	}
	return out, nil
}

type createSecurityGroupResult struct {
	GroupID string `xml:"groupId"`
}

func ec2CreateSecurityGroup(s *Server, r *Request) (any, error) {
	name, desc, vpc := r.Params.Get("GroupName"), r.Params.Get("GroupDescription"), r.Params.Get("VpcId")
	switch {
	case name == "" || desc == "":
		return nil, &APIError{Code: "MissingParameter", Message: "The request must contain the parameters GroupName and GroupDescription"}
	case vpc == "":
		return nil, &APIError{Code: "VPCIdNotSpecified", Message: "No default VPC for this user"}
	case !vpcIDRe.MatchString(vpc):
		return nil, malformed("InvalidVpcID.Malformed", vpc, "vpc-...")
	case strings.HasPrefix(name, "sg-") || len(name) > 255:
		return nil, &APIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("Invalid value '%s' for groupName.", name)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	reg := s.ec2.region(r.Caller.Account, r.Region, true)
	for _, g := range reg.groups {
		if g.VPCID == vpc && g.Name == name {
			return nil, &APIError{Code: "InvalidGroup.Duplicate", Message: fmt.Sprintf("The security group '%s' already exists for VPC '%s'", name, vpc)}
		}
	}
	g := &SecurityGroup{ID: s.ec2.id("sg"), Name: name, Description: desc, VPCID: vpc,
		Ingress: []Rule{}, Egress: []Rule{{Protocol: "-1", CIDR: "0.0.0.0/0"}}}
	reg.groups[g.ID] = g
	return createSecurityGroupResult{g.ID}, nil
}

// permissionParams expands IpPermissions.N into one Rule per CIDR.
func permissionParams(p url.Values) ([]Rule, error) {
	var out []Rule
	for _, i := range indexes(p, "IpPermissions", "IpProtocol") {
		pre := fmt.Sprintf("IpPermissions.%d.", i)
		proto := strings.ToLower(p.Get(pre + "IpProtocol"))
		if proto == "all" {
			proto = "-1"
		}
		var from, to int
		if proto != "-1" {
			var err1, err2 error
			from, err1 = strconv.Atoi(p.Get(pre + "FromPort"))
			to, err2 = strconv.Atoi(p.Get(pre + "ToPort"))
			if err1 != nil || err2 != nil {
				return nil, &APIError{Code: "InvalidParameterValue", Message: "Invalid value for portRange. Must specify both from and to ports with TCP/UDP."}
			}
		}
		cidrs := slices.Concat(indexedField(p, pre+"IpRanges", "CidrIp"), indexedField(p, pre+"Ipv6Ranges", "CidrIpv6"))
		if len(cidrs) == 0 {
			return nil, &APIError{Code: "InvalidParameterValue", Message: "awsfake models CIDR rules only (no group or prefix list peers)"}
		}
		for _, c := range cidrs {
			out = append(out, Rule{Protocol: proto, FromPort: from, ToPort: to, CIDR: c})
		}
	}
	if len(out) == 0 {
		return nil, &APIError{Code: "MissingParameter", Message: "The request must contain the parameter ipPermissions"}
	}
	return out, nil
}

func indexedField(p url.Values, prefix, field string) []string {
	var out []string
	for _, i := range indexes(p, prefix, field) {
		out = append(out, p.Get(fmt.Sprintf("%s.%d.%s", prefix, i, field)))
	}
	return out
}

// groupForRules resolves GroupId for the rule operations; s.mu must be held.
func (s *Server) groupForRules(r *Request) (*SecurityGroup, error) {
	id := r.Params.Get("GroupId")
	if !groupIDRe.MatchString(id) {
		return nil, malformed("InvalidGroupId.Malformed", id, "sg-...")
	}
	if reg := s.ec2.region(r.Caller.Account, r.Region, false); reg != nil && reg.groups[id] != nil {
		return reg.groups[id], nil
	}
	return nil, &APIError{Code: "InvalidGroup.NotFound", Message: fmt.Sprintf("The security group '%s' does not exist", id)}
}

func ruleText(rl Rule) string {
	if rl.Protocol == "-1" {
		return fmt.Sprintf("peer: %s, ALL, ALLOW", rl.CIDR)
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", rl.CIDR, strings.ToUpper(rl.Protocol), rl.FromPort, rl.ToPort)
}

func authorize(s *Server, r *Request, egress bool) (any, error) {
	rules, err := permissionParams(r.Params)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.groupForRules(r)
	if err != nil {
		return nil, err
	}
	have := &g.Ingress
	if egress {
		have = &g.Egress
	}
	// All or nothing: one rule that exists fails the whole call, as in AWS.
	for _, rl := range rules {
		if slices.Contains(*have, rl) {
			return nil, &APIError{Code: "InvalidPermission.Duplicate", Message: fmt.Sprintf("the specified rule %q already exists", ruleText(rl))}
		}
	}
	*have = append(*have, rules...)
	return returnResult{true}, nil
}

func ec2AuthorizeIngress(s *Server, r *Request) (any, error) { return authorize(s, r, false) }
func ec2AuthorizeEgress(s *Server, r *Request) (any, error)  { return authorize(s, r, true) }

type revokeResult struct {
	Return  bool            `xml:"return"`
	Unknown []xmlPermission `xml:"unknownIpPermissionSet>item"`
}

func ec2RevokeEgress(s *Server, r *Request) (any, error) {
	rules, err := permissionParams(r.Params)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.groupForRules(r)
	if err != nil {
		return nil, err
	}
	// Rules that are not there are not an error: AWS lists them as unknown.
	var unknown []Rule
	for _, rl := range rules {
		i := slices.Index(g.Egress, rl)
		if i < 0 {
			unknown = append(unknown, rl)
			continue
		}
		g.Egress = slices.Delete(g.Egress, i, i+1)
	}
	return revokeResult{Return: true, Unknown: xmlPermissions(unknown)}, nil
}

// --- snapshots ---

type xmlSnapshot struct {
	ID          string   `xml:"snapshotId"`
	VolumeID    string   `xml:"volumeId"`
	State       string   `xml:"state,omitempty"`  // SnapshotInfo (CreateSnapshots)
	Status      string   `xml:"status,omitempty"` // Snapshot (DescribeSnapshots)
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	VolumeSize  int      `xml:"volumeSize"`
	Description string   `xml:"description"`
	Tags        []xmlTag `xml:"tagSet>item"`
}

type snapshotsResult struct {
	Snapshots []xmlSnapshot `xml:"snapshotSet>item"`
}

// snapshotTime is every snapshot's start: the fake has no clock, and no outcome depends on it.
const snapshotTime = "2026-01-01T00:00:00.000Z"

func ec2CreateSnapshots(s *Server, r *Request) (any, error) {
	p := r.Params
	var tags []tagKV
	for _, i := range indexes(p, "TagSpecification", "ResourceType") {
		if rt := p.Get(fmt.Sprintf("TagSpecification.%d.ResourceType", i)); rt != "snapshot" {
			return nil, &APIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("'%s' is not a valid taggable resource type for this operation.", rt)}
		}
		tags = append(tags, tagParams(p, fmt.Sprintf("TagSpecification.%d.Tag", i))...)
	}
	for _, t := range tags {
		if err := validateTag(t); err != nil {
			return nil, err
		}
	}
	excludeBoot, _ := strconv.ParseBool(p.Get("InstanceSpecification.ExcludeBootVolume"))
	excluded := listParam(p, "InstanceSpecification.ExcludeDataVolumeId")
	s.mu.Lock()
	defer s.mu.Unlock()
	in, reg, err := s.instanceByID(r, p.Get("InstanceSpecification.InstanceId"))
	if err != nil {
		return nil, err
	}
	if in.State == "terminated" || in.State == "shutting-down" {
		return nil, &APIError{Code: "IncorrectState", Message: fmt.Sprintf("The instance '%s' is not in a state from which snapshots can be created.", in.ID)}
	}
	var out snapshotsResult
	for _, v := range in.Volumes {
		boot := v.DeviceName == in.RootDeviceName
		if (boot && excludeBoot) || (!boot && slices.Contains(excluded, v.ID)) {
			continue
		}
		sn := &Snapshot{ID: s.ec2.id("snap"), VolumeID: v.ID, OwnerID: r.Caller.Account, Description: p.Get("Description"),
			State: "completed", SizeGiB: v.SizeGiB, Tags: map[string]string{}}
		for _, t := range tags {
			sn.Tags[t.key] = t.value
		}
		reg.snapshots[sn.ID] = sn
		x := xmlSnap(sn)
		x.State = sn.State
		out.Snapshots = append(out.Snapshots, x)
	}
	return out, nil
}

func xmlSnap(sn *Snapshot) xmlSnapshot {
	return xmlSnapshot{ID: sn.ID, VolumeID: sn.VolumeID, StartTime: snapshotTime, Progress: "100%",
		OwnerID: sn.OwnerID, VolumeSize: sn.SizeGiB, Description: sn.Description, Tags: xmlTags(sn.Tags)}
}

func ec2DescribeSnapshots(s *Server, r *Request) (any, error) {
	f, err := ec2Filters(r.Params, "volume-id", "tag:", "snapshot-id")
	if err != nil {
		return nil, err
	}
	owners, ids := listParam(r.Params, "Owner"), listParam(r.Params, "SnapshotId")
	s.mu.Lock()
	defer s.mu.Unlock()
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	for _, id := range ids {
		if reg == nil || reg.snapshots[id] == nil {
			return nil, &APIError{Code: "InvalidSnapshot.NotFound", Message: fmt.Sprintf("The snapshot '%s' does not exist.", id)}
		}
	}
	var out snapshotsResult
	if reg == nil {
		return out, nil
	}
	for _, id := range slices.Sorted(maps.Keys(reg.snapshots)) {
		sn := reg.snapshots[id]
		ok := (len(ids) == 0 || slices.Contains(ids, id)) && match(f, "volume-id", sn.VolumeID) && match(f, "snapshot-id", id)
		if len(owners) > 0 && !slices.Contains(owners, "self") && !slices.Contains(owners, sn.OwnerID) {
			ok = false
		}
		for name, want := range f {
			if k, isTag := strings.CutPrefix(name, "tag:"); isTag {
				v, has := sn.Tags[k]
				ok = ok && has && slices.Contains(want, v)
			}
		}
		if ok {
			x := xmlSnap(sn)
			x.Status = sn.State
			out.Snapshots = append(out.Snapshots, x)
		}
	}
	return out, nil
}

// --- instance profile associations ---

type xmlAssociation struct {
	ID         string     `xml:"associationId"`
	InstanceID string     `xml:"instanceId"`
	Profile    xmlProfile `xml:"iamInstanceProfile"`
	State      string     `xml:"state"`
}

type associationsResult struct {
	Associations []xmlAssociation `xml:"iamInstanceProfileAssociationSet>item"`
}

type associationResult struct {
	Association xmlAssociation `xml:"iamInstanceProfileAssociation"`
}

func ec2DescribeProfileAssociations(s *Server, r *Request) (any, error) {
	f, err := ec2Filters(r.Params, "instance-id", "state")
	if err != nil {
		return nil, err
	}
	ids := listParam(r.Params, "AssociationId")
	s.mu.Lock()
	defer s.mu.Unlock()
	var out associationsResult
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	if reg == nil {
		return out, nil
	}
	for _, inst := range slices.Sorted(maps.Keys(reg.assoc)) {
		in, id := reg.instances[inst], reg.assoc[inst]
		if (len(ids) > 0 && !slices.Contains(ids, id)) || !match(f, "instance-id", inst) || !match(f, "state", "associated") {
			continue
		}
		out.Associations = append(out.Associations, xmlAssociation{ID: id, InstanceID: inst, State: "associated",
			Profile: xmlProfile{ARN: in.InstanceProfileARN, ID: profileID(in.InstanceProfileARN)}})
	}
	return out, nil
}

func ec2AssociateProfile(s *Server, r *Request) (any, error) {
	arn, name := r.Params.Get("IamInstanceProfile.Arn"), r.Params.Get("IamInstanceProfile.Name")
	if arn == "" && name != "" {
		arn = fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s", r.Caller.Account, name)
	}
	if !profileARNRe.MatchString(arn) {
		return nil, &APIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("Value (%s) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN", arn)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, reg, err := s.instanceByID(r, r.Params.Get("InstanceId"))
	if err != nil {
		return nil, err
	}
	if in.State != "running" && in.State != "stopped" {
		return nil, &APIError{Code: "IncorrectInstanceState", Message: fmt.Sprintf("The instance '%s' is not in the 'running' or 'stopped' states.", in.ID)}
	}
	if reg.assoc[in.ID] != "" {
		return nil, &APIError{Code: "IncorrectState", Message: fmt.Sprintf("There is an existing association for instance %s", in.ID)}
	}
	// The fake does not check the profile against IAM's state: that belongs to the IAM fake,
	// and AWS itself answers before the profile is resolved.
	in.InstanceProfileARN = arn
	reg.assoc[in.ID] = s.ec2.id("iip-assoc")
	return associationResult{xmlAssociation{ID: reg.assoc[in.ID], InstanceID: in.ID, State: "associating",
		Profile: xmlProfile{ARN: arn, ID: profileID(arn)}}}, nil
}

func ec2DisassociateProfile(s *Server, r *Request) (any, error) {
	id := r.Params.Get("AssociationId")
	s.mu.Lock()
	defer s.mu.Unlock()
	if reg := s.ec2.region(r.Caller.Account, r.Region, false); reg != nil {
		for inst, a := range reg.assoc {
			if a != id {
				continue
			}
			in := reg.instances[inst]
			out := associationResult{xmlAssociation{ID: id, InstanceID: inst, State: "disassociating",
				Profile: xmlProfile{ARN: in.InstanceProfileARN, ID: profileID(in.InstanceProfileARN)}}}
			delete(reg.assoc, inst)
			in.InstanceProfileARN = ""
			return out, nil
		}
	}
	return nil, &APIError{Code: "InvalidAssociationID.NotFound", Message: fmt.Sprintf("An association with ID %s does not exist.", id)}
}
