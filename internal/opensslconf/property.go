package opensslconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Property queries as OpenSSL parses default_properties
// (crypto/property/property_parse.c, ossl_parse_query).

type propOper int

const (
	operEQ propOper = iota
	operNE
	operOverride
)

type propType int

const (
	propString propType = iota
	propNumber
	propUndefined
)

type property struct {
	name     string
	optional bool
	oper     propOper
	typ      propType
	str      string
	num      int64
}

// predefinedNames are the property names every library context knows
// (ossl_property_parse_init). Other names without a dot are not created by
// a query: they all get index 0, so two of them are duplicates.
var predefinedNames = []string{"provider", "version", "fips", "output", "input", "structure"}

func (p property) key() string {
	if strings.Contains(p.name, ".") || indexOf(predefinedNames, p.name) >= 0 {
		return p.name
	}
	return ""
}

func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isXDigit(c byte) bool {
	return isDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f')
}
func isPrint(c byte) bool { return c >= 0x20 && c <= 0x7e }
func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 0x20
	}
	return c
}

// pstr is the query as a C string: at(i) is NUL past its end.
type pstr string

func (s pstr) at(i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func (s pstr) skipSpace(i int) int {
	for isSpace(s.at(i)) {
		i++
	}
	return i
}

var errProperty = errors.New("invalid property query")

func parseName(s pstr, i int) (string, int, error) {
	var name []byte
	tooLong := false
	for {
		if !isAlpha(s.at(i)) {
			return "", i, fmt.Errorf("%w: not an identifier at %q", errProperty, s[min(i, len(s)):])
		}
		for {
			if len(name) < 99 {
				name = append(name, toLower(s.at(i)))
			} else {
				tooLong = true
			}
			i++
			if c := s.at(i); !(c == '_' || isAlpha(c) || isDigit(c)) {
				break
			}
		}
		if s.at(i) != '.' {
			break
		}
		if len(name) < 99 {
			name = append(name, '.')
		} else {
			tooLong = true
		}
		i++
	}
	if tooLong {
		return "", i, fmt.Errorf("%w: name too long", errProperty)
	}
	return string(name), s.skipSpace(i), nil
}

func endOfValue(c byte) bool { return isSpace(c) || c == 0 || c == ',' }

// parseNumber parses digits in base at i; ok is false where OpenSSL fails.
func parseNumber(s pstr, i, base int) (int64, int, bool) {
	var v int64
	digit := func(c byte) (int64, bool) {
		switch {
		case base == 8 && c >= '0' && c <= '7', base == 10 && isDigit(c), base == 16 && isDigit(c):
			return int64(c - '0'), true
		case base == 16 && isXDigit(c):
			return int64(toLower(c)-'a') + 10, true
		}
		return 0, false
	}
	d, ok := digit(s.at(i))
	if !ok {
		return 0, i, false
	}
	for ok {
		if v > (1<<63-1-d)/int64(base) {
			return 0, i, false
		}
		v = v*int64(base) + d
		i++
		d, ok = digit(s.at(i))
	}
	if !endOfValue(s.at(i)) {
		return 0, i, false
	}
	return v, s.skipSpace(i), true
}

// parseValue is parse_value: on failure the position does not move.
func parseValue(s pstr, i int, p *property) (int, bool) {
	c := s.at(i)
	switch {
	case c == '"' || c == '\'':
		j := i + 1
		for s.at(j) != 0 && s.at(j) != c {
			j++
		}
		if s.at(j) == 0 || j-(i+1) > 999 {
			return i, false
		}
		p.typ, p.str = propString, string(s[i+1:j])
		return s.skipSpace(j + 1), true
	case c == '+' || c == '-':
		v, j, ok := parseNumber(s, i+1, 10)
		if !ok {
			return i, false
		}
		if c == '-' {
			v = -v
		}
		p.typ, p.num = propNumber, v
		return j, true
	case c == '0' && s.at(i+1) == 'x':
		v, j, ok := parseNumber(s, i+2, 16)
		if !ok {
			return i, false
		}
		p.typ, p.num = propNumber, v
		return j, true
	case c == '0' && isDigit(s.at(i+1)):
		v, j, ok := parseNumber(s, i+1, 8)
		if !ok {
			return i, false
		}
		p.typ, p.num = propNumber, v
		return j, true
	case isDigit(c):
		v, j, ok := parseNumber(s, i, 10)
		if !ok {
			return i, false
		}
		p.typ, p.num = propNumber, v
		return j, true
	case isAlpha(c):
		j := i
		var v []byte
		for isPrint(s.at(j)) && !isSpace(s.at(j)) && s.at(j) != ',' {
			v = append(v, toLower(s.at(j)))
			j++
		}
		if !endOfValue(s.at(j)) {
			return i, false
		}
		if len(v) > 999 {
			// Too long: OpenSSL moves past it, but has no value.
			return s.skipSpace(j), false
		}
		p.typ, p.str = propString, string(v)
		return s.skipSpace(j), true
	}
	return i, false
}

// parseQuery is ossl_parse_query with create_values set, as
// evp_set_default_properties_int calls it.
func parseQuery(q string) ([]property, error) {
	s := pstr(q)
	i := s.skipSpace(0)
	var out []property
	for done := s.at(i) == 0; !done; {
		var p property
		var err error
		if s.at(i) == '-' {
			p.oper = operOverride
			if p.name, i, err = parseName(s, s.skipSpace(i+1)); err != nil {
				return nil, err
			}
		} else {
			if s.at(i) == '?' {
				p.optional = true
				i = s.skipSpace(i + 1)
			}
			if p.name, i, err = parseName(s, i); err != nil {
				return nil, err
			}
			switch {
			case s.at(i) == '=':
				i = s.skipSpace(i + 1)
				p.oper = operEQ
			case s.at(i) == '!' && s.at(i+1) == '=':
				i = s.skipSpace(i + 2)
				p.oper = operNE
			default:
				// A name alone is a Boolean comparison for true.
				p.typ, p.str = propString, "yes"
				out = append(out, p)
				if done = s.at(i) != ','; !done {
					i = s.skipSpace(i + 1)
				}
				continue
			}
			var ok bool
			if i, ok = parseValue(s, i, &p); !ok {
				p.typ = propUndefined
			}
		}
		out = append(out, p)
		if done = s.at(i) != ','; !done {
			i = s.skipSpace(i + 1)
		}
	}
	if s.at(i) != 0 {
		return nil, fmt.Errorf("%w: trailing characters %q", errProperty, s[i:])
	}
	seen := map[string]bool{}
	for _, p := range out {
		if seen[p.key()] {
			return nil, fmt.Errorf("%w: duplicated name %q", errProperty, p.name)
		}
		seen[p.key()] = true
	}
	return out, nil
}

// mergeProperties is ossl_property_merge: a's clauses win.
func mergeProperties(a, b []property) []property {
	out := append([]property(nil), a...)
	for _, p := range b {
		dup := false
		for _, q := range a {
			if q.key() == p.key() {
				dup = true
			}
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// fipsEnabled is ossl_property_is_enabled(ctx, "fips", defaults).
func fipsEnabled(pl []property) bool {
	for _, p := range pl {
		if p.name != "fips" {
			continue
		}
		if p.optional || p.oper == operOverride || p.typ != propString {
			return false
		}
		return (p.oper == operEQ && p.str == "yes") || (p.oper == operNE && p.str != "yes")
	}
	return false
}

func formatProperties(pl []property) string {
	var parts []string
	for _, p := range pl {
		var b strings.Builder
		switch {
		case p.oper == operOverride:
			b.WriteString("-" + p.name)
			parts = append(parts, b.String())
			continue
		case p.optional:
			b.WriteByte('?')
		}
		b.WriteString(p.name)
		if p.oper == operNE {
			b.WriteString("!=")
		} else {
			b.WriteByte('=')
		}
		switch p.typ {
		case propString:
			b.WriteString(p.str)
		case propNumber:
			b.WriteString(strconv.FormatInt(p.num, 10))
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ",")
}
