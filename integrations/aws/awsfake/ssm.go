package awsfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The SSM fake runs commands without a clock: every call that reads one command (ListCommands
// with a CommandId, ListCommandInvocations) moves it one step first. The first step starts the
// first batch of invocations (MaxConcurrency of them) and the command is InProgress; each later
// step ends the running batch with the outcomes scripted by SetCommandOutcome and, unless the
// errors now exceed MaxErrors, starts the next batch. When MaxErrors is exceeded the invocations
// not started are Cancelled (StatusDetails "Terminated") and the command is Failed, as SSM does.
// Tests are therefore deterministic: what a poller sees depends on how often it polled, not on
// how long it waited. Timestamps come from a logical clock that ticks once per step.

// ssmState is the fake's SSM state; the Server's mutex guards it.
type ssmState struct {
	instances map[string]*ssmInstance       // by account/region/instance ID
	patch     map[string]InstancePatchState // by account/region/instance ID
	outcomes  map[string]CommandOutcome     // by instance ID; test switch, not state
	commands  []*ssmCommand                 // in the order sent
	seq       int
	clock     int // seconds since ssmEpoch
}

type ssmInstance struct {
	ID, PingStatus, PlatformType, PlatformName string
	Tags                                       map[string]string
}

type ssmCommand struct {
	account, region string
	ID              string
	Document        string
	Comment         string
	Parameters      map[string][]string
	InstanceIDs     []string
	Targets         []ssmTarget
	MaxConcurrency  string
	MaxErrors       string
	Requested       int
	Status          string
	StatusDetails   string
	Invocations     []*ssmInvocation
}

type ssmInvocation struct {
	InstanceID    string
	Status        string
	StatusDetails string
	ResponseCode  int
	Output        string
	Start, End    int
}

type ssmTarget struct {
	Key    string
	Values []string
}

// CommandOutcome is how an instance's invocation of any command ends in the fake.
type CommandOutcome struct {
	// Status is Success (the default), Failed, TimedOut or Cancelled.
	Status string
	// Output is what the document's step printed (SSM returns the first 2,500 characters in
	// ListCommandInvocations).
	Output string
	// ResponseCode is the step's exit code; 0 by default, 1 for Failed.
	ResponseCode int
	// Installed, Failed, NotApplicable and Missing are the patch counts that an
	// AWS-RunPatchBaseline invocation ending in Success or Failed leaves in the instance's patch
	// state (DescribeInstancePatchStates).
	Installed, Failed, NotApplicable, Missing int
}

// InstancePatchState is an instance's patch state as State shows it.
type InstancePatchState struct {
	Operation                                 string
	Installed, Failed, NotApplicable, Missing int
	OperationEndTime                          time.Time
}

// SSMCommand is a command as State shows it.
type SSMCommand struct {
	ID, Document, Comment, Status, StatusDetails string
	Parameters                                   map[string][]string
	// Invocations maps instance IDs to their invocation's status.
	Invocations map[string]string
}

// ssmEpoch is where the fake's logical clock starts.
func ssmEpoch() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

func newSSMState() *ssmState {
	return &ssmState{instances: map[string]*ssmInstance{}, patch: map[string]InstancePatchState{}, outcomes: map[string]CommandOutcome{}}
}

// registerSSM registers the SSM operations the fake serves.
func registerSSM(s *Server) {
	s.Handle("ssm", "SendCommand", ssmSendCommand)
	s.Handle("ssm", "ListCommands", ssmListCommands)
	s.Handle("ssm", "ListCommandInvocations", ssmListCommandInvocations)
	s.Handle("ssm", "DescribeInstanceInformation", ssmDescribeInstanceInformation)
	s.Handle("ssm", "DescribeInstancePatchStates", ssmDescribeInstancePatchStates)
}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *ssmState) snapshot() any {
	instances := map[string]ssmInstance{}
	for k, in := range st.instances {
		cp := *in
		cp.Tags = maps.Clone(in.Tags)
		instances[k] = cp
	}
	var commands []SSMCommand
	for _, c := range st.commands {
		sc := SSMCommand{ID: c.ID, Document: c.Document, Comment: c.Comment, Status: c.Status, StatusDetails: c.StatusDetails,
			Parameters: map[string][]string{}, Invocations: map[string]string{}}
		for k, v := range c.Parameters {
			sc.Parameters[k] = slices.Clone(v)
		}
		for _, inv := range c.Invocations {
			sc.Invocations[inv.InstanceID] = inv.Status
		}
		commands = append(commands, sc)
	}
	return struct {
		Instances  map[string]ssmInstance
		PatchState map[string]InstancePatchState
		Commands   []SSMCommand
	}{instances, maps.Clone(st.patch), commands}
}

func ssmKey(account, region, id string) string { return account + "/" + region + "/" + id }

// AddManagedInstance registers an instance with SSM (its agent is Online, on Linux) in an
// account and region, with tags that tag filters and tag targets match.
func (s *Server) AddManagedInstance(account, region, instanceID string, tags map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ssm.instances[ssmKey(account, region, instanceID)] = &ssmInstance{ID: instanceID, PingStatus: "Online",
		PlatformType: "Linux", PlatformName: "Amazon Linux", Tags: maps.Clone(tags)}
}

// SetCommandOutcome scripts how every later invocation on instanceID ends.
func (s *Server) SetCommandOutcome(instanceID string, o CommandOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ssm.outcomes[instanceID] = o
}

// ssmDocumentStep is the step (plugin) name the fake reports for the AWS-owned documents it
// knows; the patch document's is the one that runs on Linux.
func ssmDocumentStep(document string) (string, bool) {
	switch document {
	case "AWS-RunPatchBaseline":
		return "PatchLinux", true
	case "AWS-RunShellScript":
		return "aws:runShellScript", true
	case "AWS-RunPowerShellScript":
		return "aws:runPowerShellScript", true
	}
	return "", false
}

func ssmTime(clock int) float64 { return float64(ssmEpoch().Unix() + int64(clock)) }

// tick advances the logical clock; st's lock must be held.
func (st *ssmState) tick() int {
	st.clock++
	return st.clock
}

func ssmDecode(r *Request, v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return &APIError{Code: "SerializationException", Message: err.Error()}
	}
	return nil
}

func ssmValidation(value, member, constraint string) *APIError {
	return &APIError{Code: "ValidationException", Message: fmt.Sprintf(
		"1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint)}
}

// SSM's patterns for the rate controls.
var (
	ssmMaxConcurrencyRe = regexp.MustCompile(`^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$`)
	ssmMaxErrorsRe      = regexp.MustCompile(`^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$`)
)

func ssmSendCommand(s *Server, r *Request) (any, error) {
	var in struct {
		DocumentName   string
		InstanceIDs    []string `json:"InstanceIds"`
		Targets        []ssmTarget
		Parameters     map[string][]string
		Comment        string
		MaxConcurrency string
		MaxErrors      string
	}
	if err := ssmDecode(r, &in); err != nil {
		return nil, err
	}
	if in.MaxConcurrency == "" {
		in.MaxConcurrency = "50"
	}
	if in.MaxErrors == "" {
		in.MaxErrors = "0"
	}
	switch {
	case !ssmMaxConcurrencyRe.MatchString(in.MaxConcurrency):
		return nil, ssmValidation(in.MaxConcurrency, "maxConcurrency", "Member must satisfy regular expression pattern: ^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
	case !ssmMaxErrorsRe.MatchString(in.MaxErrors):
		return nil, ssmValidation(in.MaxErrors, "maxErrors", "Member must satisfy regular expression pattern: ^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$")
	case len(in.Comment) > 100:
		return nil, ssmValidation(in.Comment, "comment", "Member must have length less than or equal to 100")
	case len(in.InstanceIDs) > 50:
		return nil, ssmValidation(strings.Join(in.InstanceIDs, ", "), "instanceIds", "Member must have length less than or equal to 50")
	case (len(in.InstanceIDs) == 0) == (len(in.Targets) == 0):
		return nil, &APIError{Code: "InvalidParameters", Message: "Specify either InstanceIds or Targets, not both."}
	}
	if _, ok := ssmDocumentStep(in.DocumentName); !ok {
		return nil, &APIError{Code: "InvalidDocument", Message: fmt.Sprintf("Document with name %s does not exist.", in.DocumentName)}
	}
	if err := ssmCheckParameters(in.DocumentName, in.Parameters); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.ssm
	ids := slices.Clone(in.InstanceIDs)
	var bad []string
	for _, id := range ids {
		if _, ok := st.instances[ssmKey(r.Caller.Account, r.Region, id)]; !ok {
			bad = append(bad, id)
		}
	}
	if len(bad) > 0 {
		return nil, &APIError{Code: "InvalidInstanceId", Message: fmt.Sprintf("Instances [[%s]] not in a valid state for account %s", strings.Join(bad, ", "), r.Caller.Account)}
	}
	if len(in.Targets) > 0 {
		ids = st.resolve(r.Caller.Account, r.Region, in.Targets)
	}
	st.seq++
	c := &ssmCommand{account: r.Caller.Account, region: r.Region,
		ID:       fmt.Sprintf("%08x-0000-4000-8000-%012x", st.seq, st.seq),
		Document: in.DocumentName, Comment: in.Comment, Parameters: in.Parameters, InstanceIDs: in.InstanceIDs, Targets: in.Targets,
		MaxConcurrency: in.MaxConcurrency, MaxErrors: in.MaxErrors, Requested: st.tick(), Status: "Pending", StatusDetails: "Pending"}
	for _, id := range ids {
		c.Invocations = append(c.Invocations, &ssmInvocation{InstanceID: id, Status: "Pending", StatusDetails: "Pending"})
	}
	if len(ids) == 0 {
		// Nothing matched the tags: there is nothing to run.
		c.Status, c.StatusDetails = "Success", "Success"
	}
	st.commands = append(st.commands, c)
	return struct{ Command ssmCommandBody }{c.body()}, nil
}

// ssmCheckParameters checks the parameters the fake's documents require.
func ssmCheckParameters(document string, params map[string][]string) error {
	invalid := func(format string, args ...any) error {
		return &APIError{Code: "InvalidParameters", Message: fmt.Sprintf(format, args...)}
	}
	allowed := map[string][]string{}
	switch document {
	case "AWS-RunPatchBaseline":
		allowed = map[string][]string{"Operation": {"Scan", "Install"}, "RebootOption": {"RebootIfNeeded", "NoReboot"}, "SnapshotId": nil, "InstallOverrideList": nil, "BaselineOverride": nil}
		if len(params["Operation"]) != 1 {
			return invalid("Parameter \"Operation\" is required.")
		}
	case "AWS-RunShellScript", "AWS-RunPowerShellScript":
		allowed = map[string][]string{"commands": nil, "workingDirectory": nil, "executionTimeout": nil}
		if len(params["commands"]) == 0 {
			return invalid("Parameter \"commands\" is required.")
		}
	}
	for name, values := range params {
		choices, ok := allowed[name]
		if !ok {
			return invalid("Parameter \"%s\" is not a valid parameter for document %s.", name, document)
		}
		for _, v := range values {
			if choices != nil && !slices.Contains(choices, v) {
				return invalid("Parameter \"%s\" has value \"%s\" not in the allowed values %v.", name, v, choices)
			}
		}
	}
	return nil
}

// resolve returns the managed instances targets select, sorted; st's lock must be held.
func (st *ssmState) resolve(account, region string, targets []ssmTarget) []string {
	var ids []string
	for k, in := range st.instances {
		if k != ssmKey(account, region, in.ID) {
			continue
		}
		match := true
		for _, t := range targets {
			switch {
			case t.Key == "InstanceIds":
				match = match && slices.Contains(t.Values, in.ID)
			case strings.HasPrefix(t.Key, "tag:"):
				v, ok := in.Tags[strings.TrimPrefix(t.Key, "tag:")]
				match = match && ok && slices.Contains(t.Values, v)
			case t.Key == "tag-key":
				has := false
				for _, k := range t.Values {
					_, ok := in.Tags[k]
					has = has || ok
				}
				match = match && has
			default:
				match = false
			}
		}
		if match {
			ids = append(ids, in.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// ssmPercentOf reads a rate control ("10", "25%") for n targets; roundUp picks the rounding
// of a percentage (up for concurrency, so at least one runs; down for errors).
func ssmPercentOf(v string, n int, roundUp bool) int {
	if p, ok := strings.CutSuffix(v, "%"); ok {
		pct, _ := strconv.Atoi(p)
		if roundUp {
			return max(1, (pct*n+99)/100)
		}
		return pct * n / 100
	}
	x, _ := strconv.Atoi(v)
	return x
}

// step moves c one step on; st's lock must be held.
func (st *ssmState) step(c *ssmCommand) {
	if c.Status != "Pending" && c.Status != "InProgress" {
		return
	}
	now := st.tick()
	errs := 0
	for _, inv := range c.Invocations {
		if inv.Status == "InProgress" {
			st.finish(c, inv, now)
		}
		if inv.Status == "Failed" || inv.Status == "TimedOut" {
			errs++
		}
	}
	if errs > ssmPercentOf(c.MaxErrors, len(c.Invocations), false) {
		// SSM stops sending the command once errors exceed MaxErrors.
		for _, inv := range c.Invocations {
			if inv.Status == "Pending" {
				inv.Status, inv.StatusDetails = "Cancelled", "Terminated"
			}
		}
		c.Status, c.StatusDetails = "Failed", "Failed"
		return
	}
	started := 0
	for _, inv := range c.Invocations {
		if inv.Status == "Pending" && started < ssmPercentOf(c.MaxConcurrency, len(c.Invocations), true) {
			inv.Status, inv.StatusDetails, inv.Start = "InProgress", "InProgress", now
			started++
		}
	}
	if started > 0 {
		c.Status, c.StatusDetails = "InProgress", "InProgress"
		return
	}
	c.Status, c.StatusDetails = "Success", "Success"
	for _, inv := range c.Invocations {
		if inv.Status != "Success" {
			// Every node was tried and the failures stayed within MaxErrors.
			c.Status, c.StatusDetails = "Failed", "Incomplete"
		}
	}
}

// finish ends inv with its instance's scripted outcome; st's lock must be held.
func (st *ssmState) finish(c *ssmCommand, inv *ssmInvocation, now int) {
	o := st.outcomes[inv.InstanceID]
	if o.Status == "" {
		o.Status = "Success"
	}
	if o.Status == "Failed" && o.ResponseCode == 0 {
		o.ResponseCode = 1
	}
	details := map[string]string{"TimedOut": "Execution Timed Out"}[o.Status]
	if details == "" {
		details = o.Status
	}
	inv.Status, inv.StatusDetails, inv.ResponseCode, inv.Output, inv.End = o.Status, details, o.ResponseCode, o.Output, now
	if c.Document == "AWS-RunPatchBaseline" && (o.Status == "Success" || o.Status == "Failed") {
		st.patch[ssmKey(c.account, c.region, inv.InstanceID)] = InstancePatchState{Operation: c.Parameters["Operation"][0],
			Installed: o.Installed, Failed: o.Failed, NotApplicable: o.NotApplicable, Missing: o.Missing,
			OperationEndTime: ssmEpoch().Add(time.Duration(now) * time.Second)}
	}
}

type ssmCommandBody struct {
	CommandID         string `json:"CommandId"`
	DocumentName      string
	Comment           string
	Parameters        map[string][]string `json:",omitempty"`
	InstanceIDs       []string            `json:"InstanceIds,omitempty"`
	Targets           []ssmTarget         `json:",omitempty"`
	RequestedDateTime float64
	Status            string
	StatusDetails     string
	MaxConcurrency    string
	MaxErrors         string
	TargetCount       int
	CompletedCount    int
	ErrorCount        int
}

func (c *ssmCommand) body() ssmCommandBody {
	b := ssmCommandBody{CommandID: c.ID, DocumentName: c.Document, Comment: c.Comment, Parameters: c.Parameters,
		InstanceIDs: c.InstanceIDs, Targets: c.Targets, RequestedDateTime: ssmTime(c.Requested), Status: c.Status,
		StatusDetails: c.StatusDetails, MaxConcurrency: c.MaxConcurrency, MaxErrors: c.MaxErrors, TargetCount: len(c.Invocations)}
	for _, inv := range c.Invocations {
		switch inv.Status {
		case "Failed", "TimedOut":
			b.ErrorCount++
			b.CompletedCount++
		case "Success", "Cancelled":
			b.CompletedCount++
		}
	}
	return b
}

// command finds the caller's command id; st's lock must be held.
func (st *ssmState) command(r *Request, id string) (*ssmCommand, error) {
	for _, c := range st.commands {
		if c.ID == id && c.account == r.Caller.Account && c.region == r.Region {
			return c, nil
		}
	}
	return nil, &APIError{Code: "InvalidCommandId", Message: ""}
}

// ssmPage cuts a page of n items from next (a token this fake issued, or "").
func ssmPage(total int, maxResults int, next string, limit int) (from, to int, token string, err error) {
	if maxResults == 0 || maxResults > limit {
		maxResults = limit
	}
	if next != "" {
		if from, err = strconv.Atoi(strings.TrimPrefix(next, "fake-page-")); err != nil || from > total {
			return 0, 0, "", &APIError{Code: "InvalidNextToken", Message: "The specified token isn't valid."}
		}
	}
	to = min(total, from+maxResults)
	if to < total {
		token = fmt.Sprintf("fake-page-%d", to)
	}
	return from, to, token, nil
}

type ssmListRequest struct {
	CommandID  string `json:"CommandId"`
	MaxResults int
	NextToken  string
	Details    bool
	Filters    []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
}

func ssmListCommands(s *Server, r *Request) (any, error) {
	var in ssmListRequest
	if err := ssmDecode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.ssm
	var list []*ssmCommand
	if in.CommandID != "" {
		c, err := st.command(r, in.CommandID)
		if err != nil {
			return nil, err
		}
		st.step(c)
		list = append(list, c)
	} else {
		// Newest first, as SSM lists them.
		for i := len(st.commands) - 1; i >= 0; i-- {
			c := st.commands[i]
			if c.account != r.Caller.Account || c.region != r.Region {
				continue
			}
			match := true
			for _, f := range in.Filters {
				switch f.Key {
				case "DocumentName":
					match = match && c.Document == f.Value
				case "Status":
					match = match && c.Status == f.Value
				default:
					return nil, &APIError{Code: "InvalidFilterKey", Message: ""}
				}
			}
			if match {
				list = append(list, c)
			}
		}
	}
	from, to, next, err := ssmPage(len(list), in.MaxResults, in.NextToken, 50)
	if err != nil {
		return nil, err
	}
	out := struct {
		Commands  []ssmCommandBody
		NextToken string `json:",omitempty"`
	}{Commands: []ssmCommandBody{}, NextToken: next}
	for _, c := range list[from:to] {
		out.Commands = append(out.Commands, c.body())
	}
	return out, nil
}

func ssmListCommandInvocations(s *Server, r *Request) (any, error) {
	var in ssmListRequest
	if err := ssmDecode(r, &in); err != nil {
		return nil, err
	}
	if in.CommandID == "" {
		// The fake serves only the per-command listing Firebreak uses.
		return nil, &APIError{Code: "InvalidParameters", Message: "awsfake: ListCommandInvocations needs a CommandId"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.ssm.command(r, in.CommandID)
	if err != nil {
		return nil, err
	}
	s.ssm.step(c)
	from, to, next, err := ssmPage(len(c.Invocations), in.MaxResults, in.NextToken, 50)
	if err != nil {
		return nil, err
	}
	type plugin struct {
		Name          string
		Status        string
		StatusDetails string
		ResponseCode  int
		Output        string
	}
	type invocation struct {
		CommandID         string `json:"CommandId"`
		InstanceID        string `json:"InstanceId"`
		DocumentName      string
		Comment           string
		RequestedDateTime float64
		Status            string
		StatusDetails     string
		CommandPlugins    []plugin `json:",omitempty"`
	}
	out := struct {
		CommandInvocations []invocation
		NextToken          string `json:",omitempty"`
	}{CommandInvocations: []invocation{}, NextToken: next}
	step, _ := ssmDocumentStep(c.Document)
	for _, inv := range c.Invocations[from:to] {
		ci := invocation{CommandID: c.ID, InstanceID: inv.InstanceID, DocumentName: c.Document, Comment: c.Comment,
			RequestedDateTime: ssmTime(c.Requested), Status: inv.Status, StatusDetails: inv.StatusDetails}
		if in.Details {
			output := inv.Output
			if len(output) > 2500 {
				output = output[:2500]
			}
			ci.CommandPlugins = []plugin{{Name: step, Status: inv.Status, StatusDetails: inv.StatusDetails, ResponseCode: inv.ResponseCode, Output: output}}
		}
		out.CommandInvocations = append(out.CommandInvocations, ci)
	}
	return out, nil
}

func ssmDescribeInstanceInformation(s *Server, r *Request) (any, error) {
	var in struct {
		Filters    []ssmTarget
		MaxResults int
		NextToken  string
	}
	if err := ssmDecode(r, &in); err != nil {
		return nil, err
	}
	if in.MaxResults != 0 && (in.MaxResults < 5 || in.MaxResults > 50) {
		return nil, ssmValidation(strconv.Itoa(in.MaxResults), "maxResults", "Member must have value between 5 and 50")
	}
	for _, f := range in.Filters {
		if f.Key != "InstanceIds" && f.Key != "tag-key" && !strings.HasPrefix(f.Key, "tag:") {
			return nil, &APIError{Code: "InvalidFilterKey", Message: fmt.Sprintf("awsfake: filter key %s is not served", f.Key)}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.ssm.resolve(r.Caller.Account, r.Region, in.Filters)
	from, to, next, err := ssmPage(len(ids), in.MaxResults, in.NextToken, 50)
	if err != nil {
		return nil, err
	}
	type info struct {
		InstanceID   string `json:"InstanceId"`
		PingStatus   string
		PlatformType string
		PlatformName string
		ResourceType string
	}
	out := struct {
		InstanceInformationList []info
		NextToken               string `json:",omitempty"`
	}{InstanceInformationList: []info{}, NextToken: next}
	for _, id := range ids[from:to] {
		in := s.ssm.instances[ssmKey(r.Caller.Account, r.Region, id)]
		out.InstanceInformationList = append(out.InstanceInformationList, info{InstanceID: id, PingStatus: in.PingStatus,
			PlatformType: in.PlatformType, PlatformName: in.PlatformName, ResourceType: "EC2Instance"})
	}
	return out, nil
}

func ssmDescribeInstancePatchStates(s *Server, r *Request) (any, error) {
	var in struct {
		InstanceIDs []string `json:"InstanceIds"`
		MaxResults  int
		NextToken   string
	}
	if err := ssmDecode(r, &in); err != nil {
		return nil, err
	}
	if len(in.InstanceIDs) > 50 {
		return nil, ssmValidation(strings.Join(in.InstanceIDs, ", "), "instanceIds", "Member must have length less than or equal to 50")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type state struct {
		InstanceID         string `json:"InstanceId"`
		PatchGroup         string
		BaselineID         string `json:"BaselineId"`
		Operation          string
		OperationStartTime float64
		OperationEndTime   float64
		InstalledCount     int
		FailedCount        int
		NotApplicableCount int
		MissingCount       int
	}
	var found []state
	for _, id := range in.InstanceIDs {
		p, ok := s.ssm.patch[ssmKey(r.Caller.Account, r.Region, id)]
		if !ok {
			continue
		}
		end := float64(p.OperationEndTime.Unix())
		found = append(found, state{InstanceID: id, BaselineID: "arn:aws:ssm:" + r.Region + ":aws:patchbaseline/pb-0fakedefaultbaseline0",
			Operation: p.Operation, OperationStartTime: end - 1, OperationEndTime: end,
			InstalledCount: p.Installed, FailedCount: p.Failed, NotApplicableCount: p.NotApplicable, MissingCount: p.Missing})
	}
	from, to, next, err := ssmPage(len(found), in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	return struct {
		InstancePatchStates []state
		NextToken           string `json:",omitempty"`
	}{append([]state{}, found[from:to]...), next}, nil
}
