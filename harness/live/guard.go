package live

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// TokenHeader carries the page's per-run token on its POSTs.
const TokenHeader = "X-Firedrill-Token"

// guard decides which requests the page answers: the control POSTs must come
// from the page itself (its per-run token in a header a cross-site form
// cannot set, an Origin of the page's own, if any), and, unless the page is
// public, every request must name a loopback host (a page on another site that
// rebinds its DNS name to 127.0.0.1 is refused).
type guard struct {
	token  string
	public bool
}

// newToken returns a fresh random token. It is a secret, not part of the
// drill, so it comes from crypto/rand rather than the run's seed.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make page token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// host reports why a request's Host is refused, or "".
func (g guard) host(r *http.Request) string {
	if g.public {
		return ""
	}
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	if isLoopback(strings.Trim(h, "[]")) {
		return ""
	}
	return fmt.Sprintf("host %q is not this machine's loopback name; open the page as http://127.0.0.1:PORT/", r.Host)
}

// control reports why a control POST is refused, or "".
func (g guard) control(r *http.Request) string {
	if r.Method != http.MethodPost {
		return "use POST"
	}
	if got := r.Header.Get(TokenHeader); subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) != 1 {
		return "missing or wrong " + TokenHeader + ": use the buttons of the live page"
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return "cross-site request refused (Sec-Fetch-Site: " + site + ")"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return "cross-origin request refused (Origin " + o + ")"
		}
	}
	return ""
}
