package live

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"

	"github.com/firedrill/firedrill/harness/report"
)

//go:embed page.html.tmpl
var pageTemplate string

//go:embed page.js
var pageScript string

var pageTmpl = template.Must(template.New("live.html").Parse(pageTemplate))

// pageData is what the live page's template sees. The page carries no state:
// its script reads everything from the event stream, the first event being
// the state so far.
type pageData struct {
	Info   Info
	Token  string
	CSS    template.CSS // index.html's stylesheet: the same look as the final report
	Script template.JS
}

// renderPage renders the live page for a run.
func renderPage(info Info, token string) ([]byte, error) {
	var b bytes.Buffer
	err := pageTmpl.Execute(&b, pageData{Info: info, Token: token,
		CSS: template.CSS(report.Stylesheet()), Script: template.JS(pageScript)})
	if err != nil {
		return nil, fmt.Errorf("render live page: %w", err)
	}
	return b.Bytes(), nil
}
