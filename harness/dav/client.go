// Package dav is a small WebDAV, CardDAV and CalDAV client for firedrill's
// simulated phones and observer. It keeps bodies as the server sent them (no
// parsing of vCard or iCalendar: that is canon's job), tells a server's garbage
// (invalid XML, truncated bodies) apart from refusals and network failures, and
// reports for every write whether the request left the machine, which is what
// classifying a write as failed or ambiguous needs.
//
// Reads and collection set-up retry transient failures by the client's
// Backoff policy (Retry-After honoured), each request bounded by
// Client.Timeout; writes are never retried here, since their caller records
// each attempt. Whether a resource is there is decided the way servers say it
// (Stat, List: a 404 or 410, or a 207 whose response about it is an inner
// 404); collections are made the standard way (Mkcol, MakeAddressBook with an
// extended MKCOL, MakeCalendar). Multistatus answers are decoded by a scanner
// of its own (xmlscan.go), checked against encoding/xml by a fuzz test.
package dav

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// MaxBody bounds any body the client reads (a multiget batch of 64 KiB notes, an
// 8 MiB photo).
const MaxBody = 256 << 20

// Client speaks the DAV protocols to one server as one user.
type Client struct {
	base     *url.URL
	user     string
	password string
	hc       *http.Client
	// noRedirect is hc that returns redirects instead of following them, for
	// /.well-known discovery (net/http would turn a redirected PROPFIND into GET).
	noRedirect *http.Client
	// UserAgent is sent with every request.
	UserAgent string
	// Retry is the policy for reads and collection set-up (PROPFIND, REPORT,
	// GET, MKCOL, MKCALENDAR): transient failures are tried again, honouring
	// Retry-After. Nil tries each once. Writes (Write) are never retried here:
	// their caller records each attempt.
	Retry *Backoff
	// Timeout bounds each request, body included; 0 means only ctx does.
	Timeout time.Duration
	// Cache, when set, keeps what discovery learned about the server (where
	// /.well-known leads) for other clients of the same server to skip.
	Cache *DiscoveryCache
}

// New returns a client for the server at base (e.g. "http://localhost:8080") as
// user. hc carries the transport and may be shared by many clients; nil means a
// default client.
func New(base, user, password string, hc *http.Client) (*Client, error) {
	u, err := ParseServerURL(base)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{}
	}
	nr := *hc
	nr.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: u, user: user, password: password, hc: hc, noRedirect: &nr, UserAgent: "firedrill/1 (simulated phone)"}, nil
}

// ParseServerURL checks that s is an absolute http or https URL.
func ParseServerURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("parse server URL %q: want http://host[:port][/path] or https://host[:port][/path]", s)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// User returns the client's user name.
func (c *Client) User() string { return c.user }

// Base returns the server's base URL.
func (c *Client) Base() *url.URL { u := *c.base; return &u }

// Resolve returns ref (an href or URL) as an absolute URL string.
func (c *Client) Resolve(ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("resolve href %q: %w", ref, err)
	}
	return c.base.ResolveReference(r).String(), nil
}

// Join returns the URL of the member called name (which may contain '/') of the
// collection at coll, escaping each segment of name.
func Join(coll, name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.TrimSuffix(coll, "/") + "/" + strings.Join(segs, "/")
}

// MemberName returns the name of href within the collection at coll (both URLs or
// absolute paths, escaped or not): the unescaped path below the collection, e.g.
// "5f1c.vcf" or "tetris/highscores.json". ok is false when href is not below coll
// or is coll itself.
func MemberName(coll, href string) (name string, ok bool) {
	return MembersOf(coll).Name(href)
}

// Members names the members of one collection, for many hrefs at the cost of
// one: see MemberName.
type Members struct{ prefix string }

// MembersOf returns the namer of the members of the collection at coll.
func MembersOf(coll string) Members { return Members{prefix: cleanPath(coll) + "/"} }

// Name is MemberName(coll, href) for the collection m was made for.
func (m Members) Name(href string) (string, bool) {
	hpath := cleanPath(href)
	if !strings.HasPrefix(hpath, m.prefix) || len(hpath) <= len(m.prefix) {
		return "", false
	}
	return hpath[len(m.prefix):], true
}

// StatusError is a server's answer with an unexpected HTTP status.
type StatusError struct {
	Method, URL string
	Code        int
	Status      string // e.g. "404 Not Found"
	// RetryAfter is the wait the server asked for (Retry-After), or 0.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: %s", e.Method, e.URL, e.Status)
	switch {
	case e.Code == http.StatusUnauthorized:
		msg += " (login refused: check the user's password, or the account is missing on the server)"
	case e.RetryAfter > 0:
		msg += fmt.Sprintf(" (Retry-After %s)", e.RetryAfter)
	}
	return msg
}

// ProtocolError is a server's garbage: a body that is not what the protocol says
// (invalid XML, a truncated body, a multistatus without the asked properties).
type ProtocolError struct {
	Method, URL string
	Err         error
	// Truncated says the body was cut short: the server (or the connection)
	// died while answering, which may not happen again.
	Truncated bool
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("%s %s: server answered garbage: %v", e.Method, e.URL, e.Err)
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// HasStatus reports whether err is a StatusError with one of codes.
func HasStatus(err error, codes ...int) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code == c {
			return true
		}
	}
	return false
}

// IsUnauthorized reports whether the server refused the user's credentials.
func IsUnauthorized(err error) bool {
	return HasStatus(err, http.StatusUnauthorized)
}

// IsGarbage reports whether err is a ProtocolError.
func IsGarbage(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}

// IsNetwork reports whether err is a network failure (refused, reset, timeout,
// unknown host) rather than an answer.
func IsNetwork(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.As(err, &de) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

func (c *Client) newRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("make %s request for %s: %w", method, u, err)
	}
	req.SetBasicAuth(c.user, c.password)
	req.Header.Set("User-Agent", c.UserAgent)
	return req, nil
}

// readBody reads an answer's body, turning a short read into a ProtocolError.
func readBody(req *http.Request, resp *http.Response) ([]byte, error) {
	if resp.ContentLength > MaxBody {
		return nil, &ProtocolError{Method: req.Method, URL: req.URL.String(), Err: fmt.Errorf("body of %d bytes, over %d", resp.ContentLength, MaxBody)}
	}
	// The body is read whole in one allocation when the server says its length.
	buf := bytes.NewBuffer(make([]byte, 0, max(resp.ContentLength, 0)+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, MaxBody+1))
	b := buf.Bytes()
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return b, &ProtocolError{Method: req.Method, URL: req.URL.String(), Truncated: true,
				Err: fmt.Errorf("truncated body: got %d of %d bytes", len(b), resp.ContentLength)}
		}
		return b, fmt.Errorf("read %s %s answer: %w", req.Method, req.URL, err)
	}
	if len(b) > MaxBody {
		return nil, &ProtocolError{Method: req.Method, URL: req.URL.String(), Err: fmt.Errorf("body over %d bytes", MaxBody)}
	}
	return b, nil
}

// roundTrip sends req and reads the whole answer. Non-2xx statuses come back as a
// StatusError along with the response.
func (c *Client) roundTrip(hc *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("send %s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := readBody(req, resp)
	if err != nil {
		return resp, body, err
	}
	if resp.StatusCode/100 != 2 {
		return resp, body, statusError(req, resp)
	}
	return resp, body, nil
}

func statusError(req *http.Request, resp *http.Response) *StatusError {
	return &StatusError{Method: req.Method, URL: req.URL.String(), Code: resp.StatusCode, Status: resp.Status,
		RetryAfter: parseRetryAfter(resp.Header, time.Now())}
}

// do runs one read or set-up request with the client's retry policy and
// request time limit.
func (c *Client) do(ctx context.Context, f func(ctx context.Context) error) error {
	return c.Retry.Do(ctx, c.Timeout, f)
}

// multistatus sends a PROPFIND or REPORT and parses its 207 answer, retrying
// as the client's policy says.
func (c *Client) multistatus(ctx context.Context, method, u, depth, body string) (*Multistatus, error) {
	var ms *Multistatus
	err := c.do(ctx, func(ctx context.Context) error {
		var err error
		ms, err = c.multistatusOnce(ctx, method, u, depth, body)
		return err
	})
	return ms, err
}

func (c *Client) multistatusOnce(ctx context.Context, method, u, depth, body string) (*Multistatus, error) {
	req, err := c.newRequest(ctx, method, u, []byte(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	if depth != "" {
		req.Header.Set("Depth", depth)
	}
	resp, data, err := c.roundTrip(c.hc, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusMultiStatus {
		return nil, &ProtocolError{Method: method, URL: u, Err: fmt.Errorf("status %s, want 207 Multi-Status", resp.Status)}
	}
	ms, err := parseMultistatus(data)
	if err != nil {
		return nil, &ProtocolError{Method: method, URL: u, Err: err}
	}
	return ms, nil
}

// WriteRequest is one PUT or DELETE.
type WriteRequest struct {
	Method      string // http.MethodPut or http.MethodDelete
	URL         string
	ContentType string
	Body        []byte
	IfMatch     string // an ETag: only write over this version
	IfNoneMatch string // "*": only create
}

// WriteResult is what a write learned. Status is 0 when no answer came.
type WriteResult struct {
	Status int
	ETag   string
	// Sent reports whether the request got a connection to be written on: false
	// means it never left (refused, unknown host, timed out while connecting) and
	// certainly did not happen; true means it may have reached the server.
	Sent bool
	Err  error // transport error when no status came
	// RetryAfter is the wait the server asked for (Retry-After), or 0.
	RetryAfter time.Duration
}

// Write sends a PUT or DELETE and reports what is known about its effect. It does
// not retry: the caller records each attempt.
func (c *Client) Write(ctx context.Context, w WriteRequest) WriteResult {
	var res WriteResult
	req, err := c.newRequest(ctx, w.Method, w.URL, w.Body)
	if err != nil {
		res.Err = err
		return res
	}
	if w.Method == http.MethodPut && w.Body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if w.ContentType != "" {
		req.Header.Set("Content-Type", w.ContentType)
	}
	if w.IfMatch != "" {
		req.Header.Set("If-Match", w.IfMatch)
	}
	if w.IfNoneMatch != "" {
		req.Header.Set("If-None-Match", w.IfNoneMatch)
	}
	var sent atomic.Bool
	// GotConn runs synchronously before the request is written, so once Do returns
	// its mark is final; WroteHeaders runs in the transport's writer and may come
	// after a timeout has already returned.
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { sent.Store(true) }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := c.hc.Do(req)
	res.Sent = sent.Load()
	if err != nil {
		res.Err = fmt.Errorf("send %s %s: %w", w.Method, w.URL, err)
		return res
	}
	defer resp.Body.Close()
	// The status is the answer; a failure to read the rest does not change it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	res.Status = resp.StatusCode
	res.ETag = resp.Header.Get("ETag")
	if resp.StatusCode/100 != 2 {
		res.RetryAfter = parseRetryAfter(resp.Header, time.Now())
	}
	return res
}

// The default URL templates of the plain-WebDAV kinds, matching the reference
// server; WebDAV has no discovery for them. {base} is the server URL without its
// trailing slash, {user} the path-escaped user name.
const (
	DefaultPhotosURL = "{base}/dav/{user}/photos/"
	DefaultAppsURL   = "{base}/dav/{user}/apps/"
)

// Expand fills a URL template's {base} and {user}.
func Expand(template, base, user string) string {
	return strings.NewReplacer("{base}", strings.TrimSuffix(base, "/"), "{user}", url.PathEscape(user)).Replace(template)
}
