package dav

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// refMultistatus decodes a multistatus with encoding/xml, as the client did
// before its own scanner: the reference the scanner is checked against.
func refMultistatus(r io.Reader) (*Multistatus, error) {
	type wirePropstat struct {
		Prop   Element `xml:"DAV: prop"`
		Status string  `xml:"DAV: status"`
	}
	type wireResponse struct {
		Hrefs     []string       `xml:"DAV: href"`
		Status    string         `xml:"DAV: status"`
		Propstats []wirePropstat `xml:"DAV: propstat"`
	}
	type wireMultistatus struct {
		XMLName   xml.Name       `xml:"DAV: multistatus"`
		Responses []wireResponse `xml:"DAV: response"`
		SyncToken string         `xml:"DAV: sync-token"`
	}
	var w wireMultistatus
	if err := xml.NewDecoder(r).Decode(&w); err != nil {
		return nil, fmt.Errorf("parse multistatus: %w", err)
	}
	ms := &Multistatus{SyncToken: strings.TrimSpace(w.SyncToken)}
	for _, wr := range w.Responses {
		if len(wr.Hrefs) == 0 {
			return nil, fmt.Errorf("parse multistatus: a response without href")
		}
		code := 0
		if wr.Status != "" {
			c, err := parseStatus([]byte(wr.Status))
			if err != nil {
				return nil, err
			}
			code = c
		}
		for _, h := range wr.Hrefs {
			resp := Response{Href: strings.TrimSpace(h), Status: code}
			for _, ps := range wr.Propstats {
				c, err := parseStatus([]byte(ps.Status))
				if err != nil {
					return nil, err
				}
				for _, p := range ps.Prop.Children {
					resp.add(p, c)
				}
			}
			ms.Responses = append(ms.Responses, resp)
		}
	}
	return ms, nil
}
