package live

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrNotLoopback reports an address that would let other machines watch and
// stop the drill, given without asking for that.
var ErrNotLoopback = errors.New("not a loopback address")

// ResolveAddr checks where the live page is to listen and returns the
// address to bind. A bare port ("8089") or a missing host (":8089") means
// loopback (127.0.0.1); any other host must be a loopback address
// (127.0.0.0/8, ::1, localhost) unless public is set, because whoever reaches
// the page can watch the drill and stop it.
func ResolveAddr(addr string, public bool) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("serve: want an address such as 127.0.0.1:8089")
	}
	if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("serve: parse address %q: %w (want host:port, e.g. 127.0.0.1:8089)", addr, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return "", fmt.Errorf("serve: address %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host == "" {
		if public {
			return net.JoinHostPort("", port), nil // every interface, as asked
		}
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	if public || isLoopback(host) {
		return net.JoinHostPort(host, port), nil
	}
	return "", fmt.Errorf("serve: %s: %w: anyone who can reach it could watch the drill and stop it; "+
		"use 127.0.0.1:%s (or a bare port), or add --serve-public to listen there on purpose", addr, ErrNotLoopback, port)
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
