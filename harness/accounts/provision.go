package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Provision creates accounts on a server speaking the reference server's admin
// API: POST <server>/admin/users with a bearer token and {"username","password"};
// 201 creates, 409 means the account exists already (its password is left as
// it is). Other servers need their own way to create accounts. Up to
// concurrency requests run at once.
func Provision(ctx context.Context, hc *http.Client, server, token string, accts []Account, concurrency int) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	endpoint := strings.TrimSuffix(server, "/") + "/admin/users"
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, concurrency))
	for _, a := range accts {
		if gctx.Err() != nil {
			break // the first failure stops the rest
		}
		g.Go(func() error { return provisionOne(gctx, hc, endpoint, token, a) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("provision accounts: %w", err)
	}
	return nil
}

func provisionOne(ctx context.Context, hc *http.Client, endpoint, token string, a Account) error {
	body, err := json.Marshal(map[string]string{"username": a.Username, "password": a.Password})
	if err != nil {
		return fmt.Errorf("provision account %s: %w", a.Username, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("provision account %s: %w", a.Username, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("provision account %s: %w", a.Username, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK, http.StatusConflict:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("provision account %s: %s: the admin token was refused", a.Username, resp.Status)
	}
	return fmt.Errorf("provision account %s: POST %s: %s %s", a.Username, endpoint, resp.Status, strings.TrimSpace(string(msg)))
}
