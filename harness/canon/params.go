package canon

import (
	"bytes"
	"slices"
)

// pval is one normalised parameter value: the parameter's name and the
// value's bytes in work.pbuf.
type pval struct {
	name []byte
	val  span
	kind paramKind
}

// nparam is one normalised parameter: its name and its values,
// work.pv[vals : vals+nval].
type nparam struct {
	name       []byte
	vals, nval int32
}

var (
	typeName     = []byte("TYPE")
	valueName    = []byte("VALUE")
	encodingName = []byte("ENCODING")
	tzidName     = []byte("TZID")
	voiceType    = []byte("voice")
	internetType = []byte("internet")
)

// normParams normalises the parameters of p into w.np (sorted by name, each
// name once, values merged) and returns the effective value kind. Values
// whose case does not matter are case-folded, TYPE values become a set,
// implied defaults are made explicit, a VALUE that restates the default type
// and ENCODING=8BIT are dropped.
func (w *work) normParams(p *rawProp, info propInfo, vcard, v3 bool) valueKind {
	w.pv = w.pv[:0]
	w.pbuf = w.pbuf[:0]
	pname := w.src[p.name.lo:p.name.hi]
	for i := p.params; i < p.params+p.npar; i++ {
		rp := &w.params[i]
		name := typeName
		if rp.name.lo >= 0 {
			name = w.src[rp.name.lo:rp.name.hi]
		}
		kind := paramKinds[string(name)]
		for j := rp.vals; j < rp.vals+rp.nval; j++ {
			v := w.src[w.pvals[j].lo:w.pvals[j].hi]
			if kind == pTypeSet || kind == pUpperSet { // a set, whether written as a list or repeated
				for {
					k := bytes.IndexByte(v, ',')
					if k < 0 {
						break
					}
					w.addParam(name, v[:k], kind)
					v = v[k+1:]
				}
			}
			w.addParam(name, v, kind)
		}
	}
	if vcard {
		switch string(pname) {
		case "TEL":
			if !w.hasParam(typeName) {
				w.addParam(typeName, voiceType, pTypeSet)
			}
		case "EMAIL":
			if v3 && !w.hasParamValue(typeName, "x400") && !w.hasParamValue(typeName, "internet") {
				w.addParam(typeName, internetType, pTypeSet)
			}
		}
	}
	valueType := w.paramValue(valueName)
	encoding := w.paramValue(encodingName)
	kind := effectiveKind(info, valueType, encoding, vcard)
	if !vcard {
		for _, d := range icalDefaultParams {
			if d.prop == string(pname) && !w.hasParam(d.param) && (d.prop != "TRIGGER" || kind == vDuration) {
				w.addParam(d.param, d.value, pText)
			}
		}
		if valueType != nil && info.defaultType != "" && string(valueType) == info.defaultType {
			w.dropParam(valueName)
		}
		if string(encoding) == "8bit" {
			w.dropParam(encodingName)
		}
	}
	w.groupParams()
	return kind
}

// addParam appends one value of parameter name, normalised as kind says.
func (w *work) addParam(name, v []byte, kind paramKind) {
	start := len(w.pbuf)
	switch kind {
	case pUpper, pUpperSet:
		w.pbuf = append(w.pbuf, v...)
		upper(w.pbuf[start:])
	case pLower, pTypeSet:
		w.pbuf = append(w.pbuf, v...)
		lowerASCII(w.pbuf[start:])
	case pURI:
		w.pbuf = w.appendParamText(w.pbuf, v)
		lowerScheme(w.pbuf[start:])
	case pInteger:
		var ok bool
		if w.pbuf, ok = appendInteger(w.pbuf, v); !ok {
			w.pbuf = w.appendParamText(w.pbuf, v)
		}
	default:
		w.pbuf = w.appendParamText(w.pbuf, v)
	}
	w.pv = append(w.pv, pval{name: name, val: span{int32(start), int32(len(w.pbuf))}, kind: kind})
}

// appendParamText appends a parameter value in NFC; parameter values have no
// backslash escapes.
func (w *work) appendParamText(dst, v []byte) []byte {
	if w.isNFC(v) {
		return append(dst, v...)
	}
	return appendNFC(dst, v)
}

func (w *work) hasParam(name []byte) bool {
	for _, p := range w.pv {
		if bytes.Equal(p.name, name) {
			return true
		}
	}
	return false
}

func (w *work) hasParamValue(name []byte, value string) bool {
	for _, p := range w.pv {
		if bytes.Equal(p.name, name) && string(w.pbuf[p.val.lo:p.val.hi]) == value {
			return true
		}
	}
	return false
}

// paramValue returns the first value of parameter name, or nil.
func (w *work) paramValue(name []byte) []byte {
	for _, p := range w.pv {
		if bytes.Equal(p.name, name) {
			return w.pbuf[p.val.lo:p.val.hi]
		}
	}
	return nil
}

// dropParam removes a parameter that carries only a single, default value.
func (w *work) dropParam(name []byte) {
	n := 0
	for _, p := range w.pv {
		if bytes.Equal(p.name, name) {
			n++
		}
	}
	if n != 1 {
		return
	}
	w.pv = slices.DeleteFunc(w.pv, func(p pval) bool { return bytes.Equal(p.name, name) })
}

// groupParams sorts w.pv by name (stably: repeated parameters keep their
// order), makes TYPE and SCHEDULE-STATUS values sorted sets, and fills w.np.
func (w *work) groupParams() {
	pv, buf := w.pv, w.pbuf
	for i := 1; i < len(pv); i++ { // insertion sort: a handful of values, stable
		for j := i; j > 0; j-- {
			c := bytes.Compare(pv[j-1].name, pv[j].name)
			if c < 0 {
				break
			}
			if c == 0 {
				k := pv[j].kind
				if (k != pTypeSet && k != pUpperSet) || bytes.Compare(buf[pv[j-1].val.lo:pv[j-1].val.hi], buf[pv[j].val.lo:pv[j].val.hi]) <= 0 {
					break
				}
			}
			pv[j-1], pv[j] = pv[j], pv[j-1]
		}
	}
	// Drop repeated values of a set.
	out := pv[:0]
	for i, p := range pv {
		if i > 0 && bytes.Equal(p.name, pv[i-1].name) {
			if k := p.kind; (k == pTypeSet || k == pUpperSet) &&
				bytes.Equal(buf[p.val.lo:p.val.hi], buf[out[len(out)-1].val.lo:out[len(out)-1].val.hi]) {
				continue
			}
		}
		out = append(out, p)
	}
	w.pv = out
	w.np = w.np[:0]
	for i, p := range w.pv {
		if i > 0 && bytes.Equal(p.name, w.pv[i-1].name) {
			w.np[len(w.np)-1].nval++
			continue
		}
		w.np = append(w.np, nparam{name: p.name, vals: int32(i), nval: 1})
	}
}

// effectiveKind is how a value is compared, given its VALUE and ENCODING
// parameters.
func effectiveKind(info propInfo, valueType, encoding []byte, vcard bool) valueKind {
	if string(encoding) == "b" || string(encoding) == "base64" {
		return vBinary
	}
	k := info.kind
	if valueType == nil || string(valueType) == info.defaultType {
		return k
	}
	textual := k == vText || k == vList || k == vStructured || k == vNameLists || k == vGender || k == vEnum || k == vEnumLower
	switch string(valueType) {
	case "DATE":
		if k == vDateTime || k == vInstant || k == vDateList || k == vCardDate {
			return k
		}
		if vcard {
			return vCardDate
		}
	case "DATE-TIME":
		if k == vDuration || k == vDateTime || k == vInstant || k == vDateList {
			if k == vDuration {
				return vDateTime
			}
			return k
		}
		if vcard {
			return vCardDate
		}
	case "DATE-AND-OR-TIME", "TIMESTAMP", "TIME":
		if vcard {
			return vCardDate
		}
	case "PERIOD":
		if k == vDateList || k == vPeriods {
			return k
		}
	case "URI", "CAL-ADDRESS":
		return vURI
	case "DURATION":
		return vDuration
	case "INTEGER":
		return vInteger
	case "UTC-OFFSET":
		return vUTCOffset
	case "RECUR":
		return vRecur
	case "TEXT":
		if textual {
			return k
		}
	}
	return vText
}

// appendHead appends [GROUP.]NAME and the normalised parameters, leaving out
// the one named skip (nil: none).
func (w *work) appendHead(dst []byte, p *rawProp, skip []byte) []byte {
	if p.group.len() > 0 {
		dst = append(dst, w.src[p.group.lo:p.group.hi]...)
		dst = append(dst, '.')
	}
	dst = append(dst, w.src[p.name.lo:p.name.hi]...)
	for _, np := range w.np {
		if skip != nil && bytes.Equal(np.name, skip) {
			continue
		}
		dst = append(dst, ';')
		dst = append(dst, np.name...)
		dst = append(dst, '=')
		for i := np.vals; i < np.vals+np.nval; i++ {
			if i > np.vals {
				dst = append(dst, ',')
			}
			v := w.pbuf[w.pv[i].val.lo:w.pv[i].val.hi]
			if bytes.ContainsAny(v, ";:,") {
				dst = append(dst, '"')
				dst = append(dst, v...)
				dst = append(dst, '"')
			} else {
				dst = append(dst, v...)
			}
		}
	}
	return dst
}
