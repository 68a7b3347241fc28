// Package awsfake is an in-process fake of the AWS APIs Firebreak calls. It speaks AWS's wire
// protocols (query with XML replies, EC2's query dialect, JSON 1.1), so tests drive it with the
// real aws-sdk-go-v2 clients: what passes here is what the SDK would send to and accept from AWS.
//
// Services are told apart the way AWS's front door does: query requests by the service in the
// SigV4 credential scope, JSON 1.1 requests by the X-Amz-Target header. Each service's operations
// live in their own file (sts.go, ...) and register themselves in the handler registry.
package awsfake

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// Protocol is the wire protocol a service speaks.
type Protocol int

const (
	// Query is the AWS query protocol: form-encoded Action/Version, XML replies wrapped in
	// <OpResponse><OpResult>, errors as <ErrorResponse>.
	Query Protocol = iota
	// EC2Query is EC2's dialect: replies without a Result wrapper, errors as
	// <Response><Errors><Error>…</Errors><RequestID>.
	EC2Query
	// JSON11 is awsJson1_1: X-Amz-Target names the operation, errors carry __type.
	JSON11
)

// service describes how one AWS service answers, so every handler gets the right envelope.
type service struct {
	protocol Protocol
	xmlns    string // query: namespace of the reply document
	target   string // JSON 1.1: X-Amz-Target prefix before the dot
	// throttle is the error AWS returns when this service throttles.
	throttle APIError
}

// services is the table of what AWS itself does per service; it is data, not state.
func services() map[string]service {
	queryThrottle := APIError{Status: 400, Code: "Throttling", Message: "Rate exceeded"}
	jsonThrottle := APIError{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"}
	return map[string]service{
		"sts":         {protocol: Query, xmlns: "https://sts.amazonaws.com/doc/2011-06-15/", throttle: queryThrottle},
		"iam":         {protocol: Query, xmlns: "https://iam.amazonaws.com/doc/2010-05-08/", throttle: queryThrottle},
		"autoscaling": {protocol: Query, xmlns: "http://autoscaling.amazonaws.com/doc/2011-01-01/", throttle: queryThrottle},
		"ec2": {protocol: EC2Query, xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/",
			throttle: APIError{Status: 503, Code: "RequestLimitExceeded", Message: "Request limit exceeded."}},
		"wafv2":          {protocol: JSON11, target: "AWSWAF_20190729", throttle: jsonThrottle},
		"cloudtrail":     {protocol: JSON11, target: "CloudTrail_20131101", throttle: jsonThrottle},
		"ssm":            {protocol: JSON11, target: "AmazonSSM", throttle: jsonThrottle},
		"secretsmanager": {protocol: JSON11, target: "secretsmanager", throttle: jsonThrottle},
	}
}

// APIError is an error the fake answers with, in the service's own error shape. Handlers return
// it (or wrap it) to fail a call; any other error is answered as a 500 InternalFailure.
type APIError struct {
	Status  int // HTTP status; 400 when zero
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Request is one decoded call as a handler sees it.
type Request struct {
	Service   string
	Operation string
	Region    string
	Caller    Principal
	// Params are the query form values without Action and Version (query protocols).
	Params url.Values
	// Body is the JSON document (JSON 1.1).
	Body json.RawMessage
	// RequestID is the ID this call is answered with.
	RequestID string
}

// Handler answers one operation. For query services the result is XML-encoded as the children
// of the <OpResult> element (EC2: of <OpResponse>); for JSON services it is JSON-encoded.
type Handler func(s *Server, r *Request) (any, error)

// Call is the record of one request the fake received.
type Call struct {
	Service     string
	Operation   string
	Region      string
	AccessKeyID string
	Account     string // the account the access key belongs to; "" when unknown
	Principal   string // ARN of the caller
	Params      url.Values
	Body        json.RawMessage
	RequestID   string
	ErrorCode   string // "" when the call succeeded
}

// Principal is who a set of credentials belongs to.
type Principal struct {
	Account string
	ARN     string
	UserID  string
}

// Server is the fake. Its zero value is not usable; call New.
type Server struct {
	*httptest.Server

	mu         sync.Mutex
	services   map[string]service
	handlers   map[string]map[string]Handler // service -> operation -> handler
	keys       map[string]key                // access key ID -> owner and secret
	roles      map[string]string             // role ARNs that may be assumed -> required external ID ("" for none)
	calls      []Call
	seq        int
	throttle   int // per mille of calls answered with the service's throttling error
	throttled  int // accumulator that makes the share deterministic
	failures   map[string]*Failure
	holds      map[string]*hold
	keyCounter int

	// Each service's own state lives in its file; all of it under mu.
	ec2        *ec2State
	asg        *asgState
	iam        *iamState
	waf        *wafState
	cloudtrail *cloudtrailState
	ssm        *ssmState
}

type key struct {
	principal Principal
	secret    string
	token     string // "" for long-term keys
}

// Failure makes a named operation fail with the given error.
type Failure struct {
	APIError
	// Times is how many calls fail before the operation works again; 0 = every call.
	Times int
}

// New starts a fake with STS registered. The caller closes it (t.Cleanup(f.Close)).
func New() *Server {
	s := &Server{
		services: services(),
		handlers: map[string]map[string]Handler{},
		keys:     map[string]key{},
		roles:    map[string]string{},
		failures: map[string]*Failure{},
		holds:    map[string]*hold{},

		ec2:        newEC2State(),
		asg:        newAutoScalingState(),
		iam:        newIAMState(),
		waf:        newWAFv2State(),
		cloudtrail: newCloudTrailState(),
		ssm:        newSSMState(),
	}
	registerSTS(s)
	registerEC2(s)
	registerAutoScaling(s)
	registerIAM(s)
	registerWAFv2(s)
	registerCloudTrail(s)
	registerSSM(s)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// Handle registers the handler of one operation; later service files call it from their own
// register function.
func (s *Server) Handle(svc, operation string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[svc]; !ok {
		panic("awsfake: unknown service " + svc)
	}
	if s.handlers[svc] == nil {
		s.handlers[svc] = map[string]Handler{}
	}
	s.handlers[svc][operation] = h
}

// Throttle answers the given share of all later calls (0 to 1) with the service's throttling
// error. The choice is deterministic: with 0.3, calls 4, 7, 10, ... (3 of every 10) are throttled.
func (s *Server) Throttle(share float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle, s.throttled = int(math.Round(share*1000)), 0
}

// Fail makes service's operation fail with f until cleared with Fail(svc, op, nil) or until it
// has failed f.Times times.
func (s *Server) Fail(svc, operation string, f *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		delete(s.failures, svc+"."+operation)
		return
	}
	cp := *f
	s.failures[svc+"."+operation] = &cp
}

type hold struct {
	reached chan struct{}
	release chan struct{}
}

// Hold makes the next call of service's operation wait, after it is recorded and before the
// fake acts on it, until release is called; reached is closed when that call arrives. The held
// call is then carried out even if its client has gone (killed, timed out), as AWS carries out a
// request it has received: tests use it to crash a worker in the middle of an action.
func (s *Server) Hold(svc, operation string) (reached <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &hold{reached: make(chan struct{}), release: make(chan struct{})}
	s.holds[svc+"."+operation] = h
	var once sync.Once
	return h.reached, func() { once.Do(func() { close(h.release) }) }
}

// Calls returns a copy of every call received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// State is a deep copy of every service's resources (not the call record, keys or switches), for
// tests that compare before and after: a plan must leave it identical, a rollback must restore it.
// Values are plain data, so reflect.DeepEqual and JSON both compare them.
type State struct {
	EC2         any `json:"ec2"`
	AutoScaling any `json:"autoscaling"`
	IAM         any `json:"iam"`
	WAFv2       any `json:"wafv2"`
	CloudTrail  any `json:"cloudtrail"`
	SSM         any `json:"ssm"`
}

// State returns a copy of the fake's resources.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return State{
		EC2: s.ec2.snapshot(), AutoScaling: s.asg.snapshot(), IAM: s.iam.snapshot(),
		WAFv2: s.waf.snapshot(), CloudTrail: s.cloudtrail.snapshot(), SSM: s.ssm.snapshot(),
	}
}

// CallsTo returns the calls of one operation.
func (s *Server) CallsTo(svc, operation string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Service == svc && c.Operation == operation {
			out = append(out, c)
		}
	}
	return out
}

// AddUser creates an IAM user with a long-term access key and returns the key pair.
func (s *Server) AddUser(account, name string) (accessKeyID, secret string) {
	return s.AddUserWithSecret(account, name, "")
}

// AddUserWithSecret is AddUser with a chosen secret key (a canary, say); "" picks one.
func (s *Server) AddUserWithSecret(account, name, secret string) (accessKeyID, secretKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Principal{Account: account, ARN: fmt.Sprintf("arn:aws:iam::%s:user/%s", account, name), UserID: s.nextID("AIDA")}
	id, generated := s.issueKey("AKIA", p, "")
	if secret != "" {
		k := s.keys[id]
		k.secret = secret
		s.keys[id] = k
		return id, secret
	}
	return id, generated
}

// AddRole registers a role that callers may assume.
func (s *Server) AddRole(roleARN string) { s.AddRoleWithExternalID(roleARN, "") }

// AddRoleWithExternalID registers a role whose trust policy requires sts:ExternalId to be
// externalID ("" requires none).
func (s *Server) AddRoleWithExternalID(roleARN, externalID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleARN] = externalID
}

// issueKey must be called with s.mu held.
func (s *Server) issueKey(prefix string, p Principal, token string) (string, string) {
	id := s.nextID(prefix)
	secret := fmt.Sprintf("fakesecret/%s/%s", id, strings.Repeat("x", 16))
	s.keys[id] = key{principal: p, secret: secret, token: token}
	return id, secret
}

// nextID must be called with s.mu held.
func (s *Server) nextID(prefix string) string {
	s.keyCounter++
	return fmt.Sprintf("%sFAKE%012d", prefix, s.keyCounter)
}

// requestID must be called with s.mu held. Deterministic so failures are reproducible.
func (s *Server) requestID() string {
	s.seq++
	return fmt.Sprintf("fa4e0000-0000-4000-8000-%012d", s.seq)
}

// credentialRe reads "Credential=AKID/date/region/service/aws4_request" from a SigV4 header.
var credentialRe = regexp.MustCompile(`Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request`)

func (s *Server) serveHTTP(w http.ResponseWriter, hr *http.Request) {
	body, err := io.ReadAll(hr.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var accessKey, region, svcName string
	if m := credentialRe.FindStringSubmatch(hr.Header.Get("Authorization")); m != nil {
		accessKey, region, svcName = m[1], m[2], m[3]
	}

	s.mu.Lock()
	svc, known := s.services[svcName]
	req := &Request{Service: svcName, Region: region, RequestID: s.requestID()}
	if !known {
		s.mu.Unlock()
		// Not an AWS service we fake: answer as a query service would.
		writeError(w, service{protocol: Query}, req.RequestID, &APIError{Status: 400, Code: "UnknownService",
			Message: fmt.Sprintf("awsfake does not serve service %q", svcName)})
		return
	}
	switch svc.protocol {
	case JSON11:
		target := hr.Header.Get("X-Amz-Target")
		prefix, op, _ := strings.Cut(target, ".")
		if prefix != svc.target {
			op = ""
		}
		req.Operation, req.Body = op, body
	default:
		form, perr := url.ParseQuery(string(body))
		if perr != nil {
			s.mu.Unlock()
			writeError(w, svc, req.RequestID, &APIError{Code: "MalformedQueryString", Message: perr.Error()})
			return
		}
		req.Operation = form.Get("Action")
		form.Del("Action")
		form.Del("Version")
		req.Params = form
	}
	k, keyKnown := s.keys[accessKey]
	req.Caller = k.principal
	call := Call{Service: svcName, Operation: req.Operation, Region: region, AccessKeyID: accessKey,
		Account: k.principal.Account, Principal: k.principal.ARN, Params: req.Params, Body: req.Body, RequestID: req.RequestID}
	apiErr := s.gate(svc, req, accessKey, keyKnown, k, hr, body)
	h := s.handlers[svcName][req.Operation]
	if apiErr == nil && h == nil {
		apiErr = unknownOperation(svc, req)
	}
	if apiErr != nil {
		call.ErrorCode = apiErr.Code
		s.calls = append(s.calls, call)
		s.mu.Unlock()
		writeError(w, svc, req.RequestID, apiErr)
		return
	}
	idx := len(s.calls)
	s.calls = append(s.calls, call)
	held := s.holds[svcName+"."+req.Operation]
	delete(s.holds, svcName+"."+req.Operation)
	s.mu.Unlock()
	if held != nil {
		close(held.reached)
		<-held.release
	}

	// Handlers take the lock themselves, so they can use the same helpers tests use.
	out, err := h(s, req)
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = &APIError{Status: 500, Code: "InternalFailure", Message: err.Error()}
		}
		s.mu.Lock()
		s.calls[idx].ErrorCode = ae.Code
		s.mu.Unlock()
		writeError(w, svc, req.RequestID, ae)
		return
	}
	writeResult(w, svc, req, out)
}

// gate applies authentication and the test switches; it must be called with s.mu held.
func (s *Server) gate(svc service, req *Request, accessKey string, keyKnown bool, k key, hr *http.Request, body []byte) *APIError {
	// A deactivated key is refused like an unknown one: that is the point of deactivating a
	// leaked key.
	if !keyKnown || s.iam.keyStatus(accessKey) == "Inactive" {
		if svc.protocol == JSON11 {
			return &APIError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
		}
		if svc.protocol == EC2Query {
			return &APIError{Status: 401, Code: "AuthFailure", Message: "AWS was not able to validate the provided access credentials"}
		}
		return &APIError{Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}
	}
	// Temporary credentials are only valid together with their session token.
	if k.token != "" && hr.Header.Get("X-Amz-Security-Token") != k.token {
		return &APIError{Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}
	}
	if !signatureValid(hr, body, req.Service, req.Region, k) {
		switch svc.protocol {
		case EC2Query:
			return &APIError{Status: 401, Code: "AuthFailure", Message: "AWS was not able to validate the provided access credentials"}
		case JSON11:
			return &APIError{Code: "InvalidSignatureException", Message: "The request signature we calculated does not match the signature you provided."}
		}
		return &APIError{Status: 403, Code: "SignatureDoesNotMatch", Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	if f := s.failures[req.Service+"."+req.Operation]; f != nil {
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				delete(s.failures, req.Service+"."+req.Operation)
			}
		}
		e := f.APIError
		return &e
	}
	if s.throttle > 0 {
		s.throttled += s.throttle
		if s.throttled >= 1000 {
			s.throttled -= 1000
			e := svc.throttle
			return &e
		}
	}
	return nil
}

func unknownOperation(svc service, req *Request) *APIError {
	if svc.protocol == JSON11 {
		return &APIError{Code: "UnknownOperationException", Message: ""}
	}
	return &APIError{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version", req.Operation)}
}

// writeError answers in the service's own error shape, exactly as AWS does.
func writeError(w http.ResponseWriter, svc service, requestID string, e *APIError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("x-amzn-RequestId", requestID)
	switch svc.protocol {
	case JSON11:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
	case EC2Query:
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(status)
		var b bytes.Buffer
		b.WriteString(xml.Header)
		b.WriteString("<Response><Errors><Error><Code>")
		_ = xml.EscapeText(&b, []byte(e.Code))
		b.WriteString("</Code><Message>")
		_ = xml.EscapeText(&b, []byte(e.Message))
		b.WriteString("</Message></Error></Errors><RequestID>" + requestID + "</RequestID></Response>")
		_, _ = w.Write(b.Bytes())
	default:
		// Sender for caller faults, Receiver for AWS's own, as AWS labels them.
		typ := "Sender"
		if status >= 500 {
			typ = "Receiver"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		var b bytes.Buffer
		b.WriteString(`<ErrorResponse xmlns="` + svc.xmlns + `"><Error><Type>` + typ + "</Type><Code>")
		_ = xml.EscapeText(&b, []byte(e.Code))
		b.WriteString("</Code><Message>")
		_ = xml.EscapeText(&b, []byte(e.Message))
		b.WriteString("</Message></Error><RequestId>" + requestID + "</RequestId></ErrorResponse>")
		_, _ = w.Write(b.Bytes())
	}
}

// writeResult wraps a handler's result in the service's reply envelope.
func writeResult(w http.ResponseWriter, svc service, req *Request, out any) {
	w.Header().Set("x-amzn-RequestId", req.RequestID)
	if svc.protocol == JSON11 {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if out == nil {
			out = struct{}{}
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	inner, err := innerXML(out)
	if err != nil {
		writeError(w, svc, req.RequestID, &APIError{Status: 500, Code: "InternalFailure", Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	op := req.Operation
	var b bytes.Buffer
	b.WriteString(`<` + op + `Response xmlns="` + svc.xmlns + `">`)
	if svc.protocol == EC2Query {
		b.WriteString("<requestId>" + req.RequestID + "</requestId>")
		b.Write(inner)
	} else {
		b.WriteString("<" + op + "Result>")
		b.Write(inner)
		b.WriteString("</" + op + "Result><ResponseMetadata><RequestId>" + req.RequestID + "</RequestId></ResponseMetadata>")
	}
	b.WriteString("</" + op + "Response>")
	_, _ = w.Write(b.Bytes())
}

// innerXML encodes v's fields as a sequence of elements without an enclosing element, so the
// envelope (which differs between query and EC2) can be written around them.
func innerXML(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	var b bytes.Buffer
	if err := xml.NewEncoder(&b).EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "x"}}); err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	out := bytes.TrimPrefix(b.Bytes(), []byte("<x>"))
	return bytes.TrimSuffix(out, []byte("</x>")), nil
}
