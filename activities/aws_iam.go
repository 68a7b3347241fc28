package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"
)

// iamActions lists the IAM actions.
func (a *AWS) iamActions() []Action {
	return []Action{
		a.iamFindKeyOwner(), a.iamListAccessKeys(),
		a.iamDeactivateAccessKey(), a.iamReactivateAccessKey(),
		a.iamAttachDenyAll(), a.iamDetachDenyAll(),
		a.iamRevokeRoleSessions(), a.iamUnrevokeRoleSessions(), a.iamRevokeUserSessions(), a.iamUnrevokeUserSessions(),
		a.iamDisableConsoleLogin(), a.iamInstanceProfileRole(),
	}
}

// Resource patterns of IAM's resource-level permissions.
const (
	iamUsers            = "arn:aws:iam::*:user/*"
	iamRoles            = "arn:aws:iam::*:role/*"
	iamInstanceProfiles = "arn:aws:iam::*:instance-profile/*"
)

func iamPerms(resource string, actions ...string) []IAMPermission {
	out := make([]IAMPermission, len(actions))
	for i, a := range actions {
		out[i] = IAMPermission{Action: a, Resource: resource}
	}
	return out
}

var (
	// iamNameRe is IAM's pattern for user, role and instance profile names.
	iamNameRe = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	// accessKeyIDRe is IAM's pattern for access key IDs.
	accessKeyIDRe = regexp.MustCompile(`^\w{16,128}$`)
)

func checkIAMName(action, field, v string) error {
	if !iamNameRe.MatchString(v) {
		return badInput(action, "%s %q is not an IAM name (1 to 64 of letters, digits and +=,.@_-)", field, v)
	}
	return nil
}

func checkAccessKeyID(action, v string) error {
	if !accessKeyIDRe.MatchString(v) {
		return badInput(action, "access_key_id %q is not an access key ID (16 to 128 letters and digits, like AKIA...)", v)
	}
	return nil
}

// isNoSuchEntity says whether IAM answered NoSuchEntity.
func isNoSuchEntity(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "NoSuchEntity"
}

// compensationSuffix ends the idempotency key of a step's compensation (see Request).
const compensationSuffix = "/compensate"

// stepMark names the step that made a change, in a tag value or a policy Sid (16 hex digits).
// A compensation's key is its step's plus compensationSuffix, so the inverse finds the mark its
// step left, and a retry of the step finds its own earlier work.
func stepMark(req Request) string {
	sum := sha256.Sum256([]byte(strings.TrimSuffix(req.IdempotencyKey, compensationSuffix)))
	return hex.EncodeToString(sum[:8])
}

func isCompensation(req Request) bool {
	return strings.HasSuffix(req.IdempotencyKey, compensationSuffix)
}

// iamDate formats IAM's timestamps for outputs; "" for none.
func iamDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// shortTime is a timestamp as a timeline line shows it.
func shortTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04Z") }

// --- aws.iam.find_key_owner ---

// FindKeyOwnerInput is the input of aws.iam.find_key_owner.
type FindKeyOwnerInput struct {
	AWSTarget
	AccessKeyID string `json:"access_key_id" action:"required"`
}

func (a *AWS) iamFindKeyOwner() Action {
	const name = "aws.iam.find_key_owner"
	return Def[FindKeyOwnerInput]{
		Name: name,
		Description: "Find the account and IAM user that own an access key (sts:GetAccessKeyInfo, then " +
			"iam:GetAccessKeyLastUsed in the key's account when aws.accounts has it), with its last use. " +
			"outputs.account names the configured account the key is in, for later steps. A key of an " +
			"account Firebreak cannot act in is reported, not an error: in_configured_account is false and " +
			"the summary names the account.",
		Permissions: Permissions{IAM: append(iamPerms("*", "sts:GetCallerIdentity", "sts:GetAccessKeyInfo"),
			iamPerms(iamUsers, "iam:GetAccessKeyLastUsed", "iam:GetUser")...)},
		PlanFunc: func(_ context.Context, _ Request, in FindKeyOwnerInput) (Plan, error) {
			if err := checkAccessKeyID(name, in.AccessKeyID); err != nil {
				return Plan{}, err
			}
			return Plan{Summary: "read only: find the account and IAM user owning access key " + in.AccessKeyID}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in FindKeyOwnerInput) (Result, error) {
			if err := checkAccessKeyID(name, in.AccessKeyID); err != nil {
				return Result{}, err
			}
			sess, err := a.session(ctx, req, in.AWSTarget)
			if err != nil {
				return Result{}, err
			}
			res, err := findKeyOwner(ctx, sess, in)
			ids := sess.RequestIDs()
			// A key of another configured account: look its owner up there, so a responder
			// who pastes a leaked key need not know whose it is. Later steps act where
			// outputs.account says.
			if id, _ := res.Outputs["account_id"].(string); err == nil && res.Outputs["in_configured_account"] == false {
				accounts, _ := a.load(ctx) // loaded: the session above needed it
				if other, ok := accounts.NameOf(id); ok && other != in.Account {
					in.Account = other
					if sess, err = a.session(ctx, req, in.AWSTarget); err != nil {
						return Result{}, err
					}
					res, err = findKeyOwner(ctx, sess, in)
					ids = append(ids, sess.RequestIDs()...)
				}
			}
			res.RequestIDs, res.Resource = ids, in.AccessKeyID
			return res, err
		},
	}
}

func findKeyOwner(ctx context.Context, sess *awsSession, in FindKeyOwnerInput) (Result, error) {
	stsc := sts.NewFromConfig(sess.Config)
	// fbaws.Accounts maps names to sessions but does not say which account ID a name is, so the
	// step's account is asked who it is.
	me, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Result{}, awsFailure(err)
	}
	info, err := stsc.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: &in.AccessKeyID})
	if err != nil {
		return Result{}, awsFailure(err)
	}
	keyAccount, here := awssdk.ToString(info.Account), awssdk.ToString(me.Account)
	where := here
	if in.Account != "" {
		where = fmt.Sprintf("%s (%s)", in.Account, here)
	}
	out := map[string]any{
		"access_key_id": in.AccessKeyID, "account_id": keyAccount, "account": "",
		"in_configured_account": keyAccount == here, "temporary": strings.HasPrefix(in.AccessKeyID, "ASIA"),
		"user_name": "", "user_arn": "", "last_used": map[string]any{"date": "", "service": "", "region": ""},
	}
	if keyAccount != here {
		return Result{Outputs: out, Summary: fmt.Sprintf(
			"access key %s belongs to account %s, not to the step's account %s: Firebreak does not act there, so its owner is not looked up (run the step in that account if it is configured)",
			in.AccessKeyID, keyAccount, where)}, nil
	}
	out["account"] = in.Account // the configured name of the key's account ("" for the only one)
	if out["temporary"] == true {
		// Temporary keys belong to a role session, not a user: CloudTrail names the session.
		return Result{Outputs: out, Summary: fmt.Sprintf(
			"access key %s is a temporary (role session) key of account %s: no IAM user owns it; look it up in CloudTrail (aws.cloudtrail.lookup_events access_key_id)",
			in.AccessKeyID, where)}, nil
	}
	iamc := iam.NewFromConfig(sess.Config)
	lu, err := iamc.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &in.AccessKeyID})
	if err != nil {
		return Result{}, awsFailure(err)
	}
	user := awssdk.ToString(lu.UserName)
	u, err := iamc.GetUser(ctx, &iam.GetUserInput{UserName: &user})
	if err != nil {
		return Result{}, awsFailure(err)
	}
	used := lastUsed(lu.AccessKeyLastUsed)
	out["user_name"], out["user_arn"], out["last_used"] = user, awssdk.ToString(u.User.Arn), used
	return Result{Outputs: out, Summary: fmt.Sprintf("access key %s is user %s's (%s) in account %s; %s",
		in.AccessKeyID, user, awssdk.ToString(u.User.Arn), where, describeUse(used))}, nil
}

// lastUsed is a key's last use as outputs carry it: date "" when never used.
func lastUsed(u *iamtypes.AccessKeyLastUsed) map[string]any {
	out := map[string]any{"date": "", "service": "", "region": ""}
	if u == nil || u.LastUsedDate == nil {
		return out // IAM says N/A for service and region of a key never used
	}
	out["date"], out["service"], out["region"] = iamDate(u.LastUsedDate), awssdk.ToString(u.ServiceName), awssdk.ToString(u.Region)
	return out
}

func describeUse(used map[string]any) string {
	if used["date"] == "" {
		return "never used"
	}
	t, _ := time.Parse(time.RFC3339, used["date"].(string))
	return fmt.Sprintf("last used %s (%s in %s)", shortTime(t), used["service"], used["region"])
}

// --- aws.iam.list_access_keys ---

// UserInput names an IAM user.
type UserInput struct {
	AWSTarget
	UserName string `json:"user_name" action:"required"`
}

func (a *AWS) iamListAccessKeys() Action {
	const name = "aws.iam.list_access_keys"
	return Def[UserInput]{
		Name:        name,
		Description: "List an IAM user's access keys with status, creation date and last use.",
		Permissions: Permissions{IAM: iamPerms(iamUsers, "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed")},
		PlanFunc: func(_ context.Context, _ Request, in UserInput) (Plan, error) {
			if err := checkIAMName(name, "user_name", in.UserName); err != nil {
				return Plan{}, err
			}
			return Plan{Summary: "read only: list the access keys of IAM user " + in.UserName + " with their last use"}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in UserInput) (Result, error) {
			if err := checkIAMName(name, "user_name", in.UserName); err != nil {
				return Result{}, err
			}
			sess, err := a.session(ctx, req, in.AWSTarget)
			if err != nil {
				return Result{}, err
			}
			res, err := listAccessKeys(ctx, iam.NewFromConfig(sess.Config), in.UserName)
			res.RequestIDs, res.Resource = sess.RequestIDs(), in.UserName
			return res, err
		},
	}
}

func listAccessKeys(ctx context.Context, c *iam.Client, user string) (Result, error) {
	keys, err := accessKeys(ctx, c, user)
	if err != nil {
		return Result{}, err
	}
	list := make([]any, 0, len(keys))
	var lines []string
	active := 0
	for _, k := range keys {
		lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
		if err != nil {
			return Result{}, awsFailure(err)
		}
		used := lastUsed(lu.AccessKeyLastUsed)
		id, status := awssdk.ToString(k.AccessKeyId), string(k.Status)
		if k.Status == iamtypes.StatusTypeActive {
			active++
		}
		list = append(list, map[string]any{"access_key_id": id, "status": status, "created": iamDate(k.CreateDate), "last_used": used})
		lines = append(lines, fmt.Sprintf("%s %s, %s", id, status, describeUse(used)))
	}
	summary := fmt.Sprintf("user %s has no access keys", user)
	if len(keys) > 0 {
		summary = fmt.Sprintf("user %s has %d access keys (%d active): %s", user, len(keys), active, strings.Join(lines, "; "))
	}
	return Result{Summary: summary, Outputs: map[string]any{"user_name": user, "keys": list, "count": len(keys), "active": active}}, nil
}

// accessKeys lists a user's keys; an unknown user is IAM's NoSuchEntity.
func accessKeys(ctx context.Context, c *iam.Client, user string) ([]iamtypes.AccessKeyMetadata, error) {
	var keys []iamtypes.AccessKeyMetadata
	p := iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: &user})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsFailure(err)
		}
		keys = append(keys, page.AccessKeyMetadata...)
	}
	return keys, nil
}

// keyStatus is the status of one of user's keys. A key the user does not have fails as
// UpdateAccessKey would, with IAM's code, before anything is changed.
func keyStatus(ctx context.Context, c *iam.Client, action, user, key string) (iamtypes.StatusType, error) {
	keys, err := accessKeys(ctx, c, user)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if awssdk.ToString(k.AccessKeyId) == key {
			return k.Status, nil
		}
	}
	return "", temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("%s: NoSuchEntity: The Access Key with id %s cannot be found (user %s has no such key)", action, key, user), "NoSuchEntity", nil)
}

// --- aws.iam.deactivate_access_key / aws.iam.reactivate_access_key ---

// AccessKeyInput names one access key of an IAM user.
type AccessKeyInput struct {
	AWSTarget
	UserName    string `json:"user_name" action:"required"`
	AccessKeyID string `json:"access_key_id" action:"required"`
}

func (in AccessKeyInput) check(action string) error {
	if err := checkIAMName(action, "user_name", in.UserName); err != nil {
		return err
	}
	return checkAccessKeyID(action, in.AccessKeyID)
}

// deactivatedTag is the user tag deactivate_access_key sets before it deactivates a key: its
// value is the step's mark. Access keys carry no tags or description of their own, and a retry
// after the key went Inactive must still know that this step (not someone before it) made it so,
// or the rollback would leave it Inactive.
func deactivatedTag(key string) string { return "firebreak:deactivated:" + key }

// userTag reads one tag of a user (GetUser returns them); ok is false when absent.
func userTag(ctx context.Context, c *iam.Client, user, tag string) (value string, ok bool, arn string, err error) {
	out, err := c.GetUser(ctx, &iam.GetUserInput{UserName: &user})
	if err != nil {
		return "", false, "", awsFailure(err)
	}
	for _, t := range out.User.Tags {
		if awssdk.ToString(t.Key) == tag {
			return awssdk.ToString(t.Value), true, awssdk.ToString(out.User.Arn), nil
		}
	}
	return "", false, awssdk.ToString(out.User.Arn), nil
}

func (a *AWS) iamDeactivateAccessKey() Action {
	const name = "aws.iam.deactivate_access_key"
	return Def[AccessKeyInput]{
		Name: name,
		Description: "Deactivate an IAM user's access key. Idempotent: a key already Inactive is success. " +
			"Tags the user firebreak:deactivated:<key> so that the inverse, aws.iam.reactivate_access_key, " +
			"reactivates only a key this step deactivated.",
		Permissions: Permissions{IAM: iamPerms(iamUsers, "iam:ListAccessKeys", "iam:GetUser", "iam:TagUser", "iam:UpdateAccessKey")},
		PlanFunc: func(ctx context.Context, req Request, in AccessKeyInput) (Plan, error) {
			if err := in.check(name); err != nil {
				return Plan{}, err
			}
			sess, err := a.session(ctx, req, in.AWSTarget)
			if err != nil {
				return Plan{}, err
			}
			status, err := keyStatus(ctx, iam.NewFromConfig(sess.Config), name, in.UserName, in.AccessKeyID)
			if err != nil {
				return Plan{}, err
			}
			if status != iamtypes.StatusTypeActive {
				return Plan{Summary: fmt.Sprintf("no change: access key %s of user %s is already %s", in.AccessKeyID, in.UserName, status)}, nil
			}
			return Plan{
				Summary: fmt.Sprintf("deactivate access key %s of user %s (Active → Inactive)", in.AccessKeyID, in.UserName),
				Changes: []string{
					fmt.Sprintf("tag user %s %s (marks the key as this step's, for rollback)", in.UserName, deactivatedTag(in.AccessKeyID)),
					fmt.Sprintf("set access key %s Inactive", in.AccessKeyID),
				},
			}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in AccessKeyInput) (Result, error) {
			if err := in.check(name); err != nil {
				return Result{}, err
			}
			sess, err := a.session(ctx, req, in.AWSTarget)
			if err != nil {
				return Result{}, err
			}
			res, err := deactivateKey(ctx, iam.NewFromConfig(sess.Config), req, in)
			res.RequestIDs, res.Resource = sess.RequestIDs(), in.AccessKeyID
			return res, err
		},
	}
}

func deactivateKey(ctx context.Context, c *iam.Client, req Request, in AccessKeyInput) (Result, error) {
	const action = "aws.iam.deactivate_access_key"
	status, err := keyStatus(ctx, c, action, in.UserName, in.AccessKeyID)
	if err != nil {
		return Result{}, err
	}
	tag, mark := deactivatedTag(in.AccessKeyID), stepMark(req)
	value, _, _, err := userTag(ctx, c, in.UserName, tag)
	if err != nil {
		return Result{}, err
	}
	out := map[string]any{"user_name": in.UserName, "access_key_id": in.AccessKeyID, "status": "Inactive",
		"previous_status": string(status), "changed": false}
	switch {
	case status == iamtypes.StatusTypeActive:
		// Mark first: if the step stops between the two calls, its retry finds the mark on an
		// Active key and finishes; the other order could leave an Inactive key nobody marked.
		if value != mark {
			if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: &in.UserName,
				Tags: []iamtypes.Tag{{Key: &tag, Value: &mark}}}); err != nil {
				return Result{}, awsFailure(err)
			}
		}
		if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &in.UserName,
			AccessKeyId: &in.AccessKeyID, Status: iamtypes.StatusTypeInactive}); err != nil {
			return Result{}, awsFailure(err)
		}
		out["changed"] = true
	case value == mark:
		// An earlier attempt of this step deactivated it.
		out["previous_status"], out["changed"] = string(iamtypes.StatusTypeActive), true
	default:
		return Result{Outputs: out, Summary: fmt.Sprintf("access key %s of user %s was already %s: no change", in.AccessKeyID, in.UserName, status)}, nil
	}
	return Result{Outputs: out, Summary: fmt.Sprintf("deactivated access key %s of user %s (was Active)", in.AccessKeyID, in.UserName)}, nil
}

func (a *AWS) iamReactivateAccessKey() Action {
	const name = "aws.iam.reactivate_access_key"
	return readThenWrite(name,
		"Reactivate an IAM user's access key and remove the firebreak:deactivated:<key> user tag. "+
			"As the compensation of aws.iam.deactivate_access_key it reactivates the key only if that step "+
			"deactivated it (a key that was Inactive before stays Inactive); as a step of its own it reactivates the key.",
		Permissions{IAM: iamPerms(iamUsers, "iam:ListAccessKeys", "iam:GetUser", "iam:UpdateAccessKey", "iam:UntagUser")},
		func(ctx context.Context, req Request, in AccessKeyInput, write bool) (Result, Plan, error) {
			if err := in.check(name); err != nil {
				return Result{}, Plan{}, err
			}
			sess, err := a.session(ctx, req, in.AWSTarget)
			if err != nil {
				return Result{}, Plan{}, err
			}
			res, plan, err := reactivateKey(ctx, iam.NewFromConfig(sess.Config), req, in, write)
			res.RequestIDs, res.Resource = sess.RequestIDs(), in.AccessKeyID
			return res, plan, err
		})
}

// reactivateKey plans (write false) or makes the reactivation.
func reactivateKey(ctx context.Context, c *iam.Client, req Request, in AccessKeyInput, write bool) (Result, Plan, error) {
	const action = "aws.iam.reactivate_access_key"
	status, err := keyStatus(ctx, c, action, in.UserName, in.AccessKeyID)
	if err != nil {
		return Result{}, Plan{}, err
	}
	tag := deactivatedTag(in.AccessKeyID)
	value, tagged, _, err := userTag(ctx, c, in.UserName, tag)
	if err != nil {
		return Result{}, Plan{}, err
	}
	out := map[string]any{"user_name": in.UserName, "access_key_id": in.AccessKeyID,
		"previous_status": string(status), "status": string(status), "changed": false}
	ours := tagged && value == stepMark(req)
	if isCompensation(req) && !ours {
		why := fmt.Sprintf("access key %s of user %s is %s and its step did not deactivate it (it was Inactive before, or the step never ran): no change",
			in.AccessKeyID, in.UserName, status)
		return Result{Outputs: out, Summary: why}, Plan{Summary: why}, nil
	}
	var changes []string
	if status != iamtypes.StatusTypeActive {
		changes = append(changes, fmt.Sprintf("set access key %s Active", in.AccessKeyID))
	}
	if tagged {
		changes = append(changes, fmt.Sprintf("remove tag %s from user %s", tag, in.UserName))
	}
	if len(changes) == 0 {
		why := fmt.Sprintf("access key %s of user %s is already Active: no change", in.AccessKeyID, in.UserName)
		return Result{Outputs: out, Summary: why}, Plan{Summary: why}, nil
	}
	plan := Plan{Summary: fmt.Sprintf("reactivate access key %s of user %s (%s → Active)", in.AccessKeyID, in.UserName, status), Changes: changes}
	if status == iamtypes.StatusTypeActive {
		plan.Summary = fmt.Sprintf("access key %s of user %s is Active: remove its leftover tag %s", in.AccessKeyID, in.UserName, tag)
	}
	if !write {
		return Result{}, plan, nil
	}
	// Reactivate before removing the mark: a retry after the first call still finds the mark.
	if status != iamtypes.StatusTypeActive {
		if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &in.UserName,
			AccessKeyId: &in.AccessKeyID, Status: iamtypes.StatusTypeActive}); err != nil {
			return Result{}, Plan{}, awsFailure(err)
		}
	}
	if tagged {
		if _, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: &in.UserName, TagKeys: []string{tag}}); err != nil {
			return Result{}, Plan{}, awsFailure(err)
		}
	}
	out["status"], out["changed"] = string(iamtypes.StatusTypeActive), true
	switch {
	case status != iamtypes.StatusTypeActive:
	case ours:
		// An earlier attempt reactivated it; it was Inactive before that.
		out["previous_status"] = string(iamtypes.StatusTypeInactive)
	default:
		return Result{Outputs: out, Summary: fmt.Sprintf("access key %s of user %s was already Active: removed its leftover tag %s", in.AccessKeyID, in.UserName, tag)}, plan, nil
	}
	return Result{Outputs: out, Summary: fmt.Sprintf("reactivated access key %s of user %s (was %s)", in.AccessKeyID, in.UserName, out["previous_status"])}, plan, nil
}

// --- inline policies: aws.iam.attach_deny_all, aws.iam.revoke_role_sessions and their inverses ---

// inlinePolicies are the inline policies of one IAM user or role.
type inlinePolicies struct {
	kind, name string // "user", "alice"
	c          *iam.Client
}

func (p inlinePolicies) String() string { return p.kind + " " + p.name }

// arn returns the principal's ARN; an unknown user or role fails here with IAM's NoSuchEntity,
// before anything changes (a missing policy is NoSuchEntity too, so get cannot tell them apart).
func (p inlinePolicies) arn(ctx context.Context) (string, error) {
	if p.kind == "user" {
		out, err := p.c.GetUser(ctx, &iam.GetUserInput{UserName: &p.name})
		if err != nil {
			return "", awsFailure(err)
		}
		return awssdk.ToString(out.User.Arn), nil
	}
	out, err := p.c.GetRole(ctx, &iam.GetRoleInput{RoleName: &p.name})
	if err != nil {
		return "", awsFailure(err)
	}
	return awssdk.ToString(out.Role.Arn), nil
}

// get returns a policy's document; found is false when the principal has no such policy.
func (p inlinePolicies) get(ctx context.Context, policy string) (doc string, found bool, err error) {
	var raw *string
	if p.kind == "user" {
		var out *iam.GetUserPolicyOutput
		if out, err = p.c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: &p.name, PolicyName: &policy}); err == nil {
			raw = out.PolicyDocument
		}
	} else {
		var out *iam.GetRolePolicyOutput
		if out, err = p.c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &p.name, PolicyName: &policy}); err == nil {
			raw = out.PolicyDocument
		}
	}
	if isNoSuchEntity(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, awsFailure(err)
	}
	// IAM returns documents URL-encoded (RFC 3986, so '+' is a plus, not a space).
	doc, err = url.PathUnescape(awssdk.ToString(raw))
	if err != nil {
		return "", false, temporal.NewNonRetryableApplicationError(fmt.Sprintf("inline policy %s of %s: undecodable document: %v", policy, p, err), "MalformedPolicyDocument", err)
	}
	return doc, true, nil
}

func (p inlinePolicies) put(ctx context.Context, policy, doc string) error {
	var err error
	if p.kind == "user" {
		_, err = p.c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &p.name, PolicyName: &policy, PolicyDocument: &doc})
	} else {
		_, err = p.c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &p.name, PolicyName: &policy, PolicyDocument: &doc})
	}
	return awsFailure(err)
}

// del deletes a policy; one already gone is success (a retry after the delete).
func (p inlinePolicies) del(ctx context.Context, policy string) error {
	var err error
	if p.kind == "user" {
		_, err = p.c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &p.name, PolicyName: &policy})
	} else {
		_, err = p.c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &p.name, PolicyName: &policy})
	}
	if isNoSuchEntity(err) {
		return nil
	}
	return awsFailure(err)
}

// inlineDoc is a policy document with its statements kept as written, so that Firebreak adds
// and removes its own statements without rewriting anyone else's.
type inlineDoc struct {
	Version   string            `json:"Version,omitempty"`
	Statement []json.RawMessage `json:"Statement"`
}

func parseInlineDoc(doc string) (inlineDoc, error) {
	var raw struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return inlineDoc{}, err
	}
	d := inlineDoc{Version: raw.Version}
	if s := bytes.TrimSpace(raw.Statement); len(s) > 0 && s[0] == '{' {
		d.Statement = []json.RawMessage{s} // the grammar allows a single statement object
		return d, nil
	}
	if err := json.Unmarshal(raw.Statement, &d.Statement); err != nil {
		return inlineDoc{}, err
	}
	return d, nil
}

// String is the document as Firebreak writes it: compact, statements in order. A document in
// this form is restored exactly by re-encoding what is left of it.
func (d inlineDoc) String() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(d) // raw statements came from a JSON document, so they encode
	return strings.TrimSuffix(b.String(), "\n")
}

func statementSid(raw json.RawMessage) string {
	var s struct{ Sid string }
	_ = json.Unmarshal(raw, &s)
	return s.Sid
}

// firebreakStatement is a statement Firebreak writes; field order as in AWS's examples.
type firebreakStatement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Action    string                       `json:"Action"`
	Resource  string                       `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

func (s firebreakStatement) raw() json.RawMessage {
	b, _ := json.Marshal(s) // plain strings and maps: cannot fail
	return b
}

// markedPolicy is an inline policy Firebreak owns by name. It holds one statement per step that
// added it, with the step's mark in the Sid, so that steps of several incidents can hold the same
// user or role and each rollback takes back only its own statement. A policy of that name that
// is not in Firebreak's form is kept verbatim in <name>-saved-<mark> and put back on rollback.
type markedPolicy struct {
	name      string // firebreak-deny-all
	sidPrefix string // FirebreakDenyAll
}

var (
	denyAllPolicy = markedPolicy{name: "firebreak-deny-all", sidPrefix: "FirebreakDenyAll"}
	revokePolicy  = markedPolicy{name: "firebreak-revoke-older-sessions", sidPrefix: "FirebreakRevoke"}
)

func (m markedPolicy) sid(mark string) string   { return m.sidPrefix + mark }
func (m markedPolicy) saved(mark string) string { return m.name + "-saved-" + mark }

// ownSid says whether sid is a statement of this policy's kind that Firebreak wrote.
func (m markedPolicy) ownSid(sid string) bool {
	mark, ok := strings.CutPrefix(sid, m.sidPrefix)
	return ok && len(mark) == 16
}

// addition is what adding a step's statement found and did.
type addition struct {
	Present   bool            // the policy existed before the step
	Previous  string          // its document then ("" when absent)
	SaveFirst bool            // not in Firebreak's form: kept verbatim in the saved copy
	Done      bool            // an earlier attempt of the step added the statement
	Statement json.RawMessage // the step's statement as it is (or will be) in the policy
}

func (m markedPolicy) read(ctx context.Context, p inlinePolicies, policy string) (inlineDoc, string, bool, error) {
	doc, found, err := p.get(ctx, policy)
	if err != nil || !found {
		return inlineDoc{}, "", false, err
	}
	d, err := parseInlineDoc(doc)
	if err != nil {
		return inlineDoc{}, "", false, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("inline policy %s of %s is not a policy document Firebreak can read: %v", policy, p, err), "MalformedPolicyDocument", err)
	}
	return d, doc, true, nil
}

// add puts the step's statement into the policy (write false: only says what it would do).
func (m markedPolicy) add(ctx context.Context, p inlinePolicies, mark string, stmt json.RawMessage, write bool) (addition, error) {
	d, doc, found, err := m.read(ctx, p, m.name)
	if err != nil {
		return addition{}, err
	}
	sid := m.sid(mark)
	var rest []json.RawMessage
	var mine json.RawMessage
	for _, s := range d.Statement {
		if statementSid(s) == sid {
			mine = s
		} else {
			rest = append(rest, s)
		}
	}
	if mine != nil {
		res := addition{Done: true, Statement: mine}
		if len(rest) > 0 {
			res.Present, res.Previous = true, inlineDoc{Version: d.Version, Statement: rest}.String()
			saved, ok, err := p.get(ctx, m.saved(mark))
			if err != nil {
				return addition{}, err
			}
			if ok {
				res.Previous = saved
			}
		}
		return res, nil
	}
	res := addition{Present: found, Previous: doc, SaveFirst: found && d.String() != doc, Statement: stmt}
	if !write {
		return res, nil
	}
	if res.SaveFirst {
		// Saved before the policy changes, so a retry or a rollback always finds it.
		if err := p.put(ctx, m.saved(mark), doc); err != nil {
			return addition{}, err
		}
	}
	if !found {
		d.Version = PolicyVersion
	}
	d.Statement = append(d.Statement, stmt)
	return res, p.put(ctx, m.name, d.String())
}

// removal is what taking statements out found and did.
type removal struct {
	Statements int  // Firebreak statements taken out
	Restored   bool // the saved previous document was put back verbatim
	Deleted    bool // the policy held nothing else and was deleted
	Kept       int  // other statements left in the policy
	Saved      int  // saved copies deleted
	Changes    []string
}

// remove takes out the statement of the step marked mark, or every Firebreak statement when
// mark is "" (write false: only says what it would do). Order matters for retries: the policy
// is rewritten before the saved copy goes, so a stopped rollback finds the copy next time.
func (m markedPolicy) remove(ctx context.Context, p inlinePolicies, mark string, write bool) (removal, error) {
	d, _, found, err := m.read(ctx, p, m.name)
	if err != nil {
		return removal{}, err
	}
	var keep []json.RawMessage
	var marks []string
	for _, s := range d.Statement {
		sid := statementSid(s)
		if (mark != "" && sid == m.sid(mark)) || (mark == "" && m.ownSid(sid)) {
			marks = append(marks, strings.TrimPrefix(sid, m.sidPrefix))
		} else {
			keep = append(keep, s)
		}
	}
	r := removal{Statements: len(marks), Kept: len(keep)}
	// The step's own copy is looked for even when its statement is gone: a rollback stopped
	// after restoring the document leaves it behind.
	if mark != "" && !slices.Contains(marks, mark) {
		marks = append(marks, mark)
	}
	var savedNames []string
	restore := ""
	left := inlineDoc{Version: d.Version, Statement: keep}
	for _, mk := range marks {
		name := m.saved(mk)
		saved, ok, err := p.get(ctx, name)
		if err != nil {
			return removal{}, err
		}
		if !ok {
			continue
		}
		savedNames = append(savedNames, name)
		if sd, err := parseInlineDoc(saved); err == nil && restore == "" &&
			(inlineDoc{Statement: sd.Statement}).String() == (inlineDoc{Statement: keep}).String() {
			restore = saved // what is left is what was saved: put back its exact text
		}
	}
	switch {
	case !found || r.Statements == 0:
	case restore != "":
		r.Restored = true
		r.Changes = append(r.Changes, fmt.Sprintf("put back the previous document of inline policy %s on %s", m.name, p))
	case len(keep) == 0:
		r.Deleted = true
		r.Changes = append(r.Changes, fmt.Sprintf("delete inline policy %s from %s", m.name, p))
	default:
		r.Changes = append(r.Changes, fmt.Sprintf("remove %d Firebreak statement(s) from inline policy %s on %s, keeping %d", r.Statements, m.name, p, len(keep)))
	}
	for _, n := range savedNames {
		r.Changes = append(r.Changes, fmt.Sprintf("delete saved copy %s from %s", n, p))
	}
	r.Saved = len(savedNames)
	if !write {
		return r, nil
	}
	switch {
	case r.Restored:
		err = p.put(ctx, m.name, restore)
	case r.Deleted:
		err = p.del(ctx, m.name)
	case r.Statements > 0:
		err = p.put(ctx, m.name, left.String())
	}
	if err != nil {
		return removal{}, err
	}
	for _, n := range savedNames {
		if err := p.del(ctx, n); err != nil {
			return removal{}, err
		}
	}
	return r, nil
}

// inverseMark is the mark an inverse action removes: its step's when it runs as a compensation,
// "" (every Firebreak statement) when it is a step of its own.
func inverseMark(req Request) string {
	if isCompensation(req) {
		return stepMark(req)
	}
	return ""
}

// PrincipalInput names an IAM user or an IAM role: exactly one.
type PrincipalInput struct {
	AWSTarget
	UserName string `json:"user_name,omitempty"`
	RoleName string `json:"role_name,omitempty"`
}

func (in PrincipalInput) policies(action string, c *iam.Client) (inlinePolicies, error) {
	switch {
	case (in.UserName == "") == (in.RoleName == ""):
		return inlinePolicies{}, badInput(action, "name exactly one of user_name and role_name")
	case in.UserName != "":
		return inlinePolicies{kind: "user", name: in.UserName, c: c}, checkIAMName(action, "user_name", in.UserName)
	default:
		return inlinePolicies{kind: "role", name: in.RoleName, c: c}, checkIAMName(action, "role_name", in.RoleName)
	}
}

// principalPolicyPerms are the permissions to read and write inline policies of users and roles.
// principalPolicyPerms are the inline-policy permissions for a user (when the step sets
// user_name) or a role (role_name): a playbook that only denies users is not granted roles.
func principalPolicyPerms(ops ...string) map[string][]IAMPermission {
	out := map[string][]IAMPermission{}
	for _, kind := range []struct{ input, res, entity string }{{"user_name", iamUsers, "User"}, {"role_name", iamRoles, "Role"}} {
		perms := []IAMPermission{{Action: "iam:Get" + kind.entity, Resource: kind.res}}
		for _, op := range ops {
			perms = append(perms, IAMPermission{Action: "iam:" + op + kind.entity + "Policy", Resource: kind.res})
		}
		out[kind.input] = perms
	}
	return out
}

func (a *AWS) iamAttachDenyAll() Action {
	return principalAction[PrincipalInput](a, "aws.iam.attach_deny_all",
		"Deny every action to an IAM user or role (user_name or role_name) with the inline policy "+
			denyAllPolicy.name+" (Deny * on *), one statement per step. Inverse: aws.iam.detach_deny_all, which "+
			"removes only this step's statement and restores a same-named policy that was there before exactly.",
		Permissions{IAMByInput: principalPolicyPerms("Get", "Put")}, attachDenyAll)
}

func attachDenyAll(ctx context.Context, pol inlinePolicies, req Request, write bool) (Result, Plan, error) {
	arn, err := pol.arn(ctx)
	if err != nil {
		return Result{}, Plan{}, err
	}
	mark := stepMark(req)
	stmt := firebreakStatement{Sid: denyAllPolicy.sid(mark), Effect: "Deny", Action: "*", Resource: "*"}
	ad, err := denyAllPolicy.add(ctx, pol, mark, stmt.raw(), write)
	if err != nil {
		return Result{}, Plan{}, err
	}
	plan := Plan{Summary: fmt.Sprintf("deny every action to %s with inline policy %s (Deny * on *)", pol, denyAllPolicy.name)}
	switch {
	case ad.Done:
		plan = Plan{Summary: fmt.Sprintf("no change: %s is already denied everything by this step (inline policy %s)", pol, denyAllPolicy.name)}
	case ad.SaveFirst:
		plan.Changes = []string{
			fmt.Sprintf("save the existing inline policy %s verbatim as %s (put back on rollback)", denyAllPolicy.name, denyAllPolicy.saved(mark)),
			fmt.Sprintf("add statement %s to inline policy %s", stmt.Sid, denyAllPolicy.name)}
	case ad.Present:
		plan.Changes = []string{fmt.Sprintf("add statement %s to the existing inline policy %s", stmt.Sid, denyAllPolicy.name)}
	default:
		plan.Changes = []string{fmt.Sprintf("put inline policy %s with statement %s", denyAllPolicy.name, stmt.Sid)}
	}
	out := map[string]any{"principal_type": pol.kind, "principal_name": pol.name, "principal_arn": arn,
		"policy_name": denyAllPolicy.name, "statement_sid": stmt.Sid, "changed": true,
		"previously_present": ad.Present, "previous_document": ad.Previous}
	summary := fmt.Sprintf("denied every action to %s: inline policy %s, statement %s", pol, denyAllPolicy.name, stmt.Sid)
	if ad.Present {
		summary += " (the policy existed before; rollback restores it as it was)"
	}
	return Result{Outputs: out, Summary: summary, Resource: arn}, plan, nil
}

func (a *AWS) iamDetachDenyAll() Action {
	return principalAction[PrincipalInput](a, "aws.iam.detach_deny_all",
		"Lift Firebreak's deny-all from an IAM user or role. As the compensation of aws.iam.attach_deny_all "+
			"it removes that step's statement only (and restores a same-named policy that was there before, exactly); "+
			"as a step of its own it removes every Firebreak deny-all statement.",
		Permissions{IAMByInput: principalPolicyPerms("Get", "Put", "Delete")},
		func(ctx context.Context, pol inlinePolicies, req Request, write bool) (Result, Plan, error) {
			return removeMarked(ctx, pol, denyAllPolicy, "deny-all", req, write)
		})
}

// removeMarked is the body of the inverse actions: what inverse removes, planned or done.
func removeMarked(ctx context.Context, pol inlinePolicies, m markedPolicy, what string, req Request, write bool) (Result, Plan, error) {
	arn, err := pol.arn(ctx)
	if err != nil {
		return Result{}, Plan{}, err
	}
	r, err := m.remove(ctx, pol, inverseMark(req), write)
	if err != nil {
		return Result{}, Plan{}, err
	}
	changed := r.Statements > 0 || r.Saved > 0
	out := map[string]any{"principal_type": pol.kind, "principal_name": pol.name, "principal_arn": arn,
		"policy_name": m.name, "changed": changed, "removed_statements": r.Statements,
		"restored_previous": r.Restored, "deleted": r.Deleted}
	if !changed {
		why := fmt.Sprintf("no change: %s has no Firebreak %s statement to remove (inline policy %s)", pol, what, m.name)
		if isCompensation(req) {
			why = fmt.Sprintf("no change: %s holds no %s statement of this step (inline policy %s)", pol, what, m.name)
		}
		return Result{Outputs: out, Summary: why, Resource: arn}, Plan{Summary: why}, nil
	}
	plan := Plan{Summary: fmt.Sprintf("lift Firebreak's %s from %s", what, pol), Changes: r.Changes}
	var how string
	switch {
	case r.Restored:
		how = "the previous document put back"
	case r.Deleted:
		how = "policy deleted"
	case r.Statements > 0:
		how = fmt.Sprintf("%d other statement(s) kept", r.Kept)
	default:
		how = "a leftover saved copy deleted"
	}
	summary := fmt.Sprintf("lifted Firebreak's %s from %s: %s (%s)", what, pol, m.name, how)
	return Result{Outputs: out, Summary: summary, Resource: arn}, plan, nil
}

// RoleInput names an IAM role.
type RoleInput struct {
	AWSTarget
	RoleName string `json:"role_name" action:"required"`
}

func (in RoleInput) target() AWSTarget { return in.AWSTarget }

func (in RoleInput) policies(action string, c *iam.Client) (inlinePolicies, error) {
	return inlinePolicies{kind: "role", name: in.RoleName, c: c}, checkIAMName(action, "role_name", in.RoleName)
}

func (in UserInput) target() AWSTarget { return in.AWSTarget }

func (in UserInput) policies(action string, c *iam.Client) (inlinePolicies, error) {
	return inlinePolicies{kind: "user", name: in.UserName, c: c}, checkIAMName(action, "user_name", in.UserName)
}

func (in PrincipalInput) target() AWSTarget { return in.AWSTarget }

// principalInput names the IAM principal whose inline policies an action edits: a role or a user
// (separate actions per kind keep each playbook's IAM policy to the kind it touches), or either
// (PrincipalInput, with permissions by input).
type principalInput interface {
	target() AWSTarget
	policies(action string, c *iam.Client) (inlinePolicies, error)
}

// principalAction builds an action that edits the named principal's inline policies with body,
// after checking the name and before any call.
func principalAction[In principalInput](a *AWS, name, description string, perms Permissions,
	body func(ctx context.Context, pol inlinePolicies, req Request, write bool) (Result, Plan, error)) Action {
	return readThenWrite(name, description, perms, func(ctx context.Context, req Request, in In, write bool) (Result, Plan, error) {
		if _, err := in.policies(name, nil); err != nil {
			return Result{}, Plan{}, err
		}
		sess, err := a.session(ctx, req, in.target())
		if err != nil {
			return Result{}, Plan{}, err
		}
		pol, _ := in.policies(name, iam.NewFromConfig(sess.Config))
		res, plan, err := body(ctx, pol, req, write)
		res.RequestIDs = sess.RequestIDs()
		return res, plan, err
	})
}

func (a *AWS) iamRevokeRoleSessions() Action {
	return principalAction[RoleInput](a, "aws.iam.revoke_role_sessions",
		"Revoke a role's active sessions as the console's \"revoke active sessions\" does: inline policy "+
			revokePolicy.name+" denying everything to credentials issued before the step ran (aws:TokenIssueTime). "+
			"New sessions work. Inverse: aws.iam.unrevoke_role_sessions.",
		Permissions{IAM: iamPerms(iamRoles, "iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy")}, revokeSessions)
}

// A user's temporary credentials (from sts:GetSessionToken with a leaked key) outlive the key's
// deactivation; the same TokenIssueTime deny on the user ends them.
func (a *AWS) iamRevokeUserSessions() Action {
	return principalAction[UserInput](a, "aws.iam.revoke_user_sessions",
		"Revoke the temporary credentials an IAM user's keys issued (sts:GetSessionToken, GetFederationToken), "+
			"which deactivating the key leaves valid: inline policy "+revokePolicy.name+" denying everything to "+
			"credentials issued before the step ran (aws:TokenIssueTime). Inverse: aws.iam.unrevoke_user_sessions.",
		Permissions{IAM: iamPerms(iamUsers, "iam:GetUser", "iam:GetUserPolicy", "iam:PutUserPolicy")}, revokeSessions)
}

func revokeSessions(ctx context.Context, pol inlinePolicies, req Request, write bool) (Result, Plan, error) {
	arn, err := pol.arn(ctx)
	if err != nil {
		return Result{}, Plan{}, err
	}
	mark := stepMark(req)
	// The cutoff is the step's first run: a retry reads it back from its own statement.
	cutoff := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	stmt := firebreakStatement{Sid: revokePolicy.sid(mark), Effect: "Deny", Action: "*", Resource: "*",
		Condition: map[string]map[string]string{"DateLessThan": {"aws:TokenIssueTime": cutoff}}}
	ad, err := revokePolicy.add(ctx, pol, mark, stmt.raw(), write)
	if err != nil {
		return Result{}, Plan{}, err
	}
	if ad.Done {
		var s firebreakStatement
		if err := json.Unmarshal(ad.Statement, &s); err == nil && s.Condition["DateLessThan"]["aws:TokenIssueTime"] != "" {
			cutoff = s.Condition["DateLessThan"]["aws:TokenIssueTime"]
		}
	}
	// The plan names no time: it would change between the plan an approver signs and the run.
	plan := Plan{Summary: fmt.Sprintf("revoke the sessions of %s issued before the step runs (inline policy %s: Deny * when aws:TokenIssueTime is earlier)", pol, revokePolicy.name)}
	switch {
	case ad.Done:
		plan = Plan{Summary: fmt.Sprintf("no change: this step already revoked the sessions of %s issued before %s", pol, cutoff)}
	case ad.SaveFirst:
		plan.Changes = []string{
			fmt.Sprintf("save the existing inline policy %s verbatim as %s (put back on rollback)", revokePolicy.name, revokePolicy.saved(mark)),
			fmt.Sprintf("add statement %s to inline policy %s", stmt.Sid, revokePolicy.name)}
	case ad.Present:
		plan.Changes = []string{fmt.Sprintf("add statement %s to the existing inline policy %s", stmt.Sid, revokePolicy.name)}
	default:
		plan.Changes = []string{fmt.Sprintf("put inline policy %s with statement %s", revokePolicy.name, stmt.Sid)}
	}
	out := map[string]any{pol.kind + "_name": pol.name, pol.kind + "_arn": arn, "policy_name": revokePolicy.name,
		"statement_sid": stmt.Sid, "revoked_before": cutoff, "changed": true, "previously_present": ad.Present}
	summary := fmt.Sprintf("revoked the sessions of %s issued before %s (inline policy %s)", pol, cutoff, revokePolicy.name)
	return Result{Outputs: out, Summary: summary, Resource: arn}, plan, nil
}

func (a *AWS) iamUnrevokeRoleSessions() Action {
	return principalAction[RoleInput](a, "aws.iam.unrevoke_role_sessions",
		"Lift a session revocation of aws.iam.revoke_role_sessions. As its compensation it removes that "+
			"step's statement only; as a step of its own it removes every Firebreak revocation of the role.",
		Permissions{IAM: iamPerms(iamRoles, "iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy")}, unrevokeSessions)
}

func (a *AWS) iamUnrevokeUserSessions() Action {
	return principalAction[UserInput](a, "aws.iam.unrevoke_user_sessions",
		"Lift a session revocation of aws.iam.revoke_user_sessions. As its compensation it removes that "+
			"step's statement only; as a step of its own it removes every Firebreak revocation of the user.",
		Permissions{IAM: iamPerms(iamUsers, "iam:GetUser", "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy")}, unrevokeSessions)
}

func unrevokeSessions(ctx context.Context, pol inlinePolicies, req Request, write bool) (Result, Plan, error) {
	res, plan, err := removeMarked(ctx, pol, revokePolicy, "session revocation", req, write)
	if _, ok := res.Outputs["principal_name"]; ok {
		// Named like revoke_<kind>_sessions' outputs.
		res.Outputs[pol.kind+"_name"], res.Outputs[pol.kind+"_arn"] = res.Outputs["principal_name"], res.Outputs["principal_arn"]
	}
	return res, plan, err
}

// --- aws.iam.disable_console_login ---

func (a *AWS) iamDisableConsoleLogin() Action {
	return principalAction[UserInput](a, "aws.iam.disable_console_login",
		"Disable an IAM user's console sign-in by deleting the login profile (password). A user without "+
			"one is success. No inverse action: the password cannot be restored, so giving console access back is "+
			"a manual task (iam:CreateLoginProfile with a new password, handed over out of band).",
		Permissions{IAM: iamPerms(iamUsers, "iam:GetUser", "iam:GetLoginProfile", "iam:DeleteLoginProfile")},
		func(ctx context.Context, pol inlinePolicies, _ Request, write bool) (Result, Plan, error) {
			return disableConsoleLogin(ctx, pol.c, pol.name, write)
		})
}

func disableConsoleLogin(ctx context.Context, c *iam.Client, user string, write bool) (Result, Plan, error) {
	// GetUser first: GetLoginProfile answers NoSuchEntity both for no user and for no password.
	u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: &user})
	if err != nil {
		return Result{}, Plan{}, awsFailure(err)
	}
	arn := awssdk.ToString(u.User.Arn)
	out := map[string]any{"user_name": user, "user_arn": arn, "had_login_profile": false, "changed": false, "login_profile_created": ""}
	lp, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: &user})
	if isNoSuchEntity(err) {
		why := fmt.Sprintf("no change: user %s has no console password", user)
		return Result{Outputs: out, Summary: why, Resource: arn}, Plan{Summary: why}, nil
	}
	if err != nil {
		return Result{}, Plan{}, awsFailure(err)
	}
	created := iamDate(lp.LoginProfile.CreateDate)
	plan := Plan{
		Summary: fmt.Sprintf("delete the console password of user %s (set %s); it cannot be restored, only replaced by hand", user, created),
		Changes: []string{fmt.Sprintf("delete the login profile of user %s", user)},
	}
	if !write {
		return Result{}, plan, nil
	}
	if _, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: &user}); err != nil && !isNoSuchEntity(err) {
		return Result{}, Plan{}, awsFailure(err)
	}
	out["had_login_profile"], out["changed"], out["login_profile_created"] = true, true, created
	return Result{Outputs: out, Resource: arn,
		Summary: fmt.Sprintf("deleted the console password of user %s (set %s): console sign-in disabled", user, created)}, plan, nil
}

// --- aws.iam.instance_profile_role ---

// InstanceProfileInput names an instance profile by ARN or by name: exactly one.
type InstanceProfileInput struct {
	AWSTarget
	InstanceProfileARN  string `json:"instance_profile_arn,omitempty"`
	InstanceProfileName string `json:"instance_profile_name,omitempty"`
}

// instanceProfileNameRe is IAM's pattern for instance profile names.
var instanceProfileNameRe = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)

// instanceProfileARNRe splits arn:aws:iam::ACCOUNT:instance-profile/path/NAME.
var instanceProfileARNRe = regexp.MustCompile(`^arn:aws[\w-]*:iam::\d{12}:instance-profile/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,128})$`)

func (in InstanceProfileInput) name(action string) (string, error) {
	switch {
	case (in.InstanceProfileARN == "") == (in.InstanceProfileName == ""):
		return "", badInput(action, "name exactly one of instance_profile_arn and instance_profile_name")
	case in.InstanceProfileARN != "":
		m := instanceProfileARNRe.FindStringSubmatch(in.InstanceProfileARN)
		if m == nil {
			return "", badInput(action, "instance_profile_arn %q is not an instance profile ARN (arn:aws:iam::123456789012:instance-profile/NAME)", in.InstanceProfileARN)
		}
		return m[1], nil
	default:
		if !instanceProfileNameRe.MatchString(in.InstanceProfileName) {
			return "", badInput(action, "instance_profile_name %q is not an IAM name", in.InstanceProfileName)
		}
		return in.InstanceProfileName, nil
	}
}

func (a *AWS) iamInstanceProfileRole() Action {
	const name = "aws.iam.instance_profile_role"
	return Def[InstanceProfileInput]{
		Name:        name,
		Description: "Find the role behind an instance profile (by ARN or name), e.g. to sweep its CloudTrail events.",
		Permissions: Permissions{IAM: iamPerms(iamInstanceProfiles, "iam:GetInstanceProfile")},
		PlanFunc: func(_ context.Context, _ Request, in InstanceProfileInput) (Plan, error) {
			profile, err := in.name(name)
			if err != nil {
				return Plan{}, err
			}
			return Plan{Summary: "read only: find the role of instance profile " + profile}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in InstanceProfileInput) (Result, error) {
			profile, err := in.name(name)
			if err != nil {
				return Result{}, err
			}
			sess, err := a.session(ctx, req, in.AWSTarget)
			if err != nil {
				return Result{}, err
			}
			out, err := iam.NewFromConfig(sess.Config).GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: &profile})
			if err != nil {
				return Result{RequestIDs: sess.RequestIDs()}, awsFailure(err)
			}
			ip := out.InstanceProfile
			outputs := map[string]any{"instance_profile_name": awssdk.ToString(ip.InstanceProfileName),
				"instance_profile_arn": awssdk.ToString(ip.Arn), "role_name": "", "role_arn": "", "has_role": false}
			res := Result{Outputs: outputs, RequestIDs: sess.RequestIDs(), Resource: awssdk.ToString(ip.Arn),
				Summary: fmt.Sprintf("instance profile %s has no role", profile)}
			if len(ip.Roles) > 0 { // AWS allows one role per instance profile
				r := ip.Roles[0]
				outputs["role_name"], outputs["role_arn"], outputs["has_role"] = awssdk.ToString(r.RoleName), awssdk.ToString(r.Arn), true
				res.Summary = fmt.Sprintf("instance profile %s carries role %s (%s)", profile, awssdk.ToString(r.RoleName), awssdk.ToString(r.Arn))
			}
			return res, nil
		},
	}
}
