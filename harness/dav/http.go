package dav

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns a client whose transport keeps conns idle connections per
// host, so that concurrent devices reuse connections. Its buffers are large
// enough for a multistatus or a photo to come in a few reads, not hundreds.
func NewHTTPClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns * 2
	t.MaxIdleConnsPerHost = conns
	t.ReadBufferSize, t.WriteBufferSize = 64<<10, 64<<10
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}

// Reachable checks that something answers HTTP at server: any status will do.
func Reachable(ctx context.Context, hc *http.Client, server string) error {
	u, err := ParseServerURL(server)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, u.String(), nil)
	if err != nil {
		return fmt.Errorf("reach server %s: %w", server, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("reach server %s: nothing answers there (%w); check the URL and that the server runs", server, err)
	}
	resp.Body.Close()
	return nil
}
