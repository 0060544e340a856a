package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
	concurrency = max(1, concurrency)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan Account)
	)
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range next {
				if err := provisionOne(ctx, hc, endpoint, token, a); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, a := range accts {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		next <- a
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return fmt.Errorf("provision accounts: %w", ctx.Err())
	}
	return firstErr
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
