package peers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// RadicaleStorage is where the Radicale container keeps its collections (on the
// server's volume): a user's collections are folders under
// RadicaleStorage/collection-root/<user>/, each item one file.
const RadicaleStorage = "/var/lib/radicale/collections"

// radicaleNoFiles is why Radicale hosts no photos or app data.
const radicaleNoFiles = "Radicale stores only vCard and iCalendar items: a plain WebDAV collection cannot be made (MKCOL 403) and a file that is neither is refused (PUT 400)"

// RunRadicale starts Radicale 3.1 with htpasswd logins for the users and its
// collections on a volume in san-a. Radicale makes no address book or calendar
// for a new account: a client must create them (extended MKCOL, MKCALENDAR).
func RunRadicale(ctx context.Context, run *stack.Run, users []accounts.Account, opts ...Option) (*Server, error) {
	cfg := newConfig(images.Radicale, opts)
	if err := checkUsers("radicale", users, nil); err != nil {
		return nil, err
	}
	ref, err := images.Ref(images.Radicale)
	if err != nil {
		return nil, err
	}
	if err := images.Require(ctx, run.Docker, images.Radicale); err != nil {
		return nil, err
	}
	start := time.Now()
	name := prefix(run, cfg.name)
	s := &Server{Name: images.Radicale, run: run, Layout: Layout{NoFiles: radicaleNoFiles}}
	if s.network, err = run.CreateNetwork(ctx, strings.TrimPrefix(name, run.ID+"-")); err != nil {
		return nil, err
	}
	if s.volume, err = run.CreateVolume(ctx, strings.TrimPrefix(name, run.ID+"-")+"-data", stack.DomainSANA); err != nil {
		return nil, failStart(ctx, s, err)
	}
	s.owned = append(s.owned, name, s.volume.Name)
	ctr, err := testcontainers.Run(ctx, ref,
		testcontainers.WithName(name),
		testcontainers.WithLabels(run.Labels(images.Radicale)),
		tcnetwork.WithNetworkName([]string{"radicale"}, s.network),
		testcontainers.WithEnv(cfg.env),
		testcontainers.WithExposedPorts("5232/tcp"),
		testcontainers.WithMounts(testcontainers.ContainerMount{
			Source: testcontainers.GenericVolumeMountSource{Name: s.volume.Name}, Target: RadicaleStorage,
		}),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: bytes.NewReader(colonUsersFile(users)), ContainerFilePath: "/etc/firedrill/users.htpasswd", FileMode: 0o640,
		}),
		testcontainers.WithWaitStrategy(propfindReady("5232/tcp", "/", users[0], cfg.timeout)),
	)
	if ctr != nil {
		run.Track(ctr)
		s.Container = ctr
	}
	if err != nil {
		return nil, failStart(ctx, s, fmt.Errorf("start radicale: %w", err))
	}
	if s.URL, err = baseURL(ctx, ctr, "5232/tcp"); err != nil {
		return nil, failStart(ctx, s, err)
	}
	if cfg.homes {
		if err := createHomes(ctx, s.URL, users); err != nil {
			return nil, failStart(ctx, s, err)
		}
	}
	s.StartupTime = time.Since(start)
	return s, nil
}

// Radicale's home collections, made by WithHomeCollections.
const (
	RadicaleAddressBook = "contacts/"
	RadicaleCalendar    = "calendar/"
)

// createHomes makes every user's address book (extended MKCOL, RFC 5689) and
// calendar (MKCALENDAR, RFC 4791) the standard way, through the server.
func createHomes(ctx context.Context, base string, users []accounts.Account) error {
	hc := &http.Client{Timeout: 30 * time.Second}
	const book = `<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>` +
		`<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Contacts</D:displayname></D:prop></D:set></D:mkcol>`
	const cal = `<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>` +
		`<D:displayname>Calendar</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/>` +
		`<C:comp name="VJOURNAL"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`
	for _, u := range users {
		home := base + "/" + u.Username + "/"
		for _, step := range []struct{ method, url, body string }{
			{"PROPFIND", home, ""}, // Radicale makes the principal collection on first sight
			{"MKCOL", home + RadicaleAddressBook, book},
			{"MKCALENDAR", home + RadicaleCalendar, cal},
		} {
			req, err := http.NewRequestWithContext(ctx, step.method, step.url, strings.NewReader(step.body))
			if err != nil {
				return fmt.Errorf("create home collections: %w", err)
			}
			req.SetBasicAuth(u.Username, u.Password)
			req.Header.Set("Depth", "0")
			if step.body != "" {
				req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
			}
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("create home collections of %s: %w", u.Username, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusMultiStatus {
				return fmt.Errorf("create home collections of %s: %s %s: %s", u.Username, step.method, step.url, resp.Status)
			}
		}
	}
	return nil
}

// RadicaleCollectionDir returns the folder of one of a user's Radicale
// collections, given the collection's URL path (e.g. "/user00001/b3f1.../").
func RadicaleCollectionDir(collectionPath string) string {
	return path.Join(RadicaleStorage, "collection-root", path.Clean("/"+collectionPath))
}

// RadicaleDropCache removes Radicale's item caches, so that it reads stored
// files afresh after they were changed behind its back.
func (s *Server) RadicaleDropCache(ctx context.Context) error {
	_, err := s.Shell(ctx, "find "+RadicaleStorage+" -name .Radicale.cache -type d -prune -exec rm -rf {} +")
	return err
}

// propfindReady waits until the server answers an authenticated PROPFIND of
// urlPath with 207: logins work and the storage answers.
func propfindReady(port, urlPath string, user accounts.Account, timeout time.Duration) wait.Strategy {
	ready := stackdef.Ready{Path: urlPath, Method: "PROPFIND", Status: []int{http.StatusMultiStatus}, Timeout: stackdef.Duration(timeout)}
	return stack.WaitForRequest(ready, port, "the server as "+user.Username, func(req *http.Request) {
		req.Header.Set("Depth", "0")
		req.SetBasicAuth(user.Username, user.Password)
	})
}
