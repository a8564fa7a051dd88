// Package opensslconf reads OpenSSL configuration files byte for byte the
// way OpenSSL 3.5's NCONF loader (crypto/conf/conf_def.c) does — lines cut
// at a NUL byte and read in 510-byte pieces, continuation lines, quoting,
// escapes, variable expansion with its 64 KiB limit, `.include` of files and
// directories in OpenSSL's own order, `.pragma` — and then runs the
// configuration modules the way CONF_modules_load does, to summarise what
// OpenSSL actually uses for FIPS: the providers it activates (or the default
// provider it falls back to), the default properties, config_diagnostics,
// and the FIPS provider's parameters.
//
// Where OpenSSL would refuse the configuration (and, in an application that
// loads it the default way, silently run without it) Config.Errors says so,
// with the file and line.
//
// Files are read through an FS, so that the same code reads a configuration
// from an image root on disk (confined to it) or through another channel.
package opensslconf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"syscall"
)

// FS opens files of the configuration's filesystem. Paths are absolute,
// slash-separated, and interpreted inside the filesystem (an image root).
type FS interface {
	ReadFile(name string) ([]byte, error)
	// ReadDir lists the names of a directory's entries; an error wrapping
	// fs.ErrInvalid (or any error) for a regular file.
	ReadDir(name string) ([]string, error)
	IsDir(name string) bool
}

// limitReader is implemented by imagefs.Root: a read that refuses files
// over limit bytes (and non-regular files) instead of reading them whole.
type limitReader interface {
	ReadFileLimit(name string, limit int64) ([]byte, error)
}

// Limits that keep a hostile configuration from exhausting the reader.
// maxValueLength is OpenSSL's own MAX_CONF_VALUE_LENGTH; the others are
// fipsgate's: OpenSSL has none (a file that includes itself recurses until
// the process runs out of file descriptors), so a configuration beyond them
// is refused rather than judged.
const (
	maxIncludeDepth = 16
	maxFiles        = 256
	maxFileSize     = 1 << 20
	maxTotalRead    = 8 << 20
	maxValueLength  = 65536
	maxTotalValues  = 16 << 20
	// confBufSize is CONFBUFSIZE: BIO_gets reads at most 510 bytes a call.
	confBufSize = 512
)

// Config is a parsed configuration: sections of name/value pairs, the files
// read (in order), and the problems that make OpenSSL refuse it.
type Config struct {
	// Sections maps a section name to its values. The default section
	// (values before any [section]) is named "default".
	Sections map[string]map[string]string
	// Order lists each section's names in OpenSSL's order (the order the
	// modules see them): a name assigned again moves to the end.
	Order map[string][]string
	// Files are the files read, the main one first, includes in the order
	// OpenSSL reads them.
	Files []string
	// Origin maps section name to the file that (last) opened it.
	Origin map[string]string
	// Errors are problems that make OpenSSL refuse the configuration: a
	// syntax error drops the whole configuration, whatever
	// config_diagnostics says (OpenSSL then runs without it); a module that
	// fails stops the modules after it, and with config_diagnostics = 1
	// fails the application's OpenSSL initialisation.
	Errors []string
	// Warnings are what OpenSSL silently skips (a missing include, say).
	Warnings []string
	// EnvNames are the environment variables whose values (set or not) the
	// loaded configuration depends on: $ENV::NAME expansions, and
	// OPENSSL_CONF_INCLUDE for a relative include. A process started with
	// other values may read another configuration.
	EnvNames []string

	// dropped is set when OpenSSL's loader (NCONF_load) fails: the
	// configuration is not used at all. errLine is OpenSSL's own line
	// count at the error, across files, as its error queue reports it.
	dropped bool
	errLine int
	// refused marks a drop for fipsgate's own limits, not OpenSSL's.
	refused bool
	// orderDependent: what OpenSSL reads depends on readdir order.
	orderDependent bool
	summary        Summary
}

// Refused tells whether fipsgate could not read the configuration as
// OpenSSL would — a file that is not a regular one, or over one of
// fipsgate's own limits — rather than judged what OpenSSL reads.
func (c *Config) Refused() bool { return c.refused }

// DefaultSection names the values that precede any section header.
const DefaultSection = "default"

// Parse reads the configuration file at name and everything it includes,
// then runs the configuration modules as an application that loads it the
// default way (OPENSSL_init_crypto) would. env holds the environment of the
// process that would load it ($ENV::NAME, OPENSSL_CONF_INCLUDE); workDir is
// that process's working directory, against which OpenSSL resolves relative
// include paths. A main file that cannot be read is returned as an error
// (wrapping fs.ErrNotExist when it does not exist); problems inside the
// configuration are collected in Config.Errors.
func Parse(fsys FS, name string, env map[string]string, workDir string) (*Config, error) {
	dt, err := readFile(fsys, name)
	if err != nil {
		return nil, err
	}
	if workDir == "" {
		workDir = "/"
	}
	c := load(fsys, name, dt, env, workDir, nil)
	for n := range c.envUsed {
		c.EnvNames = append(c.EnvNames, n)
	}
	sort.Strings(c.EnvNames)
	if len(c.dirs) > 0 && !c.refused {
		checkDirOrder(c, fsys, name, dt, env, workDir)
	}
	c.Config.summary, c.Config.Errors = runModules(&c.Config)
	return &c.Config, nil
}

func readFile(fsys FS, name string) ([]byte, error) {
	if lr, ok := fsys.(limitReader); ok {
		return lr.ReadFileLimit(name, maxFileSize)
	}
	dt, err := fsys.ReadFile(name)
	if err == nil && len(dt) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxFileSize)
	}
	return dt, err
}

// source is one open file: OpenSSL's BIO.
type source struct {
	name string
	dt   []byte
	off  int
}

// gets is BIO_gets(in, p, 511) on a file BIO, then strlen: at most 510
// bytes, up to and including a newline, cut at the first NUL byte (the
// rest of that piece is lost).
func (s *source) gets() []byte {
	rest := s.dt[s.off:]
	n := min(len(rest), confBufSize-2)
	if j := bytes.IndexByte(rest[:n], '\n'); j >= 0 {
		n = j + 1
	}
	chunk := rest[:n]
	s.off += n
	if j := bytes.IndexByte(chunk, 0); j >= 0 {
		chunk = chunk[:j]
	}
	return chunk
}

// line is the 1-based line of the file that the last piece read ended on.
func (s *source) line() int {
	end := s.off
	if end > 0 && s.dt[end-1] == '\n' {
		end--
	}
	return bytes.Count(s.dt[:end], []byte{'\n'}) + 1
}

// dirRead is the directory an .include is reading: OpenSSL keeps one, for
// the whole load, and takes its next file whenever any file ends.
type dirRead struct {
	path  string
	names []string
}

type loader struct {
	Config
	fsys    FS
	env     map[string]string
	workDir string
	// order, when set, gives the order in which a directory's files are
	// read (OpenSSL reads them in readdir order, which is not knowable).
	order func(dir string, names []string) []string
	// dirs lists the directories read with more than one file.
	dirs map[string]int

	envUsed map[string]bool

	dollarID   bool
	absPath    bool
	includeDir *string
	in         *source
	stack      []*source
	dir        *dirRead
	section    string
	eline      int
	read       int
	values     int
}

type loadError struct {
	file    string
	line    int
	msg     string
	refused bool
}

func (e *loadError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

func load(fsys FS, name string, dt []byte, env map[string]string, workDir string, order func(string, []string) []string) *loader {
	l := &loader{
		Config: Config{
			Sections: map[string]map[string]string{DefaultSection: {}},
			Order:    map[string][]string{DefaultSection: nil},
			Origin:   map[string]string{DefaultSection: name},
		},
		fsys: fsys, env: env, workDir: workDir, order: order, envUsed: map[string]bool{},
		section: DefaultSection,
		in:      &source{name: name, dt: dt},
	}
	l.Files = append(l.Files, name)
	l.read = len(dt)
	if err := l.run(); err != nil {
		var le *loadError
		l.refused = errors.As(err, &le) && le.refused
		l.dropped = true
		l.errLine = l.eline
		l.Errors = append(l.Errors, fmt.Sprintf("%v: %s", err, dropWhy(err)))
	}
	return l
}

func (l *loader) errorf(format string, args ...any) error {
	return &loadError{file: l.in.name, line: l.in.line(), msg: fmt.Sprintf(format, args...)}
}

// refusef reports a limit of fipsgate's, which OpenSSL does not have.
func (l *loader) refusef(format string, args ...any) error {
	return &loadError{file: l.in.name, line: l.in.line(), msg: fmt.Sprintf(format, args...), refused: true}
}

// run is def_load_bio.
func (l *loader) run() error {
	var buf []byte
	again, first := false, true
	for {
		p := l.in.gets()
		if first {
			// Other byte order marks imply a multibyte encoding OpenSSL does
			// not read, and are left to fail.
			if len(p) >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF {
				p = p[3:]
			}
			first = false
		}
		i, ii := len(p), len(p)
		if i == 0 && !again {
			// End of this file (or a line starting with NUL, which OpenSSL
			// cannot tell from it).
			if l.dir != nil {
				next, err := l.nextDirFile()
				if err != nil {
					return err
				}
				if next != nil {
					l.in = next
					continue
				}
			}
			if len(l.stack) == 0 {
				return nil
			}
			l.in = l.stack[len(l.stack)-1]
			l.stack = l.stack[:len(l.stack)-1]
			continue
		}
		again = false
		for i > 0 && (p[i-1] == '\r' || p[i-1] == '\n') {
			i--
		}
		if ii != 0 && i == ii {
			// No line end: a long line, or a piece cut at a NUL byte,
			// which OpenSSL joins to what it reads next.
			again = true
		} else {
			l.eline++
		}
		buf = append(buf, p[:i]...)
		if n := len(buf); !again && n >= 1 && buf[n-1] == '\\' && (n <= 1 || buf[n-2] != '\\') {
			buf = buf[:n-1]
			again = true
		}
		if again {
			continue
		}
		if err := l.logicalLine(buf); err != nil {
			return err
		}
		buf = buf[:0]
	}
}

// Character classes of OpenSSL's CONF_type_default table. Bytes above 127
// belong to none.
const (
	cNumber  = 1
	cUpper   = 2
	cLower   = 4
	cEOF     = 8
	cWS      = 16
	cEsc     = 32
	cQuote   = 64
	cComment = 128
	cUnder   = 256
	cPunct   = 512
	cDollar  = 4096

	cAlnum      = cUpper | cLower | cNumber | cUnder
	cAlnumPunct = cAlnum | cPunct
)

var ctype = func() (t [128]uint16) {
	t[0] = cEOF
	for _, c := range "\t\n\r " {
		t[c] = cWS
	}
	for _, c := range "!%&*+,-./;?@^|~" {
		t[c] = cPunct
	}
	for _, c := range "\"'`" {
		t[c] = cQuote
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = cNumber
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = cUpper
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cLower
	}
	t['_'], t['\\'], t['#'], t['$'] = cUnder, cEsc, cComment, cDollar
	return t
}()

func is(c byte, class uint16) bool { return c < 128 && ctype[c]&class != 0 }

// line is a logical line as a C string: the two NULs at its end stand for
// the terminator OpenSSL's look-aheads may reach.
type line []byte

func (l *loader) eatWS(s line, p int) int {
	for is(s[p], cWS) && !is(s[p], cEOF) {
		p++
	}
	return p
}

func (l *loader) eatAlnum(s line, p int) int {
	for {
		if is(s[p], cEsc) {
			p = scanEsc(s, p)
			continue
		}
		if !(is(s[p], cAlnumPunct) || (l.dollarID && is(s[p], cDollar))) {
			return p
		}
		p++
	}
}

func scanEsc(s line, p int) int {
	if is(s[p+1], cEOF) {
		return p + 1
	}
	return p + 2
}

func scanQuote(s line, p int) int {
	q := s[p]
	p++
	for !is(s[p], cEOF) && s[p] != q {
		if is(s[p], cEsc) {
			p++
			if is(s[p], cEOF) {
				return p
			}
		}
		p++
	}
	if s[p] == q {
		p++
	}
	return p
}

// clearComments cuts s at the first '#' outside quotes and escapes.
func clearComments(s line) {
	for p := 0; ; {
		switch c := s[p]; {
		case is(c, cComment):
			s[p] = 0
			return
		case is(c, cQuote):
			p = scanQuote(s, p)
		case is(c, cEsc):
			p = scanEsc(s, p)
		case is(c, cEOF):
			return
		default:
			p++
		}
	}
}

// trimWS cuts trailing white space off the C string at p.
func trimWS(s line, p int) {
	e := p + cstrlen(s[p:])
	for e > p && is(s[e-1], cWS) {
		e--
	}
	s[e] = 0
}

func cstrlen(s []byte) int { return bytes.IndexByte(s, 0) }

func cstr(s line, p int) string { return string(s[p : p+cstrlen(s[p:])]) }

func hasPrefix(s line, p int, pre string) bool { return bytes.HasPrefix(s[p:], []byte(pre)) }

func (l *loader) logicalLine(b []byte) error {
	s := make(line, len(b)+2)
	copy(s, b)
	clearComments(s)
	p := l.eatWS(s, 0)
	if is(s[p], cEOF) {
		return nil
	}
	if s[p] == '[' {
		start := l.eatWS(s, p+1)
		ss := start
		var end int
		for {
			end = l.eatAlnum(s, ss)
			q := l.eatWS(s, end)
			if s[q] == ']' {
				break
			}
			if s[q] == 0 || ss == q {
				return l.errorf("missing close square bracket")
			}
			ss = q
		}
		s[end] = 0
		name, err := l.strCopy("", s, start)
		if err != nil {
			return err
		}
		l.section = name
		l.newSection(name)
		l.Origin[name] = l.in.name
		return nil
	}
	pname := p
	end := l.eatAlnum(s, p)
	psection := l.section
	if s[end] == ':' && s[end+1] == ':' {
		s[end] = 0
		psection = cstr(s, pname)
		pname = end + 2
		end = l.eatAlnum(s, pname)
	}
	p = l.eatWS(s, end)
	switch {
	case hasPrefix(s, pname, ".pragma") && (p != pname+7 || s[p] == '='):
		return l.pragma(s, p)
	case hasPrefix(s, pname, ".include") && (p != pname+8 || s[p] == '='):
		return l.include(s, p, psection)
	case s[p] != '=':
		return l.errorf("missing equal sign: HERE-->%s", cstr(s, p))
	}
	s[end] = 0
	name := cstr(s, pname)
	start := l.eatWS(s, p+1)
	trimWS(s, start)
	v, err := l.strCopy(psection, s, start)
	if err != nil {
		return err
	}
	l.values += len(name) + len(v)
	if l.values > maxTotalValues {
		return l.refusef("the configuration's values add up to more than %d bytes", maxTotalValues)
	}
	l.newSection(psection)
	l.Sections[psection][name] = v
	order := l.Order[psection]
	if i := indexOf(order, name); i >= 0 {
		// _CONF_add_string: the new value goes to the end of the
		// section, the old one is deleted.
		order = append(order[:i], order[i+1:]...)
	}
	l.Order[psection] = append(order, name)
	return nil
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func (l *loader) newSection(name string) {
	if _, ok := l.Sections[name]; !ok {
		l.Sections[name] = map[string]string{}
		l.Order[name] = nil
	}
}

func (l *loader) pragma(s line, p int) error {
	if s[p] == '=' {
		p = l.eatWS(s, p+1)
	}
	trimWS(s, p)
	colon := bytes.IndexByte(s[p:p+cstrlen(s[p:])], ':')
	if colon <= 0 || s[p+colon+1] == 0 {
		return l.errorf("invalid pragma %q", cstr(s, p))
	}
	s[p+colon] = 0
	trimWS(s, p)
	key := cstr(s, p)
	val := cstr(s, l.eatWS(s, p+colon+1))
	switch key {
	case "dollarid":
		return l.parseBool(val, &l.dollarID)
	case "abspath":
		return l.parseBool(val, &l.absPath)
	case "includedir":
		l.includeDir = &val
	}
	// OpenSSL ignores any other pragma.
	return nil
}

func (l *loader) parseBool(v string, flag *bool) error {
	switch strings.ToLower(v) {
	case "on", "true":
		*flag = true
	case "off", "false":
		*flag = false
	default:
		return l.errorf("invalid pragma value %q", v)
	}
	return nil
}

func (l *loader) include(s line, p int, psection string) error {
	includeDir := l.includeDir
	if v, ok := l.env["OPENSSL_CONF_INCLUDE"]; ok {
		includeDir = &v
	}
	if s[p] == '=' {
		p = l.eatWS(s, p+1)
	}
	trimWS(s, p)
	target, err := l.strCopy(psection, s, p)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(target, "/") {
		l.envUsed["OPENSSL_CONF_INCLUDE"] = true
	}
	if includeDir != nil && !strings.HasPrefix(target, "/") {
		if !strings.HasSuffix(*includeDir, "/") {
			target = *includeDir + "/" + target
		} else {
			target = *includeDir + target
		}
	}
	if l.absPath && !strings.HasPrefix(target, "/") {
		return l.errorf("relative include %q under .pragma abspath", target)
	}
	resolved := target
	if resolved != "" && !strings.HasPrefix(resolved, "/") {
		resolved = path.Join(l.workDir, resolved)
	}
	if len(l.stack) >= maxIncludeDepth {
		return l.refusef("includes nested deeper than %d", maxIncludeDepth)
	}
	var next *source
	switch {
	case resolved == "":
		// stat("") fails: OpenSSL skips the include.
		l.Warnings = append(l.Warnings, fmt.Sprintf("%s:%d: empty include path: OpenSSL skips it", l.in.name, l.in.line()))
		return nil
	case l.fsys.IsDir(resolved):
		if l.dir != nil {
			l.Warnings = append(l.Warnings, fmt.Sprintf("%s:%d: directory %q included while directory %s is being read: OpenSSL skips it", l.in.name, l.in.line(), target, l.dir.path))
			return nil
		}
		names, err := l.fsys.ReadDir(resolved)
		if err != nil {
			return l.refusef("reading included directory %s: %v", resolved, err)
		}
		var conf []string
		for _, n := range names {
			ln := strings.ToLower(n)
			if (len(n) > 5 && strings.HasSuffix(ln, ".conf")) || (len(n) > 4 && strings.HasSuffix(ln, ".cnf")) {
				conf = append(conf, n)
			}
		}
		sort.Strings(conf)
		if len(conf) > 1 {
			if l.dirs == nil {
				l.dirs = map[string]int{}
			}
			l.dirs[resolved] = len(conf)
			if l.order != nil {
				conf = l.order(resolved, conf)
			}
		}
		l.dir = &dirRead{path: resolved, names: conf}
		if next, err = l.nextDirFile(); err != nil || next == nil {
			return err
		}
	default:
		var missing bool
		if next, missing, err = l.open(resolved); err != nil || missing {
			return err
		}
	}
	l.stack = append(l.stack, l.in)
	l.in = next
	return nil
}

// open is BIO_new_file: a file that cannot be opened is skipped, a
// directory reads as empty. What fipsgate cannot read the way OpenSSL
// would (a FIFO, a device, a file over the size limit) fails closed.
func (l *loader) open(name string) (src *source, missing bool, err error) {
	if len(l.Files) >= maxFiles {
		return nil, false, l.refusef("more than %d configuration files opened", maxFiles)
	}
	var dt []byte
	if !l.fsys.IsDir(name) {
		dt, err = readFile(l.fsys, name)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			l.Warnings = append(l.Warnings, fmt.Sprintf("%s:%d: included file %s does not exist: OpenSSL skips it", l.in.name, l.in.line(), name))
			return nil, true, nil
		case err != nil:
			return nil, false, l.refusef("included file %s cannot be read as OpenSSL would read it: %v", name, err)
		}
	}
	l.read += len(dt)
	if l.read > maxTotalRead {
		return nil, false, l.refusef("the configuration's files add up to more than %d bytes", maxTotalRead)
	}
	l.Files = append(l.Files, name)
	return &source{name: name, dt: dt}, false, nil
}

// nextDirFile is get_next_file: the next *.cnf or *.conf file of the
// directory being read that opens, or nil when there is none.
func (l *loader) nextDirFile() (*source, error) {
	d := l.dir
	for len(d.names) > 0 {
		n := d.names[0]
		d.names = d.names[1:]
		src, missing, err := l.open(d.path + "/" + n)
		if err != nil {
			return nil, err
		}
		if !missing {
			return src, nil
		}
	}
	l.dir = nil
	return nil, nil
}

// strCopy is str_copy: it removes quotes and escapes and expands variables
// of the C string at from, looking names up in section.
func (l *loader) strCopy(section string, s line, from int) (string, error) {
	out := make([]byte, 0, cstrlen(s[from:]))
	// length is OpenSSL's buf->length: the input's length plus one, grown
	// by each expansion; the limit applies to it.
	length := cstrlen(s[from:]) + 1
	for {
		c := s[from]
		switch {
		case is(c, cQuote):
			q := c
			from++
			for !is(s[from], cEOF) && s[from] != q {
				if is(s[from], cEsc) {
					from++
					if is(s[from], cEOF) {
						break
					}
				}
				out = append(out, s[from])
				from++
			}
			if s[from] == q {
				from++
			}
		case is(c, cEsc):
			v := s[from+1]
			from += 2
			if is(v, cEOF) {
				return string(out), nil
			}
			switch v {
			case 'r':
				v = '\r'
			case 'n':
				v = '\n'
			case 'b':
				v = '\b'
			case 't':
				v = '\t'
			}
			out = append(out, v)
		case is(c, cEOF):
			return string(out), nil
		case c == '$' && (!l.dollarID || s[from+1] == '{' || s[from+1] == '('):
			e := from + 1
			var q byte
			switch s[e] {
			case '{':
				q = '}'
			case '(':
				q = ')'
			}
			if q != 0 {
				e++
			}
			sect, np := section, e
			for is(s[e], cAlnum) || (l.dollarID && is(s[e], cDollar)) {
				e++
			}
			if s[e] == ':' && s[e+1] == ':' {
				sect = string(s[np:e])
				e += 2
				np = e
				for is(s[e], cAlnum) || (l.dollarID && is(s[e], cDollar)) {
					e++
				}
			}
			name := string(s[np:e])
			if q != 0 {
				if s[e] != q {
					return "", l.errorf("no close brace in variable reference %q", cstr(s, from))
				}
				e++
			}
			v, ok := l.getString(sect, name)
			if !ok {
				ref := name
				if sect != section {
					ref = sect + "::" + name
				}
				return "", l.errorf("variable %q has no value", ref)
			}
			newsize := len(v) + length - (e - from)
			if newsize > maxValueLength {
				return "", l.errorf("variable expansion longer than %d bytes", maxValueLength)
			}
			length = newsize
			out = append(out, v...)
			from = e
		default:
			out = append(out, c)
			from++
		}
	}
}

// getString is _CONF_get_string: the section's value, then for section
// ENV the environment, then the default section's value.
func (l *loader) getString(section, name string) (string, bool) {
	if v, ok := l.Sections[section][name]; ok {
		return v, true
	}
	if section == "ENV" {
		l.envUsed[name] = true
		if v, ok := l.env[name]; ok {
			return v, true
		}
	}
	v, ok := l.Sections[DefaultSection][name]
	return v, ok
}

// checkDirOrder makes at most maxOrderRuns loads, and reads and expands at
// most maxOrderWork bytes across them.
const (
	maxOrderRuns = 256
	maxOrderWork = 64 << 20
)

// checkDirOrder makes sure the configuration means the same whatever order
// OpenSSL reads an included directory's files in: it reads them in
// readdir(3) order, which depends on the filesystem at run time.
func checkDirOrder(c *loader, fsys FS, name string, dt []byte, env map[string]string, workDir string) {
	dirs := make([]string, 0, len(c.dirs))
	for d := range c.dirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	runs, limit := 0, min(maxOrderRuns, maxOrderWork/(c.read+c.values+1))
	for _, d := range dirs {
		n := c.dirs[d]
		var perms [][]int
		if n <= 5 {
			perms = permutations(n)
		} else {
			// All orders are too many: every rotation, and each reversed.
			for r := range n {
				fwd, rev := make([]int, n), make([]int, n)
				for i := range n {
					fwd[i] = (i + r) % n
					rev[n-1-i] = fwd[i]
				}
				perms = append(perms, fwd, rev)
			}
			c.Warnings = append(c.Warnings, fmt.Sprintf("included directory %s has %d configuration files: fipsgate checked %d of the orders OpenSSL may read them in", d, n, len(perms)))
		}
		for _, perm := range perms {
			if runs++; runs > limit {
				c.orderDependent = true
				c.Errors = append(c.Errors, fmt.Sprintf("included directories %v: too many or too large configuration files for fipsgate to check that the order OpenSSL reads them in does not matter", dirs))
				return
			}
			order := func(dir string, names []string) []string {
				if dir != d || len(names) != len(perm) {
					return names
				}
				out := make([]string, len(names))
				for i, j := range perm {
					out[i] = names[j]
				}
				return out
			}
			o := load(fsys, name, dt, env, workDir, order)
			if !sameLoad(&c.Config, &o.Config) {
				c.orderDependent = true
				c.Errors = append(c.Errors, fmt.Sprintf("%s: OpenSSL reads this directory's %d configuration files in directory order, which cannot be known before it runs, and the configuration differs with that order", d, n))
				return
			}
		}
	}
}

func sameLoad(a, b *Config) bool {
	if a.dropped != b.dropped || len(a.Sections) != len(b.Sections) {
		return false
	}
	for s, vals := range a.Sections {
		bv, ok := b.Sections[s]
		if !ok || len(bv) != len(vals) || strings.Join(a.Order[s], "\x00") != strings.Join(b.Order[s], "\x00") {
			return false
		}
		for k, v := range vals {
			if bv[k] != v {
				return false
			}
		}
	}
	return true
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := make([]int, 0, n)
			q = append(q, p[:i]...)
			q = append(q, n-1)
			q = append(q, p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func dropWhy(err error) string {
	var le *loadError
	if errors.As(err, &le) && le.refused {
		return "beyond fipsgate's limits, which OpenSSL does not have: fipsgate refuses to judge the configuration"
	}
	return "OpenSSL refuses the whole configuration (whatever config_diagnostics says) and runs as if there were none"
}
