package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/config"
)

// AWS runs the aws.* actions. Its methods build them; the worker hands it
// the account access, commands that only read specs (check, iam-policy,
// actions) leave Accounts nil.
type AWS struct {
	// Accounts returns the worker's AWS access. It is called on first use
	// so that a worker with no AWS playbooks needs no AWS credentials.
	Accounts func(ctx context.Context) (*fbaws.Accounts, error)
	// WAFv2 bounds what block_ips may do.
	WAFv2 config.WAFv2

	loadMu   sync.Mutex
	accounts *fbaws.Accounts // loaded on first use; a failed load is tried again next time

	// limiters pace APIs with a documented per-account, per-region rate
	// (CloudTrail's LookupEvents: 2 calls a second) across all steps this
	// worker runs; see limiter.
	limitersMu sync.Mutex
	limiters   map[string]*rate.Limiter
}

// AWSActions lists every aws.* action, run by a (nil: specs only).
func AWSActions(a *AWS) []Action {
	if a == nil {
		a = &AWS{}
	}
	return slices.Concat(a.ec2Actions(), a.iamActions(), a.cloudtrailActions(), a.wafv2Actions(), a.ssmActions())
}

// AWSTarget says where an AWS action acts; every AWS action's input embeds
// it, so `account` and `region` mean the same in every step.
type AWSTarget struct {
	// Account names one of aws.accounts; "" means the only one (or the
	// SDK's own credentials when none is configured).
	Account string `json:"account,omitempty"`
	// Region overrides the account's region.
	Region string `json:"region,omitempty"`
}

// ErrAWSNotConfigured is the error type of an AWS action run by a process
// without AWS access.
const ErrAWSNotConfigured = "AWSNotConfigured"

// ErrAWSNoCredentials is the error type of an AWS action run by a worker that has no AWS
// credentials at all.
const ErrAWSNoCredentials = "AWSNoCredentials"

// awsSession is one action's use of AWS: the SDK config for its account,
// acting as a role session named after the incident and step, and the
// request IDs of every call made with it, for the timeline.
type awsSession struct {
	Config awssdk.Config

	mu  sync.Mutex
	ids []string
}

// RequestIDs returns the AWS request IDs of the calls made so far, failed
// ones included (support asks for those).
func (s *awsSession) RequestIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

func (s *awsSession) record(id string) {
	if id == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, id)
}

// load returns the worker's AWS access, loading it on first use.
func (a *AWS) load(ctx context.Context) (*fbaws.Accounts, error) {
	a.loadMu.Lock()
	defer a.loadMu.Unlock()
	if a.accounts != nil {
		return a.accounts, nil
	}
	if a.Accounts == nil {
		return nil, temporal.NewNonRetryableApplicationError(
			"this process has no AWS access configured (only a worker runs AWS actions)", ErrAWSNotConfigured, nil)
	}
	accounts, err := a.Accounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	a.accounts = accounts
	return accounts, nil
}

// session opens req's AWS session in t.
func (a *AWS) session(ctx context.Context, req Request, t AWSTarget) (*awsSession, error) {
	accounts, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	who := req.Incident
	if who == "" {
		// A run outside an incident is still traceable in CloudTrail by its workflow ID.
		who = req.WorkflowID
	}
	cfg, err := accounts.For(ctx, t.Account, fbaws.Session{Incident: who, Step: req.StepID})
	if err != nil {
		if errors.Is(err, fbaws.ErrUnknownAccount) {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrBadInput, nil)
		}
		if errors.Is(err, fbaws.ErrNoCredentials) {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrAWSNoCredentials, nil)
		}
		return nil, awsFailure(err)
	}
	if t.Region != "" {
		cfg.Region = t.Region
	}
	s := &awsSession{Config: cfg}
	s.Config.APIOptions = append(slices.Clone(cfg.APIOptions), func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("FirebreakRequestIDs",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
					s.record(id)
				} else if err != nil {
					var ae *fbaws.Error
					if errors.As(fbaws.Classify(err), &ae) {
						s.record(ae.RequestID)
					}
				}
				return out, md, err
			}), middleware.After)
	})
	return s, nil
}

// limiter returns the worker-wide limiter for key (say
// "cloudtrail.LookupEvents/prod/eu-west-1"), created at r per second with
// burst b on first use.
func (a *AWS) limiter(key string, r rate.Limit, b int) *rate.Limiter {
	a.limitersMu.Lock()
	defer a.limitersMu.Unlock()
	if a.limiters == nil {
		a.limiters = map[string]*rate.Limiter{}
	}
	l, ok := a.limiters[key]
	if !ok {
		l = rate.NewLimiter(r, b)
		a.limiters[key] = l
	}
	return l
}

// awsFailure turns an SDK error into the error the run reads: AWS's code
// as the error type, its message and request ID in the text, and
// non-retryable unless another attempt can succeed (throttling, 5xx, no
// answer), so Temporal's retry policy is the one retry layer.
func awsFailure(err error) error {
	if err == nil {
		return nil
	}
	var ae *fbaws.Error
	if !errors.As(fbaws.Classify(err), &ae) || ae.Kind == fbaws.KindCanceled {
		return err
	}
	typ := ae.Code
	if typ == "" {
		typ = "AWS" + ae.Kind.String()
	}
	// No cause: the message already says everything the SDK's error chain would, and the chain
	// would repeat it once per wrapping on the timeline.
	if ae.Retryable() {
		return temporal.NewApplicationError(ae.Error(), typ)
	}
	return temporal.NewNonRetryableApplicationError(ae.Error(), typ, nil)
}

// readThenWrite builds an action from one body that reads state and, when write is set, changes
// it: Plan runs the body without writing and Execute with, so what an approver is shown and what
// Execute does come from the same code.
func readThenWrite[In any](name, description string, perms Permissions,
	run func(ctx context.Context, req Request, in In, write bool) (Result, Plan, error)) Action {
	return Def[In]{
		Name: name, Description: description, Permissions: perms,
		PlanFunc: func(ctx context.Context, req Request, in In) (Plan, error) {
			_, plan, err := run(ctx, req, in, false)
			return plan, err
		},
		ExecuteFunc: func(ctx context.Context, req Request, in In) (Result, error) {
			res, _, err := run(ctx, req, in, true)
			return res, err
		},
	}
}

// badInput is the error of an input no retry can fix.
func badInput(action, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(action+": "+fmt.Sprintf(format, args...), ErrBadInput, nil)
}
