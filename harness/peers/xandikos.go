package peers

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/images"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// XandikosStorage is where the Xandikos container keeps its data (on the
// server's volume): user u's process serves XandikosStorage/u, its principal is
// /u/, and each collection is a git repository with a working tree, e.g.
// XandikosStorage/u/u/contacts/addressbook. Xandikos serves what is committed,
// not the working tree.
const XandikosStorage = "/var/lib/xandikos"

// Xandikos's defaults (--defaults) per user, as URL paths relative to the
// user's principal.
const (
	XandikosAddressBook = "contacts/addressbook/"
	XandikosCalendar    = "calendars/calendar/"
)

// RunXandikos starts one Xandikos 0.2.8 process per user, each with its own
// data directory, principal (/<user>/), default address book and calendar,
// behind nginx, which logs users in and routes each to their own process; the
// data lives on a volume in san-a. Photos go in /<user>/photos/ (plain WebDAV,
// made with MKCOL) and app data in /<user>/apps/.
func RunXandikos(ctx context.Context, run *stack.Run, users []accounts.Account, opts ...Option) (*Server, error) {
	cfg := newConfig(images.Xandikos, opts)
	if err := checkUsers("xandikos", users, nil); err != nil {
		return nil, err
	}
	ref, err := images.Ref(images.Xandikos)
	if err != nil {
		return nil, err
	}
	if err := images.Require(ctx, run.Docker, images.Xandikos); err != nil {
		return nil, err
	}
	start := time.Now()
	name := prefix(run, cfg.name)
	s := &Server{Name: images.Xandikos, run: run, Layout: Layout{
		PhotosURL: "{base}/{user}/photos/",
		AppsURL:   "{base}/{user}/apps/",
	}}
	if s.network, err = run.CreateNetwork(ctx, strings.TrimPrefix(name, run.ID+"-")); err != nil {
		return nil, err
	}
	if s.volume, err = run.CreateVolume(ctx, strings.TrimPrefix(name, run.ID+"-")+"-data", stack.DomainSANA); err != nil {
		return nil, failStart(ctx, s, err)
	}
	s.owned = append(s.owned, name, s.volume.Name)
	last := users[len(users)-1]
	ctr, err := testcontainers.Run(ctx, ref,
		testcontainers.WithName(name),
		testcontainers.WithLabels(run.Labels(images.Xandikos)),
		tcnetwork.WithNetworkName([]string{"xandikos"}, s.network),
		testcontainers.WithEnv(cfg.env),
		testcontainers.WithExposedPorts("8080/tcp"),
		testcontainers.WithMounts(testcontainers.ContainerMount{
			Source: testcontainers.GenericVolumeMountSource{Name: s.volume.Name}, Target: XandikosStorage,
		}),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: bytes.NewReader(colonUsersFile(users)), ContainerFilePath: "/etc/firedrill/users", FileMode: 0o600,
		}),
		// nginx starts only once every user's process answers; the last user's
		// principal through nginx proves both.
		testcontainers.WithWaitStrategy(propfindReady("8080/tcp", "/"+last.Username+"/", last, cfg.timeout)),
	)
	if ctr != nil {
		run.Track(ctr)
		s.Container = ctr
	}
	if err != nil {
		return nil, failStart(ctx, s, fmt.Errorf("start xandikos: %w", err))
	}
	if s.URL, err = baseURL(ctx, ctr, "8080/tcp"); err != nil {
		return nil, failStart(ctx, s, err)
	}
	s.StartupTime = time.Since(start)
	return s, nil
}

// XandikosCollectionDir returns the git repository of a user's collection,
// given its URL path (e.g. "/user00001/contacts/addressbook/").
func XandikosCollectionDir(user, collectionPath string) string {
	return path.Join(XandikosStorage, user, path.Clean("/"+collectionPath))
}

// XandikosCommit runs a bash script in a collection's repository as the
// xandikos user and commits whatever it changed, so that Xandikos serves it:
// how a test plants damage in a Xandikos store.
func (s *Server) XandikosCommit(ctx context.Context, repo, script, message string) error {
	q := func(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }
	full := "cd " + q(repo) + " && " + script + " && git add -A . && " +
		"git -c user.name=firedrill -c user.email=firedrill@example.invalid commit -q -m " + q(message)
	_, err := s.Exec(ctx, "env", "HOME="+XandikosStorage, "setpriv", "--reuid=xandikos", "--regid=xandikos", "--init-groups",
		"bash", "-euo", "pipefail", "-c", full)
	return err
}
