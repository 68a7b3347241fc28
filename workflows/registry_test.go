package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/activities"
)

// registryEnv runs IncidentRegistryWorkflow with its local activity
// StartIncidents (and, for update-era registries, the IncidentWorkflow
// child) mocked: it records which incidents were started and what was
// posted to Slack. Each run is a fresh test environment, so a test can
// follow the registry through continue-as-new.
type registryEnv struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	started []IncidentInput
	posts   []activities.PostInput
	// taken are keys other incidents hold; startErr fails every start,
	// failures fail the next few; perCall, when set, is how many starts
	// one call gets to within its budget.
	taken    map[string]bool
	startErr error
	failures int
	perCall  int
	calls    int
}

var registryStart = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func newRegistryEnv(t *testing.T) *registryEnv {
	e := &registryEnv{t: t}
	e.reset(nil)
	return e
}

// reset gives the next run a fresh environment (with register's extra
// workflows); what was started and posted so far is kept.
func (e *registryEnv) reset(register func(*testsuite.TestWorkflowEnvironment)) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e.env = s.NewTestWorkflowEnvironment()
	e.env.SetStartTime(registryStart)
	e.env.RegisterWorkflow(IncidentRegistryWorkflow)
	e.env.RegisterWorkflow(IncidentWorkflow)
	if register != nil {
		register(e.env)
	}
	e.env.OnWorkflow(IncidentWorkflow, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in IncidentInput) (IncidentState, error) {
			e.started = append(e.started, in)
			return IncidentState{Key: in.Key}, nil
		})
	e.env.OnActivity(StartIncidents, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in StartIncidentsInput) (StartIncidentsResult, error) {
			e.calls++
			if e.failures > 0 {
				e.failures--
				return StartIncidentsResult{}, errors.New("deadline exceeded")
			}
			if e.startErr != nil {
				return StartIncidentsResult{}, e.startErr
			}
			var res StartIncidentsResult
			for i, s := range in.Starts {
				if e.perCall > 0 && i >= e.perCall {
					break
				}
				if e.taken[s.Input.Key] {
					res.Taken = append(res.Taken, s.Input.Key)
					continue
				}
				e.started = append(e.started, s.Input)
				res.Started = append(res.Started, s.Input.Key)
			}
			return res, nil
		})
	var sl *activities.Slack
	e.env.RegisterActivity(sl)
	e.env.OnActivity(sl.Post, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PostInput) (activities.PostResult, error) {
			e.posts = append(e.posts, in)
			return activities.PostResult{Channel: in.Channel, TS: "1"}, nil
		})
}

// declare signals ds at once, as one batch the registry finds buffered.
func (e *registryEnv) declare(at time.Duration, ds ...DeclareRequest) {
	e.env.RegisterDelayedCallback(func() {
		for i, d := range ds {
			if i < len(ds)-1 {
				e.env.SignalWorkflowSkippingWorkflowTask(SignalDeclare, d)
			} else {
				e.env.SignalWorkflow(SignalDeclare, d)
			}
		}
	}, at)
}

// run runs the registry from in until it continues as new (returning
// the next run's input) or, idle, is cancelled after an hour (nil).
func (e *registryEnv) run(in RegistryInput) *RegistryInput {
	e.t.Helper()
	e.env.RegisterDelayedCallback(e.env.CancelWorkflow, time.Hour)
	e.env.ExecuteWorkflow(IncidentRegistryWorkflow, in)
	err := e.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	switch {
	case errors.As(err, &can):
		var next RegistryInput
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
			e.t.Fatal(err)
		}
		return &next
	case err == nil || !strings.Contains(err.Error(), "canceled"):
		e.t.Fatalf("registry ended with %v, want continue-as-new or cancellation", err)
	}
	return nil
}

func (e *registryEnv) result(requestID string) DeclareResult {
	e.t.Helper()
	v, err := e.env.QueryWorkflow(QueryDeclared, requestID)
	if err != nil {
		e.t.Fatal(err)
	}
	var res DeclareResult
	if err := v.Get(&res); err != nil {
		e.t.Fatal(err)
	}
	return res
}

// keys lists the started incidents' keys in order, sorting e.started:
// the environment runs children in no particular order.
func (e *registryEnv) keys() []string {
	slices.SortStableFunc(e.started, func(a, b IncidentInput) int { return strings.Compare(a.Key, b.Key) })
	var keys []string
	for _, in := range e.started {
		keys = append(keys, in.Key)
	}
	return keys
}

func consecutiveKeys(from, n int) []string {
	var keys []string
	for i := from; i < from+n; i++ {
		keys = append(keys, fmt.Sprintf("INC-2026-%04d", i))
	}
	return keys
}

func declareReq(n int) DeclareRequest {
	return DeclareRequest{
		Title: fmt.Sprintf("Outage %d", n), Severity: "SEV2", DeclaredBy: fmt.Sprintf("U%d", n), Origin: "slack",
		RequestID: fmt.Sprintf("trigger-%d", n), Slack: &IncidentSlack{DeclaredIn: "C0GENERAL"},
	}
}

func TestRegistryHandsOutKeysOnce(t *testing.T) {
	e := newRegistryEnv(t)
	first := DeclareRequest{Title: "DB down", Severity: "SEV2", DeclaredBy: "U1", RequestID: "trigger-1", Slack: &IncidentSlack{DeclaredIn: "C0GENERAL"}}
	second := first
	second.RequestID, second.Title = "trigger-2", "Cache down"
	e.declare(time.Second, first)
	e.declare(2*time.Minute, first) // Slack's retry, after the incident started
	e.declare(3*time.Minute, second)
	e.declare(4*time.Minute, DeclareRequest{Title: "x", DeclaredBy: "U1"}) // no request ID
	e.declare(5*time.Minute, DeclareRequest{Title: " ", DeclaredBy: "U1", RequestID: "trigger-blank"})
	if next := e.run(RegistryInput{}); next != nil {
		t.Fatalf("continued as new: %+v", next)
	}

	if got, want := e.keys(), consecutiveKeys(1, 2); !slices.Equal(got, want) {
		t.Fatalf("started %v, want %v", got, want)
	}
	if in := e.started[0]; in.Title != "DB down" || in.DeclaredBy != "U1" || in.Slack == nil || in.Slack.DeclaredIn != "C0GENERAL" {
		t.Fatalf("first incident's input: %+v", in)
	}
	if a := e.result("trigger-1"); a.Key != "INC-2026-0001" || a.WorkflowID != "incident-INC-2026-0001" || a.Existing {
		t.Fatalf("first: %+v", a)
	}
	if b := e.result("trigger-2"); b.Key != "INC-2026-0002" {
		t.Fatalf("second: %+v", b)
	}
	if bad := e.result("trigger-blank"); bad.Key != "" || !strings.Contains(bad.Error, "title") {
		t.Fatalf("blank title: %+v", bad)
	}
	if len(e.posts) != 0 {
		t.Fatalf("a retried request is silent, posted %+v", e.posts)
	}
}

func TestRegistryBatchGetsConsecutiveKeys(t *testing.T) {
	e := newRegistryEnv(t)
	var batch []DeclareRequest
	for i := 1; i <= 50; i++ {
		batch = append(batch, declareReq(i))
		if i%10 == 0 {
			batch = append(batch, declareReq(i)) // a retry inside the batch
		}
	}
	e.declare(time.Second, batch...)
	e.run(RegistryInput{})

	if got, want := e.keys(), consecutiveKeys(1, 50); !slices.Equal(got, want) {
		t.Fatalf("started %v, want %v", got, want)
	}
	for i := 1; i <= 50; i++ {
		want := fmt.Sprintf("INC-2026-%04d", i)
		if in := e.started[i-1]; in.Title != fmt.Sprintf("Outage %d", i) {
			t.Fatalf("%s is %q", want, in.Title)
		}
		if res := e.result(fmt.Sprintf("trigger-%d", i)); res.Key != want || res.Existing {
			t.Fatalf("trigger-%d: %+v, want %s", i, res, want)
		}
	}
}

func TestRegistryDedupesRetypedDeclare(t *testing.T) {
	e := newRegistryEnv(t)
	req := func(id, user, title string) DeclareRequest {
		return DeclareRequest{Title: title, Severity: "SEV2", DeclaredBy: user, RequestID: id, Slack: &IncidentSlack{DeclaredIn: "C0WAR"}}
	}
	e.declare(time.Second, req("t1", "U1", "DB down"))
	// The person's declare timed out; they type it again, a little differently.
	e.declare(5*time.Minute, req("t2", "U1", "db  DOWN!"))
	// Someone else declaring the same title is not a repeat.
	e.declare(6*time.Minute, req("t3", "U2", "DB down"))
	// After the window, the same declare is a new incident.
	e.declare(12*time.Minute, req("t4", "U1", "DB down"))
	// A private incident's repeat is not announced in the channel.
	private := req("t5", "U3", "Insider")
	private.Slack.Private = true
	e.declare(13*time.Minute, private)
	private.RequestID = "t6"
	e.declare(14*time.Minute, private)
	e.run(RegistryInput{})

	if res := e.result("t6"); res.Key != "INC-2026-0004" || !res.Existing {
		t.Fatalf("repeated private declare: %+v", res)
	}
	if got, want := e.keys(), consecutiveKeys(1, 4); !slices.Equal(got, want) {
		t.Fatalf("started %v, want %v", got, want)
	}
	if res := e.result("t2"); res.Key != "INC-2026-0001" || !res.Existing {
		t.Fatalf("re-typed declare: %+v, want the existing INC-2026-0001", res)
	}
	if res := e.result("t3"); res.Key != "INC-2026-0002" || res.Existing {
		t.Fatalf("another person's declare: %+v", res)
	}
	if res := e.result("t4"); res.Key != "INC-2026-0003" || res.Existing {
		t.Fatalf("declare after the window: %+v", res)
	}
	if len(e.posts) != 1 {
		t.Fatalf("want one notice for the repeat, got %+v", e.posts)
	}
	if p := e.posts[0]; p.Channel != "C0WAR" || !strings.Contains(p.Text, "<@U1>") || !strings.Contains(p.Text, "INC-2026-0001") || !strings.Contains(p.Text, "Nothing new was created") {
		t.Fatalf("notice: %+v", p)
	}
}

func TestRegistryContinuesAsNewWithoutLosingDeclares(t *testing.T) {
	e := newRegistryEnv(t)
	var batch []DeclareRequest
	for i := 1; i <= 10; i++ {
		batch = append(batch, declareReq(i))
	}
	e.declare(time.Second, batch...)
	in := RegistryInput{StartsPerRun: 3}
	next := e.run(in)
	if next == nil || len(next.Pending) == 0 {
		t.Fatalf("the first run should hand over with declares pending: %+v", next)
	}
	if next.Seq != 3 || len(next.Declares) != 3 {
		t.Fatalf("handed over seq %d and %d remembered declares, want 3 and 3", next.Seq, len(next.Declares))
	}
	for runs := 1; next != nil; runs++ {
		if runs > 10 {
			t.Fatal("the registry keeps continuing as new")
		}
		e.reset(nil)
		// Retries of declares handled by earlier runs create nothing.
		e.declare(time.Second, declareReq(1), declareReq(runs))
		next = e.run(*next)
	}
	if got, want := e.keys(), consecutiveKeys(1, 10); !slices.Equal(got, want) {
		t.Fatalf("started %v, want %v", got, want)
	}
	for i, in := range e.started {
		if in.Title != fmt.Sprintf("Outage %d", i+1) {
			t.Fatalf("%s is %q", in.Key, in.Title)
		}
	}
	if res := e.result("trigger-10"); res.Key != "INC-2026-0010" {
		t.Fatalf("the last run does not know trigger-10: %+v", res)
	}
}

func TestRegistryForgetsOldRequests(t *testing.T) {
	at := func(ago time.Duration) int64 { return registryStart.Add(-ago).Unix() }
	e := newRegistryEnv(t)
	e.declare(time.Second, declareReq(1))
	e.run(RegistryInput{Year: 2026, Seq: 7, Declares: []RememberedDeclare{
		{Request: shortHash("ancient"), Key: "INC-2026-0001", At: at(2 * time.Hour)},
		{Request: shortHash("recent"), Key: "INC-2026-0002", At: at(30 * time.Minute)},
	}})
	if got := e.keys(); !slices.Equal(got, []string{"INC-2026-0008"}) {
		t.Fatalf("started %v", got)
	}
	if res := e.result("ancient"); res.Key != "" {
		t.Fatalf("a request older than %s is still remembered: %+v", rememberFor, res)
	}
	if res := e.result("recent"); res.Key != "INC-2026-0002" {
		t.Fatalf("a request from 30 minutes ago is forgotten: %+v", res)
	}

	// However fast declares come, at most rememberAtMost are carried.
	e = newRegistryEnv(t)
	in := RegistryInput{Year: 2026, Seq: 7}
	for i := range rememberAtMost {
		in.Declares = append(in.Declares, RememberedDeclare{Request: shortHash(fmt.Sprint("old-", i)), Key: "INC-2026-0001", At: registryStart.Unix()})
	}
	e.declare(time.Second, declareReq(1))
	e.run(in)
	if res := e.result("old-0"); res.Key != "" {
		t.Fatalf("more than %d requests remembered: %+v", rememberAtMost, res)
	}
	if res := e.result(fmt.Sprint("old-", rememberAtMost-1)); res.Key != "INC-2026-0001" {
		t.Fatalf("a recent request is forgotten: %+v", res)
	}
	if res := e.result("trigger-1"); res.Key != "INC-2026-0008" {
		t.Fatalf("the newest request is forgotten: %+v", res)
	}
}

// TestRegistrySkipsTakenKeys: a registry that lost its count (terminated
// and started afresh) moves past keys that belong to earlier incidents
// instead of failing every declare.
func TestRegistrySkipsTakenKeys(t *testing.T) {
	e := newRegistryEnv(t)
	e.taken = map[string]bool{"INC-2026-0001": true, "INC-2026-0002": true}
	e.declare(time.Second, declareReq(1), declareReq(2))
	e.run(RegistryInput{})
	if got, want := e.keys(), consecutiveKeys(3, 2); !slices.Equal(got, want) {
		t.Fatalf("started %v, want %v", got, want)
	}
	for i, in := range e.started {
		if want := fmt.Sprintf("Outage %d", i+1); in.Title != want {
			t.Fatalf("%s is %q, want %q", in.Key, in.Title, want)
		}
		if res := e.result(fmt.Sprintf("trigger-%d", i+1)); res.Key != in.Key {
			t.Fatalf("trigger-%d: %+v, want %s", i+1, res, in.Key)
		}
	}
}

// TestRegistryStartsWhatTheBudgetLeft: a batch the local activity could
// not finish within its budget, or that failed, is started later, keys
// and order unchanged.
func TestRegistryStartsWhatTheBudgetLeft(t *testing.T) {
	e := newRegistryEnv(t)
	e.perCall, e.failures = 2, 2
	var batch []DeclareRequest
	for i := 1; i <= 7; i++ {
		batch = append(batch, declareReq(i))
	}
	e.declare(time.Second, batch...)
	e.run(RegistryInput{})
	if e.calls != 6 {
		t.Fatalf("%d calls, want 2 failed and 4 of at most 2 starts", e.calls)
	}
	if got, want := e.keys(), consecutiveKeys(1, 7); !slices.Equal(got, want) {
		t.Fatalf("started %v, want %v", got, want)
	}
	for i, in := range e.started {
		if want := fmt.Sprintf("Outage %d", i+1); in.Title != want {
			t.Fatalf("%s is %q, want %q", in.Key, in.Title, want)
		}
	}
}

// TestRegistryReportsStartFailures: when starting keeps failing, the
// declare says why and holds no key, so declaring again is not taken for
// a repeat of an incident that does not exist.
func TestRegistryReportsStartFailures(t *testing.T) {
	e := newRegistryEnv(t)
	e.startErr = errors.New("temporal is down")
	e.declare(time.Second, declareReq(1))
	// The retries are over within two minutes; Temporal is back by
	// the time the person declares again, inside the duplicate window.
	e.env.RegisterDelayedCallback(func() { e.startErr = nil }, 3*time.Minute)
	retyped := declareReq(1)
	retyped.RequestID = "trigger-1-again"
	e.declare(5*time.Minute, retyped)
	e.run(RegistryInput{})
	if res := e.result("trigger-1"); res.Key != "" || !strings.Contains(res.Error, "temporal is down") {
		t.Fatalf("failed declare: %+v", res)
	}
	if res := e.result("trigger-1-again"); res.Key == "" || res.Existing {
		t.Fatalf("declaring again after a failure: %+v", res)
	}
	if len(e.started) != 1 {
		t.Fatalf("started %v", e.keys())
	}
}

// TestRegistryFromBeforeSignalsHandsOver: a registry started when
// declares were updates keeps answering them, and at the first declare
// signal hands its count, its memory and the signal to a new run.
func TestRegistryFromBeforeSignalsHandsOver(t *testing.T) {
	e := newRegistryEnv(t)
	e.env.OnGetVersion(registrySignalsChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h := &harness{t: t, env: e.env}
	old := declareReq(1)
	byUpdate := h.update(time.Second, UpdateDeclare, func() any { return old })
	e.declare(time.Minute, declareReq(2))
	next := e.run(RegistryInput{})
	if !byUpdate.done || byUpdate.rejected != nil || byUpdate.result.(DeclareResult).Key != "INC-2026-0001" {
		t.Fatalf("update-era declare: %+v", byUpdate)
	}
	if next == nil || next.Seq != 1 || len(next.Recent) != 1 || len(next.Pending) != 1 || next.Pending[0].RequestID != "trigger-2" {
		t.Fatalf("handed over %+v", next)
	}

	e.reset(nil)
	e.declare(time.Second, old) // a retry of the update-era declare
	e.run(*next)
	if got, want := e.keys(), consecutiveKeys(1, 2); !slices.Equal(got, want) {
		t.Fatalf("started %v, want %v", got, want)
	}
	if res := e.result("trigger-1"); res.Key != "INC-2026-0001" {
		t.Fatalf("the update-era request is forgotten: %+v", res)
	}
}

func TestValidateDeclare(t *testing.T) {
	good := DeclareRequest{Title: "DB down", DeclaredBy: "U1", RequestID: "t"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mutate func(*DeclareRequest)
		want   string
	}{
		{func(d *DeclareRequest) { d.Title = "  " }, "title"},
		{func(d *DeclareRequest) { d.DeclaredBy = "" }, "who declared"},
		{func(d *DeclareRequest) { d.RequestID = "" }, "request ID"},
	} {
		d := good
		c.mutate(&d)
		if err := d.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", d, err, c.want)
		}
	}
}

func TestNormalizeTitle(t *testing.T) {
	for in, want := range map[string]string{"DB down": "db down", "  db   DOWN!! ": "db down", "API: 5xx (eu-west)": "api 5xx eu west", "Überlast": "überlast"} {
		if got := normalizeTitle(in); got != want {
			t.Errorf("normalizeTitle(%q) = %q, want %q", in, got, want)
		}
	}
}

// startClient is Temporal as StartIncidents sees it: workflow IDs with
// the request hash in their memo.
type startClient struct {
	client.Client
	mu      sync.Mutex
	running map[string]string
	fail    error
}

func (c *startClient) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return nil, c.fail
	}
	if o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE || !o.WorkflowExecutionErrorWhenAlreadyStarted {
		return nil, fmt.Errorf("%s: an incident ID must never be reused, nor a running one returned", o.ID)
	}
	if _, ok := c.running[o.ID]; ok {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("workflow execution already started", "", "")
	}
	c.running[o.ID] = o.Memo[declareMemo].(string)
	return nil, nil
}

func (c *startClient) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := converter.GetDefaultDataConverter().ToPayload(c.running[id])
	if err != nil {
		return nil, err
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Memo: &commonpb.Memo{Fields: map[string]*commonpb.Payload{declareMemo: p}},
	}}, nil
}

func TestStartIncidents(t *testing.T) {
	start := func(key, req string) IncidentStart {
		return IncidentStart{Request: req, Input: IncidentInput{Key: key, Title: "x"}}
	}
	c := &startClient{running: map[string]string{IncidentWorkflowID("INC-2026-0001"): "earlier-declare"}}
	in := StartIncidentsInput{TaskQueue: "firebreak", Starts: []IncidentStart{start("INC-2026-0001", "r1"), start("INC-2026-0002", "r2"), start("INC-2026-0003", "r3")}}
	res, err := startIncidents(context.Background(), c, in, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Started, []string{"INC-2026-0002", "INC-2026-0003"}) || !slices.Equal(res.Taken, []string{"INC-2026-0001"}) {
		t.Fatalf("taken %v, want the key an earlier declare holds", res.Taken)
	}
	if c.running[IncidentWorkflowID("INC-2026-0002")] != "r2" || c.running[IncidentWorkflowID("INC-2026-0001")] != "earlier-declare" {
		t.Fatalf("started %v", c.running)
	}
	// A retried batch (the first attempt started some) starts nothing twice
	// and takes its own incidents for started.
	res, err = startIncidents(context.Background(), c, StartIncidentsInput{TaskQueue: "firebreak", Starts: in.Starts[1:]}, time.Minute)
	if err != nil || len(res.Taken) != 0 || len(res.Started) != 2 {
		t.Fatalf("retried batch: %+v, %v", res, err)
	}
	// Past its budget, a call starts no more (but always the first).
	more := []IncidentStart{start("INC-2026-0004", "r4"), start("INC-2026-0005", "r5")}
	res, err = startIncidents(context.Background(), c, StartIncidentsInput{TaskQueue: "firebreak", Starts: more}, -1)
	if err != nil || !slices.Equal(res.Started, []string{"INC-2026-0004"}) || len(res.Taken) != 0 {
		t.Fatalf("over budget: %+v, %v", res, err)
	}
	if _, ok := c.running[IncidentWorkflowID("INC-2026-0005")]; ok {
		t.Fatal("started past the budget")
	}
	c.fail = serviceerror.NewUnavailable("connection refused")
	if _, err := startIncidents(context.Background(), c, StartIncidentsInput{Starts: []IncidentStart{start("INC-2026-0006", "r6")}}, time.Minute); err == nil || !strings.Contains(err.Error(), "incident-INC-2026-0006") {
		t.Fatalf("a failed start must fail the batch (to be retried), naming the incident: %v", err)
	}
}
