package main

import (
	"net"
	"strings"
	"testing"
)

// TestServeRefusesWhatItShouldNotListenOn: no drill starts (and no Docker is
// needed) when the live page cannot listen where asked.
func TestServeRefusesWhatItShouldNotListenOn(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "crash-mid-sync", "--serve", "0.0.0.0:8089"}, "--serve-public"},
		{[]string{"run", "crash-mid-sync", "--serve", "192.0.2.1:8089"}, "not a loopback address"},
		{[]string{"run", "crash-mid-sync", "--serve-public"}, "--serve-public needs --serve ADDR"},
		{[]string{"run", "crash-mid-sync", "--serve", "127.0.0.1:notaport"}, "port"},
		{[]string{"run", "crash-mid-sync", "--serve", busy.Addr().String()}, "listen on " + busy.Addr().String()},
	}
	for _, c := range cases {
		st, out, errOut := runCLI(t, nil, c.args...)
		if st != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %q", c.args, st, errOut, exitUsage, c.want)
		}
		if strings.Contains(out, "[1/") {
			t.Errorf("%v: a drill started:\n%s", c.args, out)
		}
	}
}
