package opensslconf

import (
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// treeFS is an in-memory FS with directories.
type treeFS map[string]string

func (t treeFS) ReadFile(name string) ([]byte, error) {
	if dt, ok := t[name]; ok {
		return []byte(dt), nil
	}
	return nil, fsNotExist(name)
}

func (t treeFS) ReadDir(name string) ([]string, error) {
	seen := map[string]bool{}
	for p := range t {
		if dir, base := path.Split(p); path.Clean(dir) == name {
			seen[base] = true
		} else if strings.HasPrefix(p, name+"/") {
			seen[strings.SplitN(strings.TrimPrefix(p, name+"/"), "/", 2)[0]] = true
		}
	}
	if len(seen) == 0 {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	// Unsorted on purpose: Parse must not rely on the listing's order.
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out, nil
}

func (t treeFS) IsDir(name string) bool {
	for p := range t {
		if strings.HasPrefix(p, name+"/") {
			return true
		}
	}
	return false
}

func parseTree(t *testing.T, files treeFS, env map[string]string) *Config {
	t.Helper()
	c, err := Parse(files, "/main.cnf", env, "/work")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLoader covers what OpenSSL's NCONF loader (crypto/conf/conf_def.c)
// reads, construct by construct. want lists section.name = value (the
// default section is "default"); absent lists names that must not be set;
// errors are substrings of the one error that drops the configuration.
func TestLoader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		files  treeFS
		env    map[string]string
		want   map[string]string
		absent []string
		err    string
		// nonFatal is an error that leaves the configuration loaded.
		nonFatal string
	}{{
		name:   "a NUL byte ends the piece read, which joins the next line",
		files:  treeFS{"/main.cnf": "a = x\x00junk\nb = 1\n"},
		want:   map[string]string{"default.a": "xb = 1"},
		absent: []string{"default.b"},
	}, {
		name:   "a line starting with a NUL byte ends the file",
		files:  treeFS{"/main.cnf": "a = 1\n\x00b = 2\nc = 3\n"},
		want:   map[string]string{"default.a": "1"},
		absent: []string{"default.b", "default.c"},
	}, {
		name:  "a NUL byte in an included file ends only that piece",
		files: treeFS{"/main.cnf": ".include /i.cnf\nafter = 1\n", "/i.cnf": "[s]\nk = v\x00\nn = 1\n"},
		want:  map[string]string{"s.k": "vn = 1", "s.after": "1"},
	}, {
		name:  "lines longer than 510 bytes are read in pieces and joined",
		files: treeFS{"/main.cnf": "k = " + strings.Repeat("x", 1200) + "\nnext = 1\n"},
		want:  map[string]string{"default.k": strings.Repeat("x", 1200), "default.next": "1"},
	}, {
		name:   "a NUL byte in the second piece of a long line loses the rest of that piece only",
		files:  treeFS{"/main.cnf": "k = " + strings.Repeat("x", 506) + "yy\x00zz\nnext = 1\n"},
		want:   map[string]string{"default.k": strings.Repeat("x", 506) + "yynext = 1"},
		absent: []string{"default.next"},
	}, {
		name:  "a UTF-8 byte order mark is skipped at the start",
		files: treeFS{"/main.cnf": "\xEF\xBB\xBFa = 1\n"},
		want:  map[string]string{"default.a": "1"},
	}, {
		name:  "elsewhere, bytes above 127 are no name characters",
		files: treeFS{"/main.cnf": "a = 1\ncaf\xc3\xa9 = 2\n"},
		err:   "/main.cnf:2: missing equal sign",
	}, {
		name:  "but are fine in values",
		files: treeFS{"/main.cnf": "a = caf\xc3\xa9 \xff\n"},
		want:  map[string]string{"default.a": "caf\xc3\xa9 \xff"},
	}, {
		name:  "continuation lines, CR LF and stray CRs",
		files: treeFS{"/main.cnf": "a = 1\\\r\n2\r\r\nb = x\\\\\nc = 3\n"},
		want:  map[string]string{"default.a": "12", "default.b": `x\`, "default.c": "3"},
	}, {
		name:  "comments end at # outside quotes and escapes",
		files: treeFS{"/main.cnf": "a = \"x # y\" # z\nb = p\\#q # r\nc = 'it''s' `t`\n"},
		want:  map[string]string{"default.a": "x # y", "default.b": "p#q", "default.c": "its t"},
	}, {
		name:  "escapes",
		files: treeFS{"/main.cnf": `a = \n\t\r\b\x\\` + "\nb = \"q\\\"\\n\"\n"},
		want:  map[string]string{"default.a": "\n\t\r\bx\\", "default.b": `q"n`},
	}, {
		name: "variables",
		files: treeFS{"/main.cnf": "v = val\n[s]\nw = sv\n" +
			"a = $v ${v} $(v) $s::w ${s::w} $default::v $ENV::HOME $ENV::v\n[ENV]\nHOME = from-section\n"},
		env:  map[string]string{"HOME": "/root"},
		want: map[string]string{"s.a": "val val val sv sv val /root val", "ENV.HOME": "from-section"},
	}, {
		name:  "the ENV section takes precedence over the environment",
		files: treeFS{"/main.cnf": "[ENV]\nHOME = conf\n[s]\na = $ENV::HOME\n"},
		env:   map[string]string{"HOME": "/root"},
		want:  map[string]string{"s.a": "conf"},
	}, {
		name:  "an undefined variable drops the configuration",
		files: treeFS{"/main.cnf": "openssl_conf = init\na = $nope\n"},
		err:   `/main.cnf:2: variable "nope" has no value`,
	}, {
		name:  "a lone $ names the empty name",
		files: treeFS{"/main.cnf": "= empty\na = x$ y\n"},
		want:  map[string]string{"default.": "empty", "default.a": "xempty y"},
	}, {
		name:  "an unclosed brace drops the configuration",
		files: treeFS{"/main.cnf": "v = 1\na = ${v\n"},
		err:   "no close brace",
	}, {
		name:  "mismatched braces",
		files: treeFS{"/main.cnf": "v = 1\na = $(v}\n"},
		err:   "no close brace",
	}, {
		name:  ".pragma dollarid makes $ a name character and leaves only ${} and $() expanded",
		files: treeFS{"/main.cnf": "v = 1\n.pragma dollarid:on\na$b = $v ${v}\n"},
		want:  map[string]string{"default.a$b": "$v 1"},
	}, {
		name:  "a name starting with .pragma is a pragma",
		files: treeFS{"/main.cnf": "v = 1\n.pragmax = dollarid:true\na = $v\n"},
		want:  map[string]string{"default.a": "$v"},
	}, {
		name:  "an invalid pragma value drops the configuration",
		files: treeFS{"/main.cnf": ".pragma dollarid:maybe\n"},
		err:   "invalid pragma value",
	}, {
		name:  "a pragma without a value drops the configuration",
		files: treeFS{"/main.cnf": ".pragma dollarid:\n"},
		err:   "invalid pragma",
	}, {
		name:  "unknown pragmas are ignored",
		files: treeFS{"/main.cnf": ".pragma whatever:x\na = 1\n"},
		want:  map[string]string{"default.a": "1"},
	}, {
		name:  ".pragma abspath refuses relative includes, and the configuration",
		files: treeFS{"/main.cnf": ".pragma abspath:true\n.include i.cnf\n"},
		err:   "relative include",
	}, {
		name:  "relative includes resolve against the working directory",
		files: treeFS{"/main.cnf": ".include i.cnf\n", "/work/i.cnf": "[i]\nk = 1\n"},
		want:  map[string]string{"i.k": "1"},
	}, {
		name:  "against .pragma includedir",
		files: treeFS{"/main.cnf": ".pragma includedir:/inc\n.include = i.cnf\n", "/inc/i.cnf": "[i]\nk = 1\n"},
		want:  map[string]string{"i.k": "1"},
	}, {
		name: "OPENSSL_CONF_INCLUDE wins over .pragma includedir",
		files: treeFS{"/main.cnf": ".pragma includedir:/inc\n.include i.cnf\n", "/inc/i.cnf": "[i]\nk = pragma\n",
			"/env/i.cnf": "[i]\nk = env\n"},
		env:  map[string]string{"OPENSSL_CONF_INCLUDE": "/env/"},
		want: map[string]string{"i.k": "env"},
	}, {
		name:   "an include path is expanded and unquoted (nothing expands inside quotes)",
		files:  treeFS{"/main.cnf": "d = /inc\n.include $d/i.cnf\n.include \"$d/j.cnf\"\n.include '/inc/k.cnf'\n", "/inc/i.cnf": "[i]\nk = 1\n", "/inc/j.cnf": "[j]\nk = 1\n", "/inc/k.cnf": "[k]\nk = 1\n"},
		want:   map[string]string{"i.k": "1", "k.k": "1"},
		absent: []string{"j.k"},
	}, {
		name:  "a missing include is skipped",
		files: treeFS{"/main.cnf": ".include /nope.cnf\na = 1\n"},
		want:  map[string]string{"default.a": "1"},
	}, {
		name:  "an included file continues the current section, and leaves its own current",
		files: treeFS{"/main.cnf": "[s]\n.include /i.cnf\nafter = 1\n", "/i.cnf": "in = 1\n[t]\nlast = 1\n"},
		want:  map[string]string{"s.in": "1", "t.last": "1", "t.after": "1"},
	}, {
		name: "a directory's *.cnf and *.conf files, and a file one of them includes, in OpenSSL's order",
		files: treeFS{"/main.cnf": "[m]\n.include /d\nafter = 1\n",
			"/d/a.cnf": "[a]\n.include /x.cnf\nrest_of_a = 1\n", "/d/b.CONF": "[b]\nk = 1\n", "/d/README": "[r]\n", "/d/.cnf": "[r]\n",
			"/x.cnf": "[x]\nk = 1\n"},
		// get_next_file takes b.CONF when x.cnf ends: the rest of a.cnf is
		// read after it, in b's section, and so is the rest of main.cnf.
		// Which is why readdir order matters, and is checked.
		want:     map[string]string{"b.rest_of_a": "1", "b.after": "1", "b.k": "1", "x.k": "1"},
		absent:   []string{"r.k"},
		nonFatal: "directory order",
	}, {
		name:   "a directory included while one is read is skipped",
		files:  treeFS{"/main.cnf": ".include /d\n", "/d/a.cnf": "[a]\n.include /e\nk = 1\n", "/e/x.cnf": "[e]\nk = 1\n"},
		want:   map[string]string{"a.k": "1"},
		absent: []string{"e.k"},
	}, {
		name:  "section names: white space inside is kept, escapes processed",
		files: treeFS{"/main.cnf": "[ a  b ]\nk = 1\n[c\\]d]\nk = 2\n"},
		want:  map[string]string{"a  b.k": "1", "c]d.k": "2"},
	}, {
		name:  "a section header without ]",
		files: treeFS{"/main.cnf": "[a\n"},
		err:   "missing close square bracket",
	}, {
		name:  "a $ in a section header",
		files: treeFS{"/main.cnf": "[a$b]\n"},
		err:   "missing close square bracket",
	}, {
		name:  "section::name assigns into another section",
		files: treeFS{"/main.cnf": "[s]\nt::k = 1\nk = 2\n"},
		want:  map[string]string{"t.k": "1", "s.k": "2"},
	}, {
		name:  "errors name the file and line of the included file",
		files: treeFS{"/main.cnf": "a = 1\n.include /i.cnf\n", "/i.cnf": "\n\nnot an assignment\n"},
		err:   "/i.cnf:3: missing equal sign",
	}, {
		name:  "a value expands to 65535 bytes",
		files: treeFS{"/main.cnf": "a = " + strings.Repeat("x", 32767) + "\nb = $a$a\n"},
		want:  map[string]string{"default.b": strings.Repeat("x", 65534)},
	}, {
		name:  "but not one byte more than MAX_CONF_VALUE_LENGTH allows",
		files: treeFS{"/main.cnf": "a = " + strings.Repeat("x", 32768) + "\nb = $a$a\n"},
		err:   "variable expansion longer than 65536 bytes",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := parseTree(t, tc.files, tc.env)
			if tc.err != "" {
				if !c.dropped || len(c.Errors) == 0 || !strings.Contains(c.Errors[0], tc.err) {
					t.Fatalf("want the configuration dropped with an error mentioning %q; errors: %q", tc.err, c.Errors)
				}
				s := Summarize(c)
				if !s.Dropped || !reflect.DeepEqual(s.Active(), []string{"default"}) {
					t.Errorf("a dropped configuration leaves OpenSSL its default provider; summary: %+v", s)
				}
				return
			}
			if c.dropped {
				t.Fatalf("dropped: %q", c.Errors)
			}
			if (tc.nonFatal == "") != (len(c.Errors) == 0) || (tc.nonFatal != "" && !strings.Contains(c.Errors[0], tc.nonFatal)) {
				t.Errorf("errors = %q, want %q", c.Errors, tc.nonFatal)
			}
			for k, want := range tc.want {
				sect, name, _ := strings.Cut(k, ".")
				if got, ok := c.Sections[sect][name]; !ok || got != want {
					t.Errorf("[%s] %s = %q (set: %v), want %q", sect, name, got, ok, want)
				}
			}
			for _, k := range tc.absent {
				sect, name, _ := strings.Cut(k, ".")
				if v, ok := c.Sections[sect][name]; ok {
					t.Errorf("[%s] %s = %q, want it unset", sect, name, v)
				}
			}
		})
	}
}

// TestModules covers what CONF_modules_load (crypto/conf/conf_mod.c) and
// the provider and algorithm modules make of a configuration.
func TestModules(t *testing.T) {
	const head = "config_diagnostics = 1\nopenssl_conf = init\n"
	for _, tc := range []struct {
		name        string
		conf        string
		active      []string // want Summary.Active()
		fipsDefault bool
		err         string // a module error mentioning this
		diag        *bool
	}{{
		name:   "activate takes OpenSSL's booleans",
		conf:   head + "[init]\nproviders = p\n[p]\na = a\nb = b\nc = c\nd = d\n[a]\nactivate = YES\nidentity = base\n[b]\nactivate = on\nidentity = null\n[c]\nactivate = 0\nidentity = legacy\n[d]\nactivate = true\nidentity = fips\n",
		active: []string{"base", "null", "fips"},
	}, {
		name:   "and no others",
		conf:   head + "[init]\nproviders = p\n[p]\nbase = b\n[b]\nactivate = Yes\n",
		active: []string{"default"},
		err:    `activate = "Yes": not a boolean`,
	}, {
		name:   "a provider's name is its key after the first dot",
		conf:   head + "[init]\nproviders = p\n[p]\nx.default = d\n[d]\nx.activate = 1\n",
		active: []string{"default"},
	}, {
		name:   "module names match by prefix",
		conf:   head + "[init]\nprov = p\n[p]\nbase = b\n[b]\nactivate = 1\n",
		active: []string{"base"},
	}, {
		name:   "the first failing module stops the ones after it",
		conf:   "openssl_conf = init\n[init]\nalg_section = nope\nproviders = p\n[p]\nfips = f\n[f]\nactivate = 1\n",
		active: []string{"default"},
		err:    "section nope not found",
		diag:   new(bool),
	}, {
		name:   "an unknown module is an error",
		conf:   head + "[init]\nproviders = p\nfoo = bar\n[p]\nbase = b\n[b]\nactivate = 1\n",
		active: []string{"base"},
		err:    `no module is named "foo"`,
	}, {
		name:   "a missing provider section fails the module, after the providers before it",
		conf:   head + "[init]\nproviders = p\n[p]\nbase = b\nfips = fips_sect\n[b]\nactivate = 1\n",
		active: []string{"base"},
		err:    "section fips_sect not found",
	}, {
		name:   "openssl_conf naming no section",
		conf:   head,
		active: []string{"default"},
		err:    "names no section",
	}, {
		name:   "without activation OpenSSL falls back to the default provider",
		conf:   head + "[init]\nproviders = p\n[p]\nfips = f\n[f]\nactivate = 0\n",
		active: []string{"default"},
	}, {
		// OpenSSL activates it once, but merges the entries' settings,
		// which fipsgate does not model: it refuses.
		name:   "a provider configured twice is refused",
		conf:   head + "[init]\nproviders = p\n[p]\nbase = b\nb2 = b2\n[b]\nactivate = 1\n[b2]\nidentity = base\nactivate = 1\n",
		active: []string{"base"},
		err:    "provider base is configured again",
	}, {
		name:        "fips=yes",
		conf:        head + "[init]\nalg_section = a\nproviders = p\n[a]\ndefault_properties = \"fips = yes\"\n[p]\nfips = f\n[f]\nactivate = 1\n",
		active:      []string{"fips"},
		fipsDefault: true,
	}, {
		name:        "fips!=no counts as fips enabled, as EVP_default_properties_is_fips_enabled says",
		conf:        head + "[init]\nalg_section = a\n[a]\ndefault_properties = fips!=no\n",
		active:      []string{"default"},
		fipsDefault: true,
	}, {
		name:   "an optional fips=yes does not",
		conf:   head + "[init]\nalg_section = a\n[a]\ndefault_properties = ?fips=yes\n",
		active: []string{"default"},
	}, {
		name:        "fips_mode",
		conf:        head + "[init]\nalg_section = a\n[a]\ndefault_properties = provider=fips\nfips_mode = yes\n",
		active:      []string{"default"},
		fipsDefault: true,
	}, {
		name:   "an unparsable property query fails the module",
		conf:   head + "[init]\nalg_section = a\n[a]\ndefault_properties = fips=yes junk\n",
		active: []string{"default"},
		err:    "trailing characters",
	}, {
		name:   "two unknown property names are duplicates",
		conf:   head + "[init]\nalg_section = a\n[a]\ndefault_properties = foo=1,bar=2\n",
		active: []string{"default"},
		err:    "duplicated name",
	}, {
		name:   "engines are refused",
		conf:   head + "[init]\nengines = e\n[e]\n",
		active: []string{"default"},
		err:    "ENGINEs",
	}, {
		name:   "ssl_conf needs its sections",
		conf:   head + "[init]\nssl_conf = s\n[s]\nsystem_default = nope\n",
		active: []string{"default"},
		err:    "section nope not found",
	}, {
		name: "a provider parameter naming a section names a subsection; a cycle fails",
		conf: head + "[init]\nproviders = p\n[p]\nbase = b\n[b]\nactivate = 1\nsub = b\n",
		// Activation was attempted, so there is no fallback either.
		active: nil,
		err:    "recursive section reference",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := parseTree(t, treeFS{"/main.cnf": tc.conf}, nil)
			s := Summarize(c)
			if got := s.Active(); !reflect.DeepEqual(got, tc.active) {
				t.Errorf("active = %q, want %q (providers %+v)", got, tc.active, s.Providers)
			}
			if s.FIPSDefault != tc.fipsDefault {
				t.Errorf("FIPSDefault = %v (%q)", s.FIPSDefault, s.DefaultProperties)
			}
			diag := tc.diag == nil || *tc.diag
			if s.ConfigDiagnostics != diag {
				t.Errorf("ConfigDiagnostics = %v", s.ConfigDiagnostics)
			}
			switch {
			case tc.err == "" && len(c.Errors) > 0:
				t.Errorf("errors: %q", c.Errors)
			case tc.err != "" && (len(c.Errors) != 1 || !strings.Contains(c.Errors[0], tc.err) || s.ModuleError == ""):
				t.Errorf("want one module error mentioning %q; errors: %q", tc.err, c.Errors)
			}
		})
	}
}

func TestProviderParameters(t *testing.T) {
	c := parseTree(t, treeFS{"/main.cnf": "openssl_conf = init\n[init]\nproviders = p\n[p]\nfips = f\n[f]\nactivate = 1\nmodule-mac = AA\nsub = s\n[s]\nk = v\n"}, nil)
	s := Summarize(c)
	want := map[string]string{"activate": "1", "module-mac": "AA", "sub.k": "v"}
	if !reflect.DeepEqual(s.FIPSSection, want) {
		t.Errorf("FIPS parameters = %v, want %v", s.FIPSSection, want)
	}
}

func TestConfigDiagnosticsIsANumber(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "01": true, "1abc": true, "10": true, "0": false, "yes": false, "true": false, "": false, "99999999999999999999": false} {
		c := parseTree(t, treeFS{"/main.cnf": "config_diagnostics = " + v + "\n"}, nil)
		if got := Summarize(c).ConfigDiagnostics; got != want {
			t.Errorf("config_diagnostics = %q: %v, want %v", v, got, want)
		}
	}
}

func TestDirectoryOrderMatters(t *testing.T) {
	c := parseTree(t, treeFS{"/main.cnf": ".include /d\n", "/d/a.cnf": "[o]\nk = a\n", "/d/b.cnf": "[o]\nk = b\n"}, nil)
	if len(c.Errors) != 1 || !strings.Contains(c.Errors[0], "directory order") {
		t.Errorf("errors = %q", c.Errors)
	}
	c = parseTree(t, treeFS{"/main.cnf": ".include /d\n", "/d/a.cnf": "[a]\nk = a\n", "/d/b.cnf": "[b]\nk = b\n"}, nil)
	if len(c.Errors) != 0 {
		t.Errorf("independent files: errors = %q", c.Errors)
	}
}

// TestBounded: expansions that would make OpenSSL itself use gigabytes, and
// includes without end, are refused fast.
func TestBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("a = " + strings.Repeat("x", 32000) + "\nb = $a$a\n")
	for i := range 100000 {
		b.WriteString("c" + strings.Repeat("c", i%7) + " = $b\n")
		if b.Len() > maxFileSize-100 {
			break
		}
	}
	for name, files := range map[string]treeFS{
		"expansion":    {"/main.cnf": b.String()},
		"self-include": {"/main.cnf": "a = 1\n.include /main.cnf\n"},
		"include loop": {"/main.cnf": ".include /a.cnf\n", "/a.cnf": ".include /b.cnf\n", "/b.cnf": ".include /a.cnf\n"},
		// Every order of five files of 200 KB each.
		"directory orders": func() treeFS {
			f := treeFS{"/main.cnf": ".include /d\n"}
			for i := range 5 {
				f[fmt.Sprintf("/d/%d.cnf", i)] = fmt.Sprintf("[s%d]\n", i) + strings.Repeat("k = vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\n", 2000)
			}
			return f
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			c := parseTree(t, files, nil)
			if !(c.refused || c.orderDependent) || len(c.Errors) != 1 || !strings.Contains(c.Errors[0], "fipsgate") {
				t.Errorf("want a refusal; errors: %q", c.Errors)
			}
			if s := Summarize(c); c.refused && (len(s.Providers) > 0 || s.FIPSDefault) {
				t.Errorf("a refused configuration has no summary: %+v", s)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	for q, want := range map[string]bool{
		"fips=yes": true, " fips = yes ": true, "FIPS=YES": true, "fips": true, "fips='yes'": true,
		"fips!=no": true, "provider=fips,fips=yes": true, "x.y=1,fips=yes": true,
		"?fips=yes": false, "-fips": false, "fips=no": false, "fips=1": false, `fips="YES"`: false, "": false,
	} {
		pl, err := parseQuery(q)
		if err != nil {
			t.Errorf("%q: %v", q, err)
			continue
		}
		if got := fipsEnabled(pl); got != want {
			t.Errorf("%q: fips enabled = %v, want %v", q, got, want)
		}
	}
	for _, q := range []string{"fips=yes junk", "foo=1,bar=2", "fips=yes,fips=no", "1fips", "fips=yes,", "fips=08"} {
		if _, err := parseQuery(q); err == nil {
			t.Errorf("%q parsed", q)
		}
	}
}
