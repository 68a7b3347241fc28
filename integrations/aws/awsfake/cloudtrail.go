package awsfake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cloudtrailState is the fake's CloudTrail state; the Server's mutex guards it. Event history is
// per account and region, as in AWS.
type cloudtrailState struct {
	events map[string][]TrailEvent // "account/region" -> events, newest first
	nextID int
}

func newCloudTrailState() *cloudtrailState {
	return &cloudtrailState{events: map[string][]TrailEvent{}}
}

// registerCloudTrail registers the CloudTrail operations the fake serves.
func registerCloudTrail(s *Server) {
	s.Handle("cloudtrail", "LookupEvents", cloudtrailLookupEvents)
}

// TrailEvent is one management event in CloudTrail's event history.
type TrailEvent struct {
	EventID     string // generated when empty
	EventName   string // "GetObject"
	EventSource string // "s3.amazonaws.com"
	EventTime   time.Time
	Username    string // IAM user name, or the role session name for assumed roles
	AccessKeyID string
	ReadOnly    bool
	Resources   []TrailResource
	SourceIP    string
	UserAgent   string
	ErrorCode   string // "" when the call succeeded
}

// TrailResource is a resource an event names.
type TrailResource struct {
	Type string // "AWS::S3::Bucket"
	Name string
}

// AddTrailEvents adds events to account's event history in region.
func (s *Server) AddTrailEvents(account, region string, events ...TrailEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.cloudtrail
	k := account + "/" + region
	for _, e := range events {
		if e.EventID == "" {
			st.nextID++
			e.EventID = fmt.Sprintf("00000000-0000-4000-8000-%012d", st.nextID)
		}
		e.Resources = slices.Clone(e.Resources)
		st.events[k] = append(st.events[k], e)
	}
	// LookupEvents answers newest first; stable so that events of the same second keep their order.
	slices.SortStableFunc(st.events[k], func(a, b TrailEvent) int { return b.EventTime.Compare(a.EventTime) })
}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *cloudtrailState) snapshot() any {
	out := map[string][]TrailEvent{}
	for k, evs := range st.events {
		cp := make([]TrailEvent, len(evs))
		for i, e := range evs {
			e.Resources = slices.Clone(e.Resources)
			cp[i] = e
		}
		out[k] = cp
	}
	return out
}

type lookupEventsInput struct {
	LookupAttributes []struct {
		AttributeKey   string
		AttributeValue string
	}
	StartTime     *float64
	EndTime       *float64
	MaxResults    *int
	NextToken     *string
	EventCategory string
}

type jsonEvent struct {
	EventID         string         `json:"EventId"`
	EventName       string         `json:"EventName"`
	ReadOnly        string         `json:"ReadOnly"`
	AccessKeyID     string         `json:"AccessKeyId,omitempty"`
	EventTime       float64        `json:"EventTime"`
	EventSource     string         `json:"EventSource"`
	Username        string         `json:"Username,omitempty"`
	Resources       []jsonResource `json:"Resources"`
	CloudTrailEvent string         `json:"CloudTrailEvent"`
}

type jsonResource struct {
	ResourceType string `json:"ResourceType"`
	ResourceName string `json:"ResourceName"`
}

type lookupEventsOutput struct {
	Events    []jsonEvent `json:"Events"`
	NextToken string      `json:"NextToken,omitempty"`
}

// maxLookupResults is LookupEvents' page size limit.
const maxLookupResults = 50

func cloudtrailLookupEvents(s *Server, r *Request) (any, error) {
	var in lookupEventsInput
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return nil, &APIError{Code: "SerializationException", Message: err.Error()}
	}
	if len(in.LookupAttributes) > 1 {
		return nil, &APIError{Code: "InvalidLookupAttributesException", Message: "You cannot specify more than one lookup attribute."}
	}
	match := func(TrailEvent) bool { return true }
	if len(in.LookupAttributes) == 1 {
		key, value := in.LookupAttributes[0].AttributeKey, in.LookupAttributes[0].AttributeValue
		if value == "" {
			return nil, &APIError{Code: "InvalidLookupAttributesException", Message: "The lookup attribute value cannot be empty."}
		}
		var ok bool
		if match, ok = trailMatcher(key, value); !ok {
			return nil, &APIError{Code: "InvalidLookupAttributesException", Message: fmt.Sprintf("The lookup attribute key %s is not valid.", key)}
		}
	}
	if in.EventCategory != "" && in.EventCategory != "insight" {
		return nil, &APIError{Code: "InvalidEventCategoryException", Message: "Event category " + in.EventCategory + " is not valid."}
	}
	limit := maxLookupResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxLookupResults {
			return nil, &APIError{Code: "InvalidMaxResultsException", Message: fmt.Sprintf("Value %d for MaxResults is invalid: it must be between 1 and %d.", *in.MaxResults, maxLookupResults)}
		}
		limit = *in.MaxResults
	}
	start, end := time.Time{}, time.Unix(math.MaxInt32, 0)
	if in.StartTime != nil {
		start = epoch(*in.StartTime)
	}
	if in.EndTime != nil {
		end = epoch(*in.EndTime)
	}
	if start.After(end) {
		return nil, &APIError{Code: "InvalidTimeRangeException", Message: "Start time must be earlier than end time."}
	}
	// A token is only good for the query that issued it, as in AWS.
	query := queryHash(r.Body)
	offset := 0
	if in.NextToken != nil {
		n, ok := parseTrailToken(*in.NextToken, query)
		if !ok {
			return nil, &APIError{Code: "InvalidNextTokenException", Message: "Invalid NextToken."}
		}
		offset = n
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Only the page is copied: histories in tests run to tens of thousands of events.
	out := lookupEventsOutput{Events: []jsonEvent{}}
	matched := 0
	if in.EventCategory == "" { // the fake keeps no Insights events
		for _, e := range s.cloudtrail.events[r.Caller.Account+"/"+r.Region] {
			if e.EventTime.Before(start) || e.EventTime.After(end) || !match(e) {
				continue
			}
			if matched >= offset && matched < offset+limit {
				out.Events = append(out.Events, toJSONEvent(e, r.Caller.Account, r.Region))
			}
			matched++
		}
	}
	if offset > matched {
		return nil, &APIError{Code: "InvalidNextTokenException", Message: "Invalid NextToken."}
	}
	if offset+limit < matched {
		out.NextToken = trailToken(offset+limit, query)
	}
	return out, nil
}

func trailMatcher(key, value string) (func(TrailEvent) bool, bool) {
	switch key {
	case "EventId":
		return func(e TrailEvent) bool { return e.EventID == value }, true
	case "EventName":
		return func(e TrailEvent) bool { return e.EventName == value }, true
	case "ReadOnly":
		return func(e TrailEvent) bool { return strconv.FormatBool(e.ReadOnly) == value }, true
	case "Username":
		return func(e TrailEvent) bool { return e.Username == value }, true
	case "AccessKeyId":
		return func(e TrailEvent) bool { return e.AccessKeyID == value }, true
	case "EventSource":
		return func(e TrailEvent) bool { return e.EventSource == value }, true
	case "ResourceType", "ResourceName":
		return func(e TrailEvent) bool {
			return slices.ContainsFunc(e.Resources, func(res TrailResource) bool {
				if key == "ResourceType" {
					return res.Type == value
				}
				return res.Name == value
			})
		}, true
	}
	return nil, false
}

func epoch(sec float64) time.Time {
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC()
}

// queryHash identifies a query without its NextToken and page size, which may change between
// pages.
func queryHash(body []byte) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	delete(m, "NextToken")
	delete(m, "MaxResults")
	b, _ := json.Marshal(m) // sorted keys: the same query hashes the same
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func trailToken(offset int, query string) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%d", query, offset)))
}

func parseTrailToken(tok, query string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	q, off, ok := strings.Cut(string(b), ":")
	n, err := strconv.Atoi(off)
	if !ok || q != query || err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// toJSONEvent is the event as LookupEvents returns it, with the full record in CloudTrailEvent.
func toJSONEvent(e TrailEvent, account, region string) jsonEvent {
	out := jsonEvent{
		EventID: e.EventID, EventName: e.EventName, ReadOnly: strconv.FormatBool(e.ReadOnly), AccessKeyID: e.AccessKeyID,
		EventTime: float64(e.EventTime.Unix()), EventSource: e.EventSource, Username: e.Username, Resources: []jsonResource{},
	}
	for _, res := range e.Resources {
		out.Resources = append(out.Resources, jsonResource{ResourceType: res.Type, ResourceName: res.Name})
	}
	identity := map[string]any{"type": "IAMUser", "accountId": account, "userName": e.Username}
	if strings.HasPrefix(e.AccessKeyID, "ASIA") {
		identity = map[string]any{"type": "AssumedRole", "accountId": account,
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role"}}}
	}
	if e.AccessKeyID != "" {
		identity["accessKeyId"] = e.AccessKeyID
	}
	record := map[string]any{
		"eventVersion": "1.09", "userIdentity": identity, "eventTime": e.EventTime.UTC().Format(time.RFC3339),
		"eventSource": e.EventSource, "eventName": e.EventName, "awsRegion": region,
		"sourceIPAddress": e.SourceIP, "userAgent": e.UserAgent, "eventID": e.EventID,
		"readOnly": e.ReadOnly, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": account,
	}
	if e.ErrorCode != "" {
		record["errorCode"] = e.ErrorCode
		record["errorMessage"] = "awsfake: " + e.ErrorCode
	}
	b, _ := json.Marshal(record)
	out.CloudTrailEvent = string(b)
	return out
}
