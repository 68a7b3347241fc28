package awsfake

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// AutoScalingGroup is an Auto Scaling group's sizes, as tests seed it and as State shows it.
// Its members are the instances whose AutoScalingGroup names it. The fake launches and
// terminates nothing: a detached instance is not replaced, and a desired capacity below the
// member count terminates nobody; what matters to the actions is the group's settings and
// membership.
type AutoScalingGroup struct {
	Name            string
	MinSize         int
	MaxSize         int
	DesiredCapacity int
}

// AutoScalingState is State().AutoScaling: groups by "account/region", then by name.
type AutoScalingState struct {
	Regions map[string]map[string]AutoScalingGroup
}

// asgState is the fake's AutoScaling state; the Server's mutex guards it.
type asgState struct {
	regions map[string]map[string]*AutoScalingGroup
}

func newAutoScalingState() *asgState {
	return &asgState{regions: map[string]map[string]*AutoScalingGroup{}}
}

func (st *asgState) group(account, region, name string) *AutoScalingGroup {
	return st.regions[regionKey(account, region)][name]
}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *asgState) snapshot() any {
	out := AutoScalingState{Regions: map[string]map[string]AutoScalingGroup{}}
	for k, gs := range st.regions {
		cp := map[string]AutoScalingGroup{}
		for n, g := range gs {
			cp[n] = *g
		}
		out.Regions[k] = cp
	}
	return out
}

// AddAutoScalingGroup seeds a group; add it before the instances that belong to it.
func (s *Server) AddAutoScalingGroup(account, region string, g AutoScalingGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := regionKey(account, region)
	if s.asg.regions[k] == nil {
		s.asg.regions[k] = map[string]*AutoScalingGroup{}
	}
	s.asg.regions[k][g.Name] = &g
}

// registerAutoScaling registers the AutoScaling operations the fake serves.
func registerAutoScaling(s *Server) {
	s.Handle("autoscaling", "DescribeAutoScalingInstances", asgDescribeInstances)
	s.Handle("autoscaling", "DescribeAutoScalingGroups", asgDescribeGroups)
	s.Handle("autoscaling", "DetachInstances", asgDetachInstances)
	s.Handle("autoscaling", "AttachInstances", asgAttachInstances)
	s.Handle("autoscaling", "UpdateAutoScalingGroup", asgUpdateGroup)
}

// members lists the group's instances, sorted; s.mu must be held.
func (s *Server) asgMembers(account, region, name string) []*Instance {
	var out []*Instance
	if reg := s.ec2.region(account, region, false); reg != nil {
		for _, id := range slices.Sorted(maps.Keys(reg.instances)) {
			if in := reg.instances[id]; in.AutoScalingGroup == name {
				out = append(out, in)
			}
		}
	}
	return out
}

// asgGroup finds AutoScalingGroupName or answers AWS's ValidationError; s.mu must be held.
func (s *Server) asgGroup(r *Request) (*AutoScalingGroup, error) {
	name := r.Params.Get("AutoScalingGroupName")
	if g := s.asg.group(r.Caller.Account, r.Region, name); g != nil {
		return g, nil
	}
	return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)}
}

type asgInstanceDetails struct {
	InstanceID           string `xml:"InstanceId"`
	AutoScalingGroupName string `xml:"AutoScalingGroupName"`
	AvailabilityZone     string `xml:"AvailabilityZone"`
	LifecycleState       string `xml:"LifecycleState"`
	HealthStatus         string `xml:"HealthStatus"`
	ProtectedFromScaleIn bool   `xml:"ProtectedFromScaleIn"`
}

type describeASGInstancesResult struct {
	Instances []asgInstanceDetails `xml:"AutoScalingInstances>member"`
}

func asgDescribeInstances(s *Server, r *Request) (any, error) {
	ids := memberList(r.Params, "InstanceIds")
	if len(ids) > 50 {
		return nil, &APIError{Code: "ValidationError", Message: "The number of instance ids that may be passed in is limited to 50"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out describeASGInstancesResult
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	if reg == nil {
		return out, nil
	}
	// Instances in no group (or unknown) are simply absent from the answer, as in AWS.
	for _, id := range ids {
		if in := reg.instances[id]; in != nil && in.AutoScalingGroup != "" {
			out.Instances = append(out.Instances, asgInstanceDetails{InstanceID: id, AutoScalingGroupName: in.AutoScalingGroup,
				AvailabilityZone: r.Region + "a", LifecycleState: "InService", HealthStatus: "HEALTHY"})
		}
	}
	return out, nil
}

type asgMember struct {
	InstanceID           string `xml:"InstanceId"`
	AvailabilityZone     string `xml:"AvailabilityZone"`
	LifecycleState       string `xml:"LifecycleState"`
	HealthStatus         string `xml:"HealthStatus"`
	ProtectedFromScaleIn bool   `xml:"ProtectedFromScaleIn"`
}

type asgGroupXML struct {
	Name              string      `xml:"AutoScalingGroupName"`
	ARN               string      `xml:"AutoScalingGroupARN"`
	MinSize           int         `xml:"MinSize"`
	MaxSize           int         `xml:"MaxSize"`
	DesiredCapacity   int         `xml:"DesiredCapacity"`
	DefaultCooldown   int         `xml:"DefaultCooldown"`
	AvailabilityZones []string    `xml:"AvailabilityZones>member"`
	HealthCheckType   string      `xml:"HealthCheckType"`
	CreatedTime       string      `xml:"CreatedTime"`
	Instances         []asgMember `xml:"Instances>member"`
}

type describeASGsResult struct {
	Groups []asgGroupXML `xml:"AutoScalingGroups>member"`
}

func asgDescribeGroups(s *Server, r *Request) (any, error) {
	names := memberList(r.Params, "AutoScalingGroupNames")
	s.mu.Lock()
	defer s.mu.Unlock()
	var out describeASGsResult
	gs := s.asg.regions[regionKey(r.Caller.Account, r.Region)]
	if len(names) == 0 {
		names = slices.Sorted(maps.Keys(gs))
	}
	// Unknown names are left out, not an error, as in AWS.
	for _, n := range names {
		g := gs[n]
		if g == nil {
			continue
		}
		x := asgGroupXML{Name: g.Name, MinSize: g.MinSize, MaxSize: g.MaxSize, DesiredCapacity: g.DesiredCapacity,
			ARN:             fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:00000000-0000-4000-8000-000000000000:autoScalingGroupName/%s", r.Region, r.Caller.Account, g.Name),
			DefaultCooldown: 300, AvailabilityZones: []string{r.Region + "a"}, HealthCheckType: "EC2", CreatedTime: "2026-01-01T00:00:00Z"}
		for _, in := range s.asgMembers(r.Caller.Account, r.Region, g.Name) {
			x.Instances = append(x.Instances, asgMember{InstanceID: in.ID, AvailabilityZone: r.Region + "a", LifecycleState: "InService", HealthStatus: "HEALTHY"})
		}
		out.Groups = append(out.Groups, x)
	}
	return out, nil
}

type asgActivity struct {
	ActivityID           string `xml:"ActivityId"`
	AutoScalingGroupName string `xml:"AutoScalingGroupName"`
	Description          string `xml:"Description"`
	Cause                string `xml:"Cause"`
	StartTime            string `xml:"StartTime"`
	StatusCode           string `xml:"StatusCode"`
	Progress             int    `xml:"Progress"`
}

type detachInstancesResult struct {
	Activities []asgActivity `xml:"Activities>member"`
}

func asgDetachInstances(s *Server, r *Request) (any, error) {
	ids := memberList(r.Params, "InstanceIds")
	decrement, err := strconv.ParseBool(r.Params.Get("ShouldDecrementDesiredCapacity"))
	if err != nil {
		return nil, &APIError{Code: "ValidationError", Message: "1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.asgGroup(r)
	if err != nil {
		return nil, err
	}
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	for _, id := range ids {
		if reg == nil || reg.instances[id] == nil || reg.instances[id].AutoScalingGroup != g.Name {
			return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("The instance %s is not part of Auto Scaling group %s.", id, g.Name)}
		}
	}
	if decrement && g.DesiredCapacity-len(ids) < g.MinSize {
		return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("Desired capacity:%d must be between the specified min size:%d and max size:%d", g.DesiredCapacity-len(ids), g.MinSize, g.MaxSize)}
	}
	var out detachInstancesResult
	for _, id := range ids {
		reg.instances[id].AutoScalingGroup = ""
		cause := "At " + snapshotTime + " instance " + id + " was detached in response to a user request."
		if !decrement {
			cause += " The desired capacity was kept, so the group launches a replacement."
		}
		out.Activities = append(out.Activities, asgActivity{ActivityID: r.RequestID,
			AutoScalingGroupName: g.Name, Description: "Detaching EC2 instance: " + id, Cause: cause, StartTime: snapshotTime,
			StatusCode: "InProgress", Progress: 50})
	}
	if decrement {
		g.DesiredCapacity -= len(ids)
	}
	return out, nil
}

func asgAttachInstances(s *Server, r *Request) (any, error) {
	ids := memberList(r.Params, "InstanceIds")
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.asgGroup(r)
	if err != nil {
		return nil, err
	}
	reg := s.ec2.region(r.Caller.Account, r.Region, false)
	for _, id := range ids {
		in := (*Instance)(nil)
		if reg != nil {
			in = reg.instances[id]
		}
		switch {
		case in == nil:
			return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("Invalid Instance ID(s): [%s] for AutoScalingGroup %s", id, g.Name)}
		case in.AutoScalingGroup != "":
			return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("The instance %s is already part of an Auto Scaling group.", id)}
		case in.State != "running":
			return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("Instance %s is not in correct state: %s", id, in.State)}
		}
	}
	// Attaching raises the desired capacity by the instances attached, within the maximum.
	if want := g.DesiredCapacity + len(ids); want > g.MaxSize {
		return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("Desired capacity:%d must be between the specified min size:%d and max size:%d", want, g.MinSize, g.MaxSize)}
	}
	for _, id := range ids {
		reg.instances[id].AutoScalingGroup = g.Name
	}
	g.DesiredCapacity += len(ids)
	return nil, nil
}

func asgUpdateGroup(s *Server, r *Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.asgGroup(r)
	if err != nil {
		return nil, err
	}
	next := *g
	for param, field := range map[string]*int{"MinSize": &next.MinSize, "MaxSize": &next.MaxSize, "DesiredCapacity": &next.DesiredCapacity} {
		if v := r.Params.Get(param); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("Invalid value %q for %s", v, param)}
			}
			*field = n
		}
	}
	if next.MinSize > next.MaxSize {
		return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("Max bound, %d, must be greater than or equal to min bound, %d", next.MaxSize, next.MinSize)}
	}
	if next.DesiredCapacity < next.MinSize || next.DesiredCapacity > next.MaxSize {
		return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("Desired capacity:%d must be between the specified min size:%d and max size:%d", next.DesiredCapacity, next.MinSize, next.MaxSize)}
	}
	*g = next
	return nil, nil
}

// memberList reads a query-protocol list: name.member.1, name.member.2, ...
func memberList(p map[string][]string, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := p[fmt.Sprintf("%s.member.%d", name, i)]
		if !ok || len(v) == 0 {
			return out
		}
		out = append(out, v[0])
	}
}
