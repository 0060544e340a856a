package stackdef

import (
	"strings"
	"testing"
)

func TestBuiltInDefinitionsParse(t *testing.T) {
	for _, name := range Names() {
		d, err := Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.Name != name {
			t.Errorf("%s.yaml names itself %q", name, d.Name)
		}
	}
	if got := strings.Join(Names(), ","); got != "davical,syncd" {
		t.Errorf("built-in stacks %s, want davical,syncd", got)
	}
	ref, err := Load("")
	if err != nil || ref.Name != Reference || !ref.HasFiles() || ref.Users.Import == "" {
		t.Fatalf("the reference stack: %+v, %v", ref, err)
	}
	dav, _ := Load("davical")
	if dav.Users.Import != "" || dav.Schema != "" || dav.Database.NoDump == "" {
		t.Errorf("davical claims a bulk import, syncd's schema or that a dump of its superuser's database holds its data: %+v", dav)
	}
}

func TestUnknownStackNamesTheBuiltIns(t *testing.T) {
	_, err := Load("nosuch")
	if err == nil || !strings.Contains(err.Error(), "davical, syncd") {
		t.Fatalf("err = %v, want the built-in names", err)
	}
}

func TestParseNamesFileLineAndField(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown field", "name: x\nserver:\n  image: i\n  prot: 80\n", "s.yaml:4: unknown field prot"},
		{"bad port", "name: x\nserver:\n  image: i\n  port: 0\n  ready: {path: /}\nusers: {provision: syncd-admin, token: t}\nfiles: {none: n}\n", "s.yaml:4: server.port: 0"},
		{"placeholder", "name: x\nserver:\n  image: i\n  port: 80\n  env:\n    A: ${databse.url}\n  ready: {path: /}\nusers: {provision: syncd-admin, token: t}\nfiles: {none: n}\n", "s.yaml:6: server.env.A: unknown placeholder ${databse.url}"},
		{"setup line", "name: x\ndatabase:\n  setup:\n    - SELECT 1\n    - SELECT '${secret.}'\nserver: {image: i, port: 80, ready: {path: /}}\nusers: {provision: syncd-admin, token: t}\nfiles: {none: n}\n", "s.yaml:5: database.setup[1]"},
		{"provision", "name: x\nserver: {image: i, port: 80, ready: {path: /}}\nusers:\n  provision: ldap\nfiles: {none: n}\n", "s.yaml:4: users.provision: \"ldap\": want syncd-admin"},
		{"files both", "name: x\nserver: {image: i, port: 80, ready: {path: /}}\nusers: {provision: syncd-admin, token: t}\nfiles: {none: n, photos: '{base}/p/{user}/'}\n", "s.yaml:4: files: give either"},
		{"not yaml", "name: [x\n", "s.yaml: not YAML"},
		{"duration", "name: x\nserver:\n  image: i\n  port: 80\n  ready: {path: /, timeout: soon}\n", "s.yaml:5: duration \"soon\""},
	}
	for _, c := range cases {
		_, err := Parse("s.yaml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestExpand(t *testing.T) {
	v := Vars{Database: map[string]string{"host": "db", "url": "postgres://u@db/x"}, Secret: func(n string) string { return "s-" + n }}
	got := v.Expand("${database.url} ${database.host}:${secret.app} $HOME")
	if got != "postgres://u@db/x db:s-app $HOME" {
		t.Errorf("Expand = %q", got)
	}
}

func TestTheExampleDefinitionParses(t *testing.T) {
	d, err := Load("../../examples/stacks/ourstack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "ourstack" || d.Server.Port != 9090 || d.Source == "" || !strings.Contains(d.Label(), "ourstack.yaml") {
		t.Errorf("example: %+v", d)
	}
}
