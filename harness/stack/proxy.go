package stack

// The fault proxy is part of a stack: Toxiproxy (firedrill/toxiproxy) on the
// stack's network, between the phones and syncd and between syncd and
// PostgreSQL, so that network faults (latency, bandwidth limits, connection
// resets, timeouts, a link going down) can be put on one link at a time. Phones
// reach syncd through the proxy's port published to the host; syncd reaches
// PostgreSQL through the proxy's alias on the stack network. Start it with the
// stack (WithProxy), or on its own with RunProxy.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/firedrill/firedrill/harness/images"
	"github.com/testcontainers/testcontainers-go"
	tctoxiproxy "github.com/testcontainers/testcontainers-go/modules/toxiproxy"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// The links the proxy carries, by name; faults aim at them.
const (
	// LinkPhonesSyncd carries the phones' requests to syncd.
	LinkPhonesSyncd = "phones-syncd"
	// LinkSyncdPostgres carries syncd's database connections.
	LinkSyncdPostgres = "syncd-postgres"
)

// Links lists the links in a fixed order.
var Links = []string{LinkPhonesSyncd, LinkSyncdPostgres}

// RoleProxy is the role label of the proxy container.
const RoleProxy = "proxy"

// The ports the proxy listens on inside its container, one per link, in the order
// the toxiproxy module assigns them (from 8666 up, in the order of Links).
const (
	phonesSyncdPort    = 8666
	syncdPostgresPort  = 8667
	defaultAlias       = "faultproxy"
	defaultSyncdUp     = "syncd:8080"
	defaultPostgresUp  = "postgres:5432"
	controlPortSpec    = tctoxiproxy.ControlPort
	controlCallTimeout = 10 * time.Second
)

// Proxy is a running Toxiproxy on a stack network.
type Proxy struct {
	Container *tctoxiproxy.Container
	Network   string
	Alias     string // its host name on the stack network
	upstreams map[string]string
	http      *http.Client
}

// ProxyOption configures RunProxy.
type ProxyOption func(*proxyConfig)

type proxyConfig struct {
	alias     string
	syncdUp   string
	postgesUp string
}

// WithProxyAlias sets the proxy's host name on the stack network (default "faultproxy").
func WithProxyAlias(alias string) ProxyOption { return func(c *proxyConfig) { c.alias = alias } }

// WithProxySyncdUpstream sets where the phones-syncd link leads (default "syncd:8080").
func WithProxySyncdUpstream(hostport string) ProxyOption {
	return func(c *proxyConfig) { c.syncdUp = hostport }
}

// WithProxyPostgresUpstream sets where the syncd-postgres link leads (default "postgres:5432").
func WithProxyPostgresUpstream(hostport string) ProxyOption {
	return func(c *proxyConfig) { c.postgesUp = hostport }
}

// RunProxy starts the proxy on the network with both links. Upstreams are
// resolved per connection, so the proxy may start before syncd exists.
func RunProxy(ctx context.Context, run *Run, network string, opts ...ProxyOption) (*Proxy, error) {
	cfg := proxyConfig{alias: defaultAlias, syncdUp: defaultSyncdUp, postgesUp: defaultPostgresUp}
	for _, o := range opts {
		o(&cfg)
	}
	for name, up := range map[string]string{"syncd upstream": cfg.syncdUp, "postgres upstream": cfg.postgesUp} {
		if _, _, err := net.SplitHostPort(up); err != nil {
			return nil, fmt.Errorf("start proxy: %s %q is not host:port: %w", name, up, err)
		}
	}
	ref, err := images.Ref(images.Toxiproxy)
	if err != nil {
		return nil, err
	}
	if err := images.Require(ctx, run.Docker, images.Toxiproxy); err != nil {
		return nil, err
	}
	p := &Proxy{
		Network:   network,
		Alias:     cfg.alias,
		upstreams: map[string]string{LinkPhonesSyncd: cfg.syncdUp, LinkSyncdPostgres: cfg.postgesUp},
		http:      &http.Client{Timeout: controlCallTimeout},
	}
	ctr, err := tctoxiproxy.Run(ctx, ref,
		// The order fixes the ports: phones-syncd on 8666, syncd-postgres on 8667.
		tctoxiproxy.WithProxy(LinkPhonesSyncd, cfg.syncdUp),
		tctoxiproxy.WithProxy(LinkSyncdPostgres, cfg.postgesUp),
		testcontainers.WithName(run.containerName(network, cfg.alias)),
		testcontainers.WithLabels(run.Labels(RoleProxy)),
		tcnetwork.WithNetworkName([]string{cfg.alias}, network),
	)
	if ctr != nil {
		p.Container = ctr
	}
	if err != nil {
		return p, fmt.Errorf("start proxy %s: %w", cfg.alias, err)
	}
	return p, nil
}

// ContainerID returns the proxy container's id.
func (p *Proxy) ContainerID() string { return p.Container.GetContainerID() }

// DatabaseAddr is where syncd reaches PostgreSQL through the proxy, on the stack network.
func (p *Proxy) DatabaseAddr() string {
	return net.JoinHostPort(p.Alias, strconv.Itoa(syncdPostgresPort))
}

// Upstream returns where a link leads, e.g. "syncd:8080".
func (p *Proxy) Upstream(link string) (string, error) {
	up, ok := p.upstreams[link]
	if !ok {
		return "", fmt.Errorf("find link %q: no such link (want %s or %s)", link, LinkPhonesSyncd, LinkSyncdPostgres)
	}
	return up, nil
}

// Endpoint returns the host:port through which this process reaches a link's
// upstream via the proxy (the port published to the host).
func (p *Proxy) Endpoint(ctx context.Context, link string) (string, error) {
	port := phonesSyncdPort
	switch link {
	case LinkPhonesSyncd:
	case LinkSyncdPostgres:
		port = syncdPostgresPort
	default:
		return "", fmt.Errorf("find link %q: no such link (want %s or %s)", link, LinkPhonesSyncd, LinkSyncdPostgres)
	}
	host, err := p.Container.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("find proxy host: %w", err)
	}
	mapped, err := p.Container.MappedPort(ctx, strconv.Itoa(port)+"/tcp")
	if err != nil {
		return "", fmt.Errorf("find proxy port of %s: %w", link, err)
	}
	return net.JoinHostPort(host, mapped.Port()), nil
}

// SyncdURL returns syncd's base URL through the proxy, as the phones reach it,
// e.g. "http://127.0.0.1:32771".
func (p *Proxy) SyncdURL(ctx context.Context) (string, error) {
	ep, err := p.Endpoint(ctx, LinkPhonesSyncd)
	if err != nil {
		return "", err
	}
	return "http://" + ep, nil
}

// Toxic is a Toxiproxy toxic: a named effect on one direction of a link, e.g.
// {Name: "lag", Type: "latency", Stream: "downstream", Toxicity: 1,
// Attributes: {"latency": 500}}. See Toxiproxy's README for the types.
type Toxic = toxiclient.Toxic

// AddToxic puts a toxic on a link.
func (p *Proxy) AddToxic(ctx context.Context, link string, t Toxic) error {
	if _, err := p.Upstream(link); err != nil {
		return err
	}
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode toxic %s: %w", t.Name, err)
	}
	if err := p.call(ctx, http.MethodPost, "/proxies/"+url.PathEscape(link)+"/toxics", body, nil); err != nil {
		return fmt.Errorf("add toxic %s to %s: %w", t.Name, link, err)
	}
	return nil
}

// RemoveToxic takes a toxic off a link.
func (p *Proxy) RemoveToxic(ctx context.Context, link, name string) error {
	if _, err := p.Upstream(link); err != nil {
		return err
	}
	if err := p.call(ctx, http.MethodDelete, "/proxies/"+url.PathEscape(link)+"/toxics/"+url.PathEscape(name), nil, nil); err != nil {
		return fmt.Errorf("remove toxic %s from %s: %w", name, link, err)
	}
	return nil
}

// Toxics lists the toxics on a link.
func (p *Proxy) Toxics(ctx context.Context, link string) ([]Toxic, error) {
	if _, err := p.Upstream(link); err != nil {
		return nil, err
	}
	var out []Toxic
	if err := p.call(ctx, http.MethodGet, "/proxies/"+url.PathEscape(link)+"/toxics", nil, &out); err != nil {
		return nil, fmt.Errorf("list toxics of %s: %w", link, err)
	}
	return out, nil
}

// SetEnabled takes a link down (every connection through it is closed and new
// ones are refused) or brings it back up.
func (p *Proxy) SetEnabled(ctx context.Context, link string, enabled bool) error {
	if _, err := p.Upstream(link); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]bool{"enabled": enabled})
	if err := p.call(ctx, http.MethodPost, "/proxies/"+url.PathEscape(link), body, nil); err != nil {
		return fmt.Errorf("set %s enabled=%t: %w", link, enabled, err)
	}
	return nil
}

// Ping checks that the control API answers.
func (p *Proxy) Ping(ctx context.Context) error {
	if err := p.call(ctx, http.MethodGet, "/version", nil, nil); err != nil {
		return fmt.Errorf("ping proxy: %w", err)
	}
	return nil
}

// call sends one request to the control API and decodes a JSON answer into out.
func (p *Proxy) call(ctx context.Context, method, path string, body []byte, out any) error {
	base, err := p.Container.URI(ctx)
	if err != nil {
		return err
	}
	if u, err := url.Parse(base); err != nil || u.Scheme == "" {
		base = "http://" + base
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("toxiproxy answered %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode toxiproxy answer: %w", err)
		}
	}
	return nil
}
