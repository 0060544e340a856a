package gen

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// contact writes a vCard 3.0 or 4.0. The identity (UID, name, vCard version) comes
// from id; everything a user edits (phones, e-mails, addresses, note, photo) from v.
func (g *Generator) contact(id, v *rand.Rand, uid string, version int) []byte {
	c := pick(id, cultures)
	gi, fi := id.IntN(len(c.given)), id.IntN(len(c.family))
	given, family := c.given[gi], c.family[fi]
	v4 := chance(id, g.p.VCard4Ratio)
	fn := given + " " + family
	if c.familyFirst {
		fn = family + " " + given
		if c.country == "日本" || c.country == "中国" {
			fn = family + given
		}
	}
	bday := time.Date(1940+id.IntN(65), time.Month(1+id.IntN(12)), 1+id.IntN(28), 0, 0, 0, 0, time.UTC)
	hasBday := chance(id, 0.5)

	var w lines
	w.line("BEGIN:VCARD")
	if v4 {
		w.line("VERSION:4.0")
	} else {
		w.line("VERSION:3.0")
	}
	w.line("PRODID:-//firedrill//simulated phone//EN")
	if v4 {
		w.prop("UID", "", "urn:uuid:"+uid)
		w.line("KIND:individual")
	} else {
		w.prop("UID", "", uid)
	}
	w.prop("N", "", nameValue(id, c, gi, family, given))
	w.text("FN", "", fn)
	if chance(v, 0.6) {
		w.prop("ORG", "", structured(pick(v, orgs)))
		w.text("TITLE", "", pick(v, titles))
	}
	for i, n := 0, between(v, 1, 4); i < n; i++ {
		types := []string{"CELL", "HOME", "WORK", "VOICE"}[i%4]
		num := digits(v, pick(v, c.phones))
		if v4 {
			uri := "tel:" + strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(num)
			w.prop("TEL", ";VALUE=uri;TYPE="+quote(strings.ToLower(types)+",voice"), uri)
		} else {
			w.prop("TEL", ";TYPE="+types, num)
		}
	}
	for i, n := 0, between(v, 1, 3); i < n; i++ {
		typ := []string{"home", "work", "other"}[i%3]
		addr := fmt.Sprintf("%s.%s%s@%s", c.romGiven[gi], c.romFamily[fi], suffix(i), pick(v, emailDomains))
		if v4 {
			w.prop("EMAIL", ";TYPE="+typ, addr)
		} else {
			w.prop("EMAIL", ";TYPE=INTERNET,"+strings.ToUpper(typ), addr)
		}
	}
	for i, n := 0, between(v, 0, 2); i < n; i++ {
		typ := []string{"home", "work"}[i%2]
		streets := []string{fmt.Sprintf("%s %d", pick(v, c.streets), 1+v.IntN(200))}
		if chance(v, 0.2) { // a second street line: ADR's street is a list
			streets = append([]string{"c/o " + family}, streets...)
		}
		val := joinComponents("", "", list(streets...), escape(pick(v, c.cities)), escape(pick(v, c.region)), escape(digits(v, c.postal)), escape(c.country))
		if v4 {
			w.prop("ADR", ";TYPE="+typ, val)
		} else {
			w.prop("ADR", ";TYPE="+strings.ToUpper(typ), val)
		}
	}
	if hasBday {
		if v4 {
			w.prop("BDAY", "", bday.Format("20060102"))
		} else {
			w.prop("BDAY", "", bday.Format("2006-01-02"))
		}
	}
	if chance(v, 0.3) {
		w.prop("CATEGORIES", "", categoryList(v, 3))
	}
	if chance(v, 0.2) {
		var nicks []string
		for _, i := range v.Perm(len(nicknames))[:between(v, 1, 2)] {
			nicks = append(nicks, nicknames[i])
		}
		w.prop("NICKNAME", "", list(nicks...))
	}
	if chance(v, 0.4) {
		w.text("NOTE", "", pick(v, sentences)+"\n"+pick(v, sentences))
	}
	if chance(v, 0.2) {
		w.prop("X-SIDEKICK-RINGTONE", "", pick(v, []string{"Classic", "Jump", "Hiptop Beat", "Silent"}))
	}
	if chance(v, g.p.ContactPhotoRatio) {
		img := jpegOfSize(v, between(v, 2<<10, 12<<10))
		b64 := base64.StdEncoding.EncodeToString(img)
		if v4 {
			w.prop("PHOTO", "", "data:image/jpeg;base64,"+b64)
		} else {
			w.prop("PHOTO", ";ENCODING=b;TYPE=JPEG", b64)
		}
	}
	w.prop("REV", "", stamp(version).Format("20060102T150405Z"))
	w.line("END:VCARD")
	return w.Bytes()
}

// nameValue writes N: family;given;additional;prefix;suffix, each component
// a list. A share of contacts has additional names (other given names of the
// culture), an honorific prefix or suffixes, some with an escaped comma.
func nameValue(id *rand.Rand, c culture, gi int, family, given string) string {
	var additional, prefix, sfx []string
	if chance(id, 0.25) {
		for _, i := range id.Perm(len(c.given))[:min(2, len(c.given)-1)] {
			if i != gi && len(additional) < 1+id.IntN(2) {
				additional = append(additional, c.given[i])
			}
		}
	}
	if chance(id, 0.1) {
		prefix = append(prefix, pick(id, prefixes))
	}
	if chance(id, 0.1) {
		for _, i := range id.Perm(len(suffixes))[:between(id, 1, 2)] {
			sfx = append(sfx, suffixes[i])
		}
	}
	return joinComponents(escape(family), escape(given), list(additional...), list(prefix...), list(sfx...))
}

func suffix(i int) string {
	if i == 0 {
		return ""
	}
	return itoa(i + 1)
}

// epoch is the start of generated time: the week the Sidekick servers failed.
var epoch = time.Date(2009, time.October, 2, 0, 0, 0, 0, time.UTC)

// stamp is the modification time of an item version: deterministic, later for
// later versions.
func stamp(version int) time.Time {
	return epoch.Add(time.Duration(version)*36*time.Hour + 9*time.Hour)
}
