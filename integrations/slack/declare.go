package slack

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/workflows"
)

// declareRetry says how a declare Temporal did not take in time is tried
// again in the background, with the same request ID (the registry drops
// repeats): attempts in all, the first wait, doubling up to max.
type declareRetry struct {
	attempts   int
	first, max time.Duration
}

// declareRetries: about 45 s in all, well inside a response_url's 30 min.
func declareRetries() declareRetry {
	return declareRetry{attempts: 8, first: 250 * time.Millisecond, max: 15 * time.Second}
}

// submitDeclare hands a declare to the incident registry with one
// signal-with-start call and answers at once: the call returns as soon as
// the signal is stored, so the ack never waits behind the registry's
// queue. The key is not known yet: the incident posts it in the
// declaring channel once its channel exists, and a repeat of an earlier
// declare is told so by the registry. (Waiting for the registry to name
// the key, even 150 ms, made acks under load slower than the goal and
// the registry, answering the queries, ten times slower.)
func (b *Bot) submitDeclare(ctx context.Context, req asker, cmd Command, d workflows.DeclareRequest) reply {
	if err := d.Validate(); err != nil {
		return ephemeral("Not declared: %s.", err.Error())
	}
	private := d.Slack != nil && d.Slack.Private
	cctx, cancel := b.callCtx(ctx)
	err := b.signalDeclare(cctx, d)
	cancel()
	if err == nil {
		b.o.Log.Info("declare queued", "user", req.User, "request_id", req.ID)
		return declaredAck(req, cmd, private)
	}
	if !temporaryFailure(err) {
		b.o.Log.Error("declare refused", "user", req.User, "request_id", req.ID, "err", err)
		return ephemeral("Could not declare the incident: %s", refusal(err))
	}
	b.o.Log.Warn("declare not taken in time; retrying in the background", "user", req.User, "request_id", req.ID, "err", err)
	b.background.Add(1)
	go func() {
		defer b.background.Done()
		b.retryDeclare(req, cmd, d, declaredAck(req, cmd, private), declareRetries())
	}()
	return ephemeral("%s, so your declare of *%s* is queued and retried for the next minute; this channel hears when it is taken. If nothing appears by then, try again: repeating the same declare within 10 minutes does not create a second incident.",
		busyReason(err), esc(cmd.Title))
}

// declaredAck answers a declare the registry has taken. A private
// incident is answered to the declarer alone: the channel it was
// declared in must not learn its title.
func declaredAck(req asker, cmd Command, private bool) reply {
	if private {
		return ephemeral(":lock: You are declaring a private incident (%s). Its private channel is being created; you will be invited.", cmd.Severity)
	}
	return inChannel(fmt.Sprintf(":rotating_light: <@%s> is declaring *%s* (%s); the incident channel is being created and its key will be posted here.", req.User, esc(cmd.Title), cmd.Severity))
}

// retryDeclare tries the signal again with backoff and jitter, then
// tells the person (through the command's response_url) how it ended.
func (b *Bot) retryDeclare(req asker, cmd Command, d workflows.DeclareRequest, ack reply, p declareRetry) {
	wait := p.first
	var err error
	for attempt := 2; attempt <= p.attempts; attempt++ {
		// Jitter spreads the retries of a burst of declares.
		time.Sleep(wait/2 + rand.N(wait/2+1))
		ctx, cancel := context.WithTimeout(context.Background(), b.o.CallTimeout)
		err = b.signalDeclare(ctx, d)
		cancel()
		if err == nil {
			b.o.Log.Info("declare queued after retrying", "user", req.User, "request_id", req.ID, "attempts", attempt)
			b.respond(req.ResponseURL, &ack)
			return
		}
		if !temporaryFailure(err) {
			break
		}
		wait = min(2*wait, p.max)
	}
	b.o.Log.Error("declare given up", "user", req.User, "request_id", req.ID, "err", err)
	r := ephemeral("Firebreak could not take your declare of *%s*: %s. It may still have gone through: if no incident channel appears in a minute, declare again (repeating the same declare within 10 minutes does not create a second incident).",
		esc(cmd.Title), busyReason(err))
	b.respond(req.ResponseURL, &r)
}

func (b *Bot) signalDeclare(ctx context.Context, d workflows.DeclareRequest) error {
	_, err := b.o.Temporal.SignalWithStartWorkflow(ctx, workflows.RegistryWorkflowID, workflows.SignalDeclare, d,
		client.StartWorkflowOptions{ID: workflows.RegistryWorkflowID, TaskQueue: b.o.TaskQueue},
		workflows.IncidentRegistryWorkflow, workflows.RegistryInput{})
	return err
}

// temporaryFailure: Temporal was slow, overloaded or unreachable, so the
// signal may or may not be stored and sending it again is safe.
func temporaryFailure(err error) bool {
	var exhausted *serviceerror.ResourceExhausted
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &exhausted) || errors.As(err, &unavailable) || errors.As(err, &deadline)
}

func busyReason(err error) string {
	var unavailable *serviceerror.Unavailable
	if errors.As(err, &unavailable) {
		return "Firebreak cannot reach its workflow service right now"
	}
	return "Firebreak is busy"
}
