// Package opensslconf reads OpenSSL configuration files the way OpenSSL 3's
// NCONF loader does — sections, variables, quoting, `.include` of files and
// directories, `.pragma` — and summarises what matters for FIPS: which
// providers are activated, the default properties, config_diagnostics, and
// the FIPS provider's section (module-mac and friends).
//
// Files are read through an FS, so that the same code reads a configuration
// from an image root on disk (confined to it) or through another channel.
package opensslconf

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
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

// Limits that keep a hostile configuration from exhausting the reader.
const (
	maxIncludeDepth = 16
	maxFiles        = 256
	maxFileSize     = 1 << 20
	maxValueLength  = 64 << 10
)

// Config is a parsed configuration: sections of name/value pairs, the files
// read (in order), and the problems OpenSSL itself would report.
type Config struct {
	// Sections maps a section name to its values. The default section
	// (values before any [section]) is named "default".
	Sections map[string]map[string]string
	// Files are the files read, the main one first, includes in order.
	Files []string
	// Origin maps section name to the file that (last) opened it.
	Origin map[string]string
	// Errors are problems that make OpenSSL's loader fail: with
	// config_diagnostics = 1 the application gets an error; without it
	// OpenSSL silently ignores the whole configuration.
	Errors []string
}

// Get returns the value of name in section, falling back to the default
// section, as OpenSSL's NCONF_get_string does.
func (c *Config) Get(section, name string) (string, bool) {
	if s, ok := c.Sections[section]; ok {
		if v, ok := s[name]; ok {
			return v, true
		}
	}
	v, ok := c.Sections[DefaultSection][name]
	return v, ok
}

// DefaultSection names the values that precede any section header.
const DefaultSection = "default"

type parser struct {
	fsys     FS
	cfg      *Config
	env      map[string]string
	section  string
	dollarID bool   // .pragma dollarid: '$' is part of names, not expansion
	absPath  bool   // .pragma abspath: relative includes are errors
	inclDir  string // .pragma includedir, else OPENSSL_CONF_INCLUDE
	workDir  string // relative includes resolve against it, like a process's cwd
	depth    int
}

// Parse reads the configuration file at name and everything it includes.
// env holds the environment of the process that would load it (for
// $ENV::NAME and OPENSSL_CONF_INCLUDE); workDir is that process's working
// directory, against which OpenSSL resolves relative include paths.
// A missing main file is returned as an error wrapping fs.ErrNotExist;
// problems inside the configuration are collected in Config.Errors.
func Parse(fsys FS, name string, env map[string]string, workDir string) (*Config, error) {
	dt, err := fsys.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if workDir == "" {
		workDir = "/"
	}
	p := &parser{
		fsys:    fsys,
		cfg:     &Config{Sections: map[string]map[string]string{DefaultSection: {}}, Origin: map[string]string{DefaultSection: name}},
		env:     env,
		section: DefaultSection,
		inclDir: env["OPENSSL_CONF_INCLUDE"],
		workDir: workDir,
	}
	p.parseFile(name, dt)
	return p.cfg, nil
}

func (p *parser) errorf(file string, line int, format string, args ...any) {
	p.cfg.Errors = append(p.cfg.Errors, fmt.Sprintf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
}

func (p *parser) parseFile(file string, dt []byte) {
	p.cfg.Files = append(p.cfg.Files, file)
	if len(dt) > maxFileSize {
		p.errorf(file, 0, "file is larger than %d bytes", maxFileSize)
		return
	}
	lines := strings.Split(strings.ReplaceAll(string(dt), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := lines[i]
		// A line ending in an unescaped backslash continues on the next.
		for endsWithContinuation(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + lines[i]
		}
		line = stripComment(line)
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				p.errorf(file, lineNo, "missing close square bracket")
				continue
			}
			name := strings.TrimSpace(line[1:end])
			name = p.expand(file, lineNo, name)
			if name == "" {
				p.errorf(file, lineNo, "empty section name")
				continue
			}
			p.section = name
			if p.cfg.Sections[name] == nil {
				p.cfg.Sections[name] = map[string]string{}
			}
			p.cfg.Origin[name] = file
			continue
		}
		name, value, ok := splitAssignment(line)
		if directive, arg, isDirective := parseDirective(line); isDirective {
			p.directive(file, lineNo, directive, arg)
			continue
		}
		if !ok {
			p.errorf(file, lineNo, "missing equal sign in %q", line)
			continue
		}
		section := p.section
		if s, n, qualified := strings.Cut(name, "::"); qualified {
			section, name = s, n
		}
		v := p.expand(file, lineNo, unquote(value))
		if p.cfg.Sections[section] == nil {
			p.cfg.Sections[section] = map[string]string{}
		}
		p.cfg.Sections[section][name] = v
	}
}

func endsWithContinuation(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// stripComment removes a '#' comment, respecting quotes and escapes.
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return line[:i]
		}
	}
	return line
}

func splitAssignment(line string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(line, "=")
	return strings.TrimSpace(name), strings.TrimSpace(value), ok
}

// parseDirective recognises `.include path`, `.include = path` and the same
// for `.pragma`.
func parseDirective(line string) (directive, arg string, ok bool) {
	for _, d := range []string{".include", ".pragma"} {
		if !strings.HasPrefix(line, d) {
			continue
		}
		rest := line[len(d):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '=') {
			continue
		}
		rest = strings.TrimSpace(rest)
		rest = strings.TrimSpace(strings.TrimPrefix(rest, "="))
		return d, unquote(rest), true
	}
	return "", "", false
}

// unquote processes OpenSSL's quoting: "..." and '...' group, a backslash
// escapes the next character (\n, \r, \b, \t are control characters).
func unquote(s string) string {
	if !strings.ContainsAny(s, `"'\`) {
		return s
	}
	var b strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (p *parser) directive(file string, line int, directive, arg string) {
	arg = p.expand(file, line, arg)
	switch directive {
	case ".pragma":
		for _, kv := range strings.Split(arg, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), ":")
			on := v == "on" || v == "true"
			switch strings.TrimSpace(k) {
			case "dollarid":
				p.dollarID = on
			case "abspath":
				p.absPath = on
			case "includedir":
				p.inclDir = strings.TrimSpace(v)
			}
		}
	case ".include":
		p.include(file, line, arg)
	}
}

func (p *parser) include(file string, line int, target string) {
	if target == "" {
		p.errorf(file, line, "empty include path")
		return
	}
	if !path.IsAbs(target) {
		if p.absPath {
			p.errorf(file, line, "relative include %q with .pragma abspath:true", target)
			return
		}
		base := p.inclDir
		if base == "" {
			base = p.workDir
		}
		target = path.Join(base, target)
	}
	target = path.Clean(target)
	if p.depth >= maxIncludeDepth {
		p.errorf(file, line, "includes nested deeper than %d", maxIncludeDepth)
		return
	}
	files := []string{target}
	if p.fsys.IsDir(target) {
		names, err := p.fsys.ReadDir(target)
		if err != nil {
			p.errorf(file, line, "include directory %s: %v", target, err)
			return
		}
		files = files[:0]
		sort.Strings(names)
		for _, n := range names {
			ln := strings.ToLower(n)
			if strings.HasSuffix(ln, ".cnf") || strings.HasSuffix(ln, ".conf") {
				files = append(files, path.Join(target, n))
			}
		}
	}
	for _, f := range files {
		if len(p.cfg.Files) >= maxFiles {
			p.errorf(file, line, "more than %d configuration files", maxFiles)
			return
		}
		dt, err := p.fsys.ReadFile(f)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				p.errorf(file, line, "included file %s does not exist", f)
			} else {
				p.errorf(file, line, "included file %s: %v", f, err)
			}
			continue
		}
		p.depth++
		p.parseFile(f, dt)
		p.depth--
	}
}

// expand substitutes $name, ${name}, $(name), $section::name and
// $ENV::NAME, as OpenSSL does outside .pragma dollarid:on.
func (p *parser) expand(file string, line int, s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || p.dollarID {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		var closer byte
		if j < len(s) && (s[j] == '{' || s[j] == '(') {
			closer = map[byte]byte{'{': '}', '(': ')'}[s[j]]
			j++
		}
		start := j
		for j < len(s) && isNameChar(s[j]) {
			j++
		}
		if j+1 < len(s) && s[j] == ':' && s[j+1] == ':' {
			j += 2
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
		}
		ref := s[start:j]
		if closer != 0 {
			if j >= len(s) || s[j] != closer {
				p.errorf(file, line, "no close brace in variable reference %q", s[i:])
				return s
			}
			j++
		}
		if ref == "" {
			p.errorf(file, line, "empty variable reference in %q", s)
			return s
		}
		section, name := p.section, ref
		if sct, n, ok := strings.Cut(ref, "::"); ok {
			section, name = sct, n
		}
		var v string
		var ok bool
		if section == "ENV" {
			v, ok = p.env[name]
		} else {
			v, ok = p.cfg.Get(section, name)
		}
		if !ok {
			p.errorf(file, line, "variable %s has no value", ref)
		}
		if b.Len()+len(v) > maxValueLength {
			p.errorf(file, line, "variable expansion longer than %d bytes", maxValueLength)
			return s
		}
		b.WriteString(v)
		i = j - 1
	}
	return b.String()
}

// isNameChar is OpenSSL's CONF_ALNUM: letters, digits and underscore.
func isNameChar(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
