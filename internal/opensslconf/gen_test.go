package opensslconf

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
)

// gen writes random OpenSSL configurations that exercise every construct
// the loader and the modules read: mostly valid FIPS-shaped ones, with
// noise lines (quoting, escapes, expansions, pragmas, includes, NUL bytes,
// long lines, CR line ends, …) of which a few are fatal.
type gen struct {
	r   *rand.Rand
	b   bytes.Buffer
	env map[string]string
	// fixture paths the configuration may include; dir is their directory
	// (absolute includes use it, relative ones rely on the working
	// directory being it).
	dir string
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, 0x5eed)), env: map[string]string{}}
}

func (g *gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }
func (g *gen) chance(p float64) bool   { return g.r.Float64() < p }

func (g *gen) line(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	switch {
	case g.chance(0.05):
		g.b.WriteString(s + "\r\n")
	case g.chance(0.03):
		// Split with a continuation.
		if i := strings.IndexByte(s, '='); i > 0 {
			s = s[:i+1] + "\\\n  " + s[i+1:]
		}
		g.b.WriteString(s + "\n")
	case g.chance(0.03):
		g.b.WriteString("  " + s + "\t# trailing comment\n")
	default:
		g.b.WriteString(s + "\n")
	}
	if g.chance(0.15) {
		g.noise()
	}
}

// config returns a configuration and the environment it is loaded with.
// dir is where the oracle's fixtures live ("" when there are none).
func (g *gen) config(dir string) ([]byte, map[string]string) {
	g.dir = dir
	if g.chance(0.03) {
		g.b.WriteString("\xEF\xBB\xBF")
	}
	if g.chance(0.8) {
		g.line("config_diagnostics = %s", g.pick("1", "1", "0", "1abc", "yes", "01", "99999999999999999999", "-1", "2"))
	}
	g.line("FOO_DEF = default-foo")
	init := g.pick("init", "init", "init", "missing_init")
	if g.chance(0.95) {
		g.line("openssl_conf = %s", init)
	}
	fipsWanted := g.chance(0.5)
	if fipsWanted && dir != "" {
		g.line(".include %s", g.pick("fipsmodule.cnf", dir+"/fipsmodule.cnf", "./fipsmodule.cnf", "fipsmodule.cnf "))
	}
	if g.chance(0.2) {
		g.noise()
	}
	g.line("[%s]", g.pick("init", "init", " init ", "in\\it"))
	mods := []string{
		g.pick("providers", "providers", "providers", "prov", "p", "x.providers", "providers.1"),
		g.pick("alg_section", "alg_section", "alg", "a.b.c", "alg_section.x"),
	}
	if g.chance(0.3) {
		mods = append(mods, g.pick("ssl_conf", "ssl", "ss"))
	}
	if g.chance(0.03) {
		mods = append(mods, g.pick("nosuchmodule", "p.q.alg_section"))
	}
	g.r.Shuffle(len(mods), func(i, j int) { mods[i], mods[j] = mods[j], mods[i] })
	for _, m := range mods {
		switch {
		case strings.HasPrefix(m, "p") && m != "p.q.alg_section", strings.Contains(m, "providers"):
			g.line("%s = %s", m, g.pick("prov", "prov", "prov", "noprov"))
		case strings.HasPrefix(m, "ss"):
			g.line("%s = ssls", m)
		default:
			g.line("%s = %s", m, g.pick("algs", "algs", "algs", "noalgs"))
		}
	}
	g.providers(fipsWanted)
	g.line("[algs]")
	if g.chance(0.9) {
		g.line("default_properties = %s", g.pick("fips=yes", "fips=yes", "fips=yes", `"fips=yes"`, "fips = yes", "FIPS=YES",
			"?fips=yes", "-fips", "fips!=no", "fips!=yes", "fips=no", "fips=yes,provider=fips", "fips=yes,fips=no",
			"foo=1,bar=2", "provider=default", "x.y=1,fips=yes", "fips", "fips=1", "fips='yes'", `fips=\"YES\"`, "",
			"fips=yes,", "fips=yes junk", "fips=0x10", "fips=017", "fips=08", "fips=-3", "fips=+", "fips=_", "1fips"))
	}
	if g.chance(0.15) {
		g.line("fips_mode = %s", g.pick("yes", "no", "y", "TRUE", "Yes", "1"))
	}
	if g.chance(0.03) {
		g.line("unknown_option = 1")
	}
	g.line("[ssls]")
	if g.chance(0.9) {
		g.line("system_default = %s", g.pick("sysdef", "sysdef", "nosysdef", "emptysect"))
	}
	g.line("[sysdef]")
	g.line("CipherString = DEFAULT")
	g.line("[emptysect]")
	for g.chance(0.3) {
		g.noise()
	}
	return g.b.Bytes(), g.env
}

func (g *gen) providers(fips bool) {
	names := []string{g.pick("base", "base", "default", "null", "x.base")}
	if fips {
		names = append(names, "fips")
	}
	for g.chance(0.4) && len(names) < 5 {
		names = append(names, g.pick("default", "base", "null", "legacy", "bogus", "a.b.default", ""))
	}
	legacy := false
	g.line("[prov]")
	var sects []string
	for i, n := range names {
		if n == "legacy" {
			if legacy {
				continue
			}
			legacy = true
		}
		sect := fmt.Sprintf("p%d_sect", i)
		if n == "fips" {
			sect = "fips_sect"
		}
		if g.chance(0.03) {
			sect = "nosuchsect"
		}
		g.line("%s = %s", n, sect)
		sects = append(sects, sect)
	}
	for i, sect := range sects {
		if sect == "nosuchsect" {
			continue
		}
		g.line("[%s]", sect)
		if g.chance(0.9) {
			g.line("%s = %s", g.pick("activate", "activate", "activate", "x.activate", "Activate"),
				g.pick("1", "1", "1", "yes", "YES", "Yes", "true", "TRUE", "on", "ON", "0", "no", "off", "", "2", "1 # c", "\"1\""))
		}
		if g.chance(0.1) {
			g.line("soft_load = %s", g.pick("1", "yes", "0", "maybe"))
		}
		if g.chance(0.05) && names[i] != "fips" {
			g.line("identity = %s", g.pick("default", "base", "fips", "bogus"))
		}
		if g.chance(0.05) && names[i] != "fips" && names[i] != "legacy" {
			g.line("module = /nonexistent/mod.so")
		}
		if g.chance(0.05) {
			// A parameter naming a section is a subsection.
			g.line("param = %s", g.pick("sysdef", "emptysect", sect))
		}
	}
}

// noise writes one line of the constructs around the FIPS ones.
func (g *gen) noise() {
	d := g.dir
	switch g.r.IntN(40) {
	case 0:
		g.b.WriteString("# a comment with \"quotes\" and 'more'\n")
	case 1:
		g.b.WriteString("\n   \n\t\n")
	case 2:
		g.b.WriteString("quoted = \"a # not a comment\" 'b\\'c' `d` \\# e\\n\\t\\r\\b\\x\n")
	case 3:
		g.b.WriteString("expanded = $FOO_DEF ${FOO_DEF} $(FOO_DEF) $default::FOO_DEF ${default::FOO_DEF} $ENV::FOO\n")
	case 4:
		g.b.WriteString("envvar = $ENV::" + g.pick("FOO", "NOPE", "EMPTY", "FOO_DEF") + "\n")
	case 5:
		g.b.WriteString("unclosed = ${FOO_DEF\n")
	case 6:
		g.b.WriteString("undefined = $nosuchvar" + g.pick("", "x") + "\n")
	case 7:
		g.b.WriteString(".pragma " + g.pick("dollarid:on", "dollarid:off", "dollarid : true", "dollarid:maybe", "abspath:true", "abspath:false", "unknown:x", "nocolon", "dollarid:", ":on", "includedir:"+d+"/inc", "includedir:inc") + "\n")
	case 8:
		g.b.WriteString(g.pick(".pragma=dollarid:on", ".pragma = abspath:off", ".pragmax = dollarid:on", ".pragma") + "\n")
	case 9:
		g.b.WriteString("dollar$name = $dollar$name ${FOO_DEF}\n")
	case 10:
		g.b.WriteString(".include " + g.pick("inc/a.cnf", "inc/nosect.cnf", "inc/sect.cnf", "inc/nul.cnf", "inc/noeol.cnf", d+"/inc/a.cnf", "dir", "dir/", d+"/dir", "emptydir", "missing.cnf", "/nonexistent/x.cnf", "sdir", "inc/dirincl.cnf", "a.cnf", "pdir") + "\n")
	case 11:
		g.b.WriteString(g.pick(".include=inc/a.cnf", ".include = \"inc/a.cnf\"", ".include inc/${FOO_DEF}.cnf", ".include", ".include =", ".includex inc/a.cnf", "x::.include inc/a.cnf") + "\n")
	case 12:
		g.b.WriteString("nul = before\x00after\nfollowing = line\n")
	case 13:
		g.b.WriteString("\x00 = line starting with NUL ends the file\n")
	case 14:
		g.b.WriteString("long = " + strings.Repeat("x", 490+g.r.IntN(40)) + g.pick("", "\x00", "\\", " = tail") + "\nafter_long = 1\n")
	case 15:
		g.b.WriteString("high = caf\xc3\xa9 \xff\n")
	case 16:
		g.b.WriteString(g.pick("[ spaced section ]", "[a b]", "[sect\\]ion]", "[$x]", "[a$b]", "[\"q\"]", "[unclosed", "[]", "[ ]", "[x]junk", "[caf\xc3\xa9]") + "\n")
	case 17:
		g.b.WriteString(g.pick("no equals here", "caf\xc3\xa9 = 1", "a b = c", "key", "=empty name", "a::b = cross section", "::c = empty section", "a\\ b = escaped space", "x:y = 1") + "\n")
	case 18:
		g.b.WriteString("empty_ref = $ \n")
	case 19:
		g.b.WriteString("= empty name\nuses_empty = a${}b\n")
	case 20:
		// Expansion towards MAX_CONF_VALUE_LENGTH.
		n := 256 + g.r.IntN(2)
		g.b.WriteString("e0 = " + strings.Repeat("z", n) + "\n")
		for i := 1; i <= 8; i++ {
			fmt.Fprintf(&g.b, "e%d = $e%d$e%d\n", i, i-1, i-1)
		}
	case 21:
		g.b.WriteString("cr = value\r\r\n")
	case 22:
		g.b.WriteString("tail_backslash = a\\\\\nnext = b\n")
	case 23:
		g.b.WriteString("cont = a\\\n\\\nb\n")
	case 24:
		g.b.WriteString("bs_in_quote = \"a\\\"b\" 'x\\\n")
	case 25:
		g.b.WriteString("vt = a\vb\fc\n")
	case 26:
		g.b.WriteString("\xEF\xBB\xBFbom_mid = 1\n")
	case 27:
		g.b.WriteString("dup = 1\ndup = 2\n")
	case 28:
		g.env["OPENSSL_CONF_INCLUDE"] = g.pick(d, d+"/", "", "inc", d+"/nonexistent")
		g.b.WriteString(".include " + g.pick("inc/a.cnf", "a.cnf", d+"/inc/a.cnf") + "\n")
	case 29:
		g.b.WriteString("sect_ref = $init::providers $prov::nosuch\n")
	case 30:
		g.b.WriteString("odd = a$\n")
	case 31:
		g.b.WriteString("paren = $(FOO_DEF} ${FOO_DEF)\n")
	case 32:
		g.b.WriteString(".include odir\n")
	case 33:
		g.b.WriteString("eq_in_value = a = b == c\n")
	case 34:
		g.b.WriteString("#\x00 comment with NUL\n")
	case 35:
		g.b.WriteString("semi;colon = 1\n")
	case 36:
		g.b.WriteString(".include inc/bad.cnf\n")
	case 37:
		g.b.WriteString("longname" + strings.Repeat("n", 600) + " = v\n")
	case 38:
		g.b.WriteString("quoted_cont = \"a\\\nb\"\n")
	default:
		g.b.WriteString("plain_" + fmt.Sprint(g.r.IntN(100)) + " = v\n")
	}
}
