// Command firedrill rehearses disasters against sync services.
//
//	firedrill load   --server URL --users users.csv --profile small --seed S --ledger run.ledger
//	firedrill verify --server URL --users users.csv --ledger run.ledger [--json out.json]
//	firedrill snapshot --server URL --users users.csv --out before.snap
//	firedrill verify --server URL --users users.csv --baseline before.snap
//	firedrill rehearse --procedure ./migrate.sh | builtin:san-migration [--touches data] [--backup continuous]
//
// load and verify work against any CardDAV/CalDAV(/WebDAV) server: point them at a
// staging stack with a users file of accounts that exist there. Each subcommand
// lives in its own file and registers itself in commands; run `firedrill help`.
//
// The users file is CSV, one account per line: username,password. A first line
// "username,password" is an optional header; lines starting with '#' are comments;
// fields may be quoted ("pa,ss"). load needs the accounts to exist on the server;
// with --admin-token it creates them through the reference server's admin API.
//
// Every run prints its seed; FIREDRILL_SEED=<n> (or --seed) replays a load's data
// and plan. verify prints the seed recorded in the ledger.
//
// Exit status: 0 success (verify: every user intact), 1 failure (load: a user did
// not complete; verify: damage found, or not everything could be verified), 2 bad
// input or usage (malformed users file, unknown profile, a ledger that does not
// match the users, a server that cannot be reached at all by verify).
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/firedrill/firedrill/harness/progress"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// env is what a subcommand may touch of the process, so that tests run
// subcommands in-process.
type env struct {
	stdout, stderr io.Writer
	stderrTTY      bool
	getenv         func(string) string
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

var commands = map[string]command{}

// register adds a subcommand; each subcommand's file calls it from init.
func register(c command) { commands[c.name] = c }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: os.Stdout, stderr: os.Stderr, stderrTTY: progress.IsTerminal(os.Stderr), getenv: os.Getenv}
	os.Exit(run(ctx, e, os.Args[1:]))
}

// run dispatches to a subcommand and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run(ctx, e, []string{"-h"})
			}
		}
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "firedrill: unknown command %q\n\n", args[0])
		usage(e.stderr)
		return exitUsage
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: firedrill <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'firedrill help <command>' for its flags. FIREDRILL_SEED=<n> replays a run's randomness.")
}

// newFlags returns a flag set that reports errors on e.stderr and does not exit.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: firedrill %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns the exit status to stop with, or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "firedrill %s: unexpected arguments %q\n", fs.Name(), fs.Args())
		fs.Usage()
		return exitUsage
	}
	return -1
}

// required reports missing required flags as a usage error.
func required(e *env, fs *flag.FlagSet, flags map[string]string) bool {
	var missing []string
	for name, v := range flags {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) == 0 {
		return true
	}
	sort.Strings(missing)
	fmt.Fprintf(e.stderr, "firedrill %s: missing %s\n", fs.Name(), strings.Join(missing, ", "))
	fs.Usage()
	return false
}

// resolveSeed picks the run's seed: the flag, else FIREDRILL_SEED, else a fresh
// random one. It says where the seed came from.
func resolveSeed(e *env, flagValue string) (int64, string, error) {
	if flagValue != "" {
		s, err := strconv.ParseInt(flagValue, 10, 64)
		if err != nil {
			return 0, "", fmt.Errorf("parse --seed %q: want an integer", flagValue)
		}
		return s, "--seed", nil
	}
	if v := strings.TrimSpace(e.getenv("FIREDRILL_SEED")); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, "", fmt.Errorf("parse FIREDRILL_SEED=%q: want an integer", v)
		}
		return s, "FIREDRILL_SEED", nil
	}
	var b [8]byte
	if _, err := crand.Read(b[:]); err != nil {
		return 0, "", fmt.Errorf("pick a seed: %w", err)
	}
	return int64(binary.LittleEndian.Uint64(b[:]) >> 1), "random", nil
}
