// Command firedrill-images builds the container images firedrill runs, with no
// registry: each image whose content-addressed tag is missing is built from the
// recipes embedded in this binary; the others are left alone.
//
//	firedrill-images [--force] [--list] [postgres|syncd|toxiproxy ...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/firedrill/firedrill/harness/engine"
	"github.com/firedrill/firedrill/harness/images"
)

func main() {
	force := flag.Bool("force", false, "rebuild even when the image's tag exists")
	list := flag.Bool("list", false, "print each image's reference and whether it is built, then exit")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: firedrill-images [--force] [--list] [%s ...]\n", "postgres|syncd|toxiproxy")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *force, *list, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "firedrill-images: %v\n", err)
		if errors.Is(err, engine.ErrUnreachable) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, force, list bool, names []string) error {
	for _, n := range names {
		if _, err := images.Ref(n); err != nil {
			return err
		}
	}
	cli, err := engine.Client(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if list {
		if len(names) == 0 {
			names = images.All
		}
		for _, n := range names {
			missing, err := images.Missing(ctx, cli, n)
			if err != nil {
				return err
			}
			state := "built"
			if len(missing) > 0 {
				state = "missing"
			}
			fmt.Printf("%-10s %-40s %s\n", n, images.MustRef(n), state)
		}
		return nil
	}
	return images.Build(ctx, cli, images.BuildOptions{Log: os.Stderr, Force: force}, names...)
}
