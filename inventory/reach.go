package inventory

import (
	"bytes"
	"debug/elf"
	"fmt"
	"maps"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/fipsgate/fipsgate/imagefs"
)

// ReachEntry is one file the application can run or load: a program, an
// interpreter, a shared object, or one observed mapped into its processes.
type ReachEntry struct {
	// Path is where the file lies in the image, symlinks resolved.
	Path string `json:"path"`
	// Via says how the application reaches it.
	Via string `json:"via"`
	// Observed: seen mapped into, or executed by, the application's
	// processes while it ran, rather than resolved from its files.
	Observed bool `json:"observed,omitempty"`
}

// Reach is what the application can run and load.
type Reach struct {
	Entries []ReachEntry `json:"entries"`
	// Unresolved says what could not be followed (a library nowhere in the
	// library path, a command built at run time).
	Unresolved []string `json:"unresolved,omitempty"`
}

// Bounds of the reach: the kernel follows at most four interpreters
// (BINPRM_MAX_RECURSION); a script deeper in scripts than maxDepth, or a
// reach larger than maxReach files, is not followed further.
const (
	maxInterpreters = 4
	maxDepth        = 8
	maxReach        = 4096
	maxScript       = 1 << 20
)

// DefaultPath is the PATH of an image that sets none, as docker run uses.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LookPath finds a command as execvp would in the image: a name with a
// slash as it stands (relative to dir), any other in the image's PATH
// (env's, or DefaultPath); "" when nothing executable is there.
func LookPath(root imagefs.Root, name string, env map[string]string, dir string) string {
	if name == "" {
		return ""
	}
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			name = path.Join("/", dir, name)
		}
		if executable(root, name) {
			return path.Clean(name)
		}
		return ""
	}
	pathEnv := env["PATH"]
	if pathEnv == "" {
		pathEnv = DefaultPath
	}
	for _, d := range strings.Split(pathEnv, ":") {
		if d == "" {
			d = dir // an empty element is the working directory
		}
		if p := path.Join("/", d, name); executable(root, p) {
			return p
		}
	}
	return ""
}

func executable(root imagefs.Root, name string) bool {
	st, err := root.Stat(name)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// ResolveReach follows the application's command through the image: the
// program that runs (PATH lookup, #! interpreters, the commands a shell
// script or `sh -c` runs where they are written out, programs named on its
// command line), and every ELF file's dependencies as the image's dynamic
// linker would load them (PT_INTERP; DT_NEEDED through DT_RPATH,
// LD_LIBRARY_PATH, DT_RUNPATH with $ORIGIN, ld.so.conf, the default
// directories), with LD_PRELOAD and /etc/ld.so.preload. Nothing is run.
func ResolveReach(root imagefs.Root, argv []string, env map[string]string, workDir string) *Reach {
	sysEnv := maps.Clone(env)
	delete(sysEnv, "LD_LIBRARY_PATH")
	r := &reacher{root: root, env: env, dir: workDir, libraryPath: libraryPathEnv(env), sysDirs: LibraryDirs(root, sysEnv),
		seen: map[string]bool{}, reach: &Reach{Entries: []ReachEntry{}}}
	if workDir == "" {
		r.dir = "/"
	}
	if len(argv) == 0 {
		return r.reach
	}
	for _, lib := range preloads(root, env) {
		r.library(lib.name, lib.via, nil)
	}
	r.command(argv, "the application's command", 0)
	sort.Slice(r.reach.Entries, func(i, j int) bool { return r.reach.Entries[i].Path < r.reach.Entries[j].Path })
	sort.Strings(r.reach.Unresolved)
	return r.reach
}

type reacher struct {
	root imagefs.Root
	env  map[string]string
	dir  string
	// libraryPath is LD_LIBRARY_PATH's; sysDirs, ld.so.conf's and the
	// default directories.
	libraryPath, sysDirs []string
	seen                 map[string]bool
	reach                *Reach
}

func (r *reacher) unresolved(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, u := range r.reach.Unresolved {
		if u == msg {
			return
		}
	}
	r.reach.Unresolved = append(r.reach.Unresolved, msg)
}

// add records a file, and tells whether it is new.
func (r *reacher) add(name, via string) (real string, isNew bool) {
	real, err := r.root.Real(name)
	if err != nil {
		real = path.Clean(name)
	}
	if r.seen[real] || len(r.reach.Entries) >= maxReach {
		return real, false
	}
	r.seen[real] = true
	r.reach.Entries = append(r.reach.Entries, ReachEntry{Path: real, Via: via})
	return real, true
}

// wrappers run the command that follows their options: what they are
// given on a command line is followed as a command.
var wrappers = map[string]bool{
	"env": true, "tini": true, "tini-static": true, "dumb-init": true, "catatonit": true, "gosu": true, "su-exec": true,
	"setpriv": true, "nice": true, "nohup": true, "timeout": true, "exec": true, "chpst": true, "s6-setuidgid": true,
	"runuser": true, "setsid": true, "stdbuf": true, "ionice": true, "taskset": true, "chroot": true, "xargs": true,
}

// shells are the interpreters whose scripts are read for the commands
// they run.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true, "zsh": true, "busybox": true}

// command follows one command line: its program, and what it runs.
func (r *reacher) command(argv []string, via string, depth int) {
	if len(argv) == 0 || depth > maxDepth {
		return
	}
	prog := LookPath(r.root, argv[0], r.env, r.dir)
	if prog == "" {
		if strings.ContainsAny(argv[0], "$`") {
			r.unresolved("%s: %q is built at run time", via, argv[0])
		} else {
			r.unresolved("%s: %q is not an executable file in the image", via, argv[0])
		}
		return
	}
	r.program(prog, via, depth, 0)
	base := path.Base(prog)
	real, _ := r.root.Real(prog)
	if real != "" && path.Base(real) == "busybox" && !shells[base] {
		base = path.Base(argv[0])
	}
	args := argv[1:]
	switch {
	case shells[base]:
		for i, a := range args {
			if a == "-c" && i+1 < len(args) {
				r.script(args[i+1], "the "+base+" -c command of "+via, depth+1)
				return
			}
		}
	case wrappers[base]:
		// The wrapped command is the first argument that names a program,
		// after the wrapper's options and, for env, its assignments.
		for i, a := range args {
			if strings.HasPrefix(a, "-") || strings.Contains(a, "=") && !strings.Contains(a, "/") {
				continue
			}
			if p := LookPath(r.root, a, r.env, r.dir); p != "" {
				r.command(args[i:], "run by "+prog, depth+1)
				return
			}
		}
	}
	// Programs named by path among the arguments (an init's child, a
	// supervisor's service) are reached as far as anything can tell.
	for _, a := range args {
		if path.IsAbs(a) && executable(r.root, a) && !r.seenPath(a) {
			r.program(a, "named on the command line of "+prog, depth+1, 0)
		}
	}
}

func (r *reacher) seenPath(name string) bool {
	real, err := r.root.Real(name)
	return err == nil && r.seen[real]
}

// program follows an executable file: a #! script's interpreter (and, for
// a shell, the commands the script runs), or an ELF file's dependencies.
func (r *reacher) program(name, via string, depth, interpreters int) {
	real, isNew := r.add(name, via)
	if !isNew {
		return
	}
	f, err := r.root.Open(real)
	if err != nil {
		return
	}
	defer f.Close()
	// The kernel reads the first 256 bytes (BINPRM_BUF_SIZE) for #!.
	head := make([]byte, 256)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("#!")):
		if interpreters >= maxInterpreters {
			r.unresolved("%s: more than %d nested interpreters", real, maxInterpreters)
			return
		}
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		interp, arg := splitShebang(string(line))
		if interp == "" {
			return
		}
		r.program(interp, "interpreter of "+real, depth, interpreters+1)
		ibase := path.Base(interp)
		if ireal, err := r.root.Real(interp); err == nil && path.Base(ireal) != "busybox" {
			ibase = path.Base(ireal)
		}
		switch {
		case ibase == "env" && arg != "":
			// #!/usr/bin/env NAME: NAME from PATH; -S splits the rest.
			words := strings.Fields(strings.TrimPrefix(arg, "-S"))
			for _, w := range words {
				if strings.HasPrefix(w, "-") || strings.Contains(w, "=") {
					continue
				}
				if p := LookPath(r.root, w, r.env, r.dir); p != "" {
					r.program(p, "interpreter of "+real+" (through env)", depth, interpreters+1)
					if shells[path.Base(p)] {
						r.scriptFile(real, depth+1)
					}
				} else {
					r.unresolved("%s: its interpreter %q is not in the image's PATH", real, w)
				}
				break
			}
		case shells[ibase] || shells[path.Base(interp)]:
			r.scriptFile(real, depth+1)
		}
	case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		r.elfDeps(f, real, depth)
	}
}

// splitShebang splits a #! line as the kernel does: the interpreter, and
// the rest, after blanks, as one argument.
func splitShebang(line string) (interp, arg string) {
	line = strings.TrimRight(strings.TrimLeft(line, " \t"), " \t\r")
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, ""
	}
	return line[:i], strings.TrimSpace(line[i:])
}

func (r *reacher) scriptFile(name string, depth int) {
	dt, err := r.root.ReadFileLimit(name, maxScript)
	if err != nil {
		r.unresolved("%s: the script could not be read: %v", name, err)
		return
	}
	r.script(string(dt), "run by the script "+name, depth)
}

// script follows the commands a shell script writes out: the first word
// of each simple command. Commands built at run time ($VAR, $(…)) cannot be
// known and are noted as such.
func (r *reacher) script(text, via string, depth int) {
	for _, words := range shellCommands(text) {
		cmd := words[0]
		if shellBuiltins[cmd] {
			continue
		}
		if strings.ContainsAny(cmd, "$`") {
			r.unresolved("%s: a command built at run time (%s)", via, cmd)
			continue
		}
		if p := LookPath(r.root, cmd, r.env, r.dir); p != "" && !r.seenPath(p) {
			r.command(words, via, depth)
		}
	}
}

// shellBuiltins are shell words that are not programs.
var shellBuiltins = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "for": true, "while": true, "until": true, "do": true,
	"done": true, "case": true, "esac": true, "in": true, "function": true, "{": true, "}": true, "!": true, "[[": true, "]]": true,
	"cd": true, "echo": true, "printf": true, "read": true, "set": true, "unset": true, "export": true, "local": true, "return": true,
	"exit": true, "shift": true, "trap": true, "wait": true, ":": true, ".": true, "source": true, "eval": true, "test": true,
	"[": true, "true": true, "false": true, "readonly": true, "umask": true, "ulimit": true, "alias": true, "type": true,
	"getopts": true, "break": true, "continue": true, "declare": true, "typeset": true, "let": true, "pwd": true, "kill": true,
}

// shellCommands splits a shell script into simple commands, each the words
// from its command word on: assignments before it, `exec`, `command` and
// the like are skipped. Quoting is honoured only as far as joining quoted
// words; here-documents and functions are read as commands. It is a
// reading of what is written out, no more.
func shellCommands(text string) [][]string {
	var out [][]string
	var cur []string
	var word strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			cur = append(cur, word.String())
			word.Reset()
			inWord = false
		}
	}
	flushCmd := func() {
		flushWord()
		for len(cur) > 0 {
			w := cur[0]
			if i := strings.IndexByte(w, '='); i > 0 && !strings.ContainsAny(w[:i], "/$\"'") {
				cur = cur[1:]
				continue
			}
			if w == "exec" || w == "command" || w == "builtin" || w == "then" || w == "do" || w == "else" || w == "!" || w == "time" || w == "{" || w == "if" || w == "while" || w == "until" || w == "elif" {
				cur = cur[1:]
				continue
			}
			break
		}
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '#' && !inWord:
			for i < len(text) && text[i] != '\n' {
				i++
			}
			flushCmd()
		case c == '\'' || c == '"':
			j := strings.IndexByte(text[i+1:], c)
			if j < 0 {
				j = len(text) - i - 1
			}
			word.WriteString(text[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '\\' && i+1 < len(text):
			if text[i+1] != '\n' {
				word.WriteByte(text[i+1])
				inWord = true
			}
			i++
		case c == '$' && i+1 < len(text) && text[i+1] == '(':
			// A command substitution starts a command of its own.
			flushCmd()
			i++
		case c == '`':
			flushCmd()
		case c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')':
			flushCmd()
		case c == ' ' || c == '\t' || c == '\r':
			flushWord()
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	flushCmd()
	return out
}

type preload struct{ name, via string }

// preloads lists what the dynamic linker loads into every program before
// its own dependencies: LD_PRELOAD, then /etc/ld.so.preload.
func preloads(root imagefs.Root, env map[string]string) []preload {
	var out []preload
	for _, p := range strings.FieldsFunc(env["LD_PRELOAD"], func(c rune) bool { return c == ' ' || c == ':' }) {
		out = append(out, preload{p, "LD_PRELOAD in the image's Env"})
	}
	if dt, err := root.ReadFileLimit("/etc/ld.so.preload", maxScript); err == nil {
		for _, line := range strings.Split(string(dt), "\n") {
			line, _, _ = strings.Cut(line, "#")
			for _, p := range strings.Fields(line) {
				out = append(out, preload{p, "/etc/ld.so.preload"})
			}
		}
	}
	return out
}

// library finds a library as the dynamic linker would for a requester
// whose loader chain has rpaths (the DT_RPATH of each object that has no
// DT_RUNPATH, innermost first), and follows it.
func (r *reacher) library(name, via string, rpaths []string) {
	var found string
	if strings.Contains(name, "/") {
		if st, err := r.root.Stat(name); err == nil && st.Mode().IsRegular() {
			found = name
		}
	} else {
		found = r.find(name, rpaths, nil)
	}
	if found == "" {
		r.unresolved("%s: %s is nowhere in the library path", via, name)
		return
	}
	r.program(found, via, 0, maxInterpreters)
}

// elfDeps follows an ELF file's dynamic loader and needed libraries.
func (r *reacher) elfDeps(f *os.File, real string, depth int) {
	r.elfDepsChain(f, real, nil, depth)
}

func (r *reacher) elfDepsChain(f *os.File, real string, inherited []string, depth int) {
	ef, err := elf.NewFile(f)
	if err != nil {
		return
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, min(p.Filesz, 4096))
			n, _ := p.ReadAt(b, 0)
			interp := string(bytes.TrimRight(b[:n], "\x00"))
			if path.IsAbs(interp) {
				r.program(interp, "dynamic loader of "+real, depth, maxInterpreters)
			}
		}
	}
	dyn := dynamicStrings(ef)
	origin := path.Dir(real)
	runpath := dyn[elf.DT_RUNPATH]
	chain := inherited
	if len(runpath) == 0 {
		// DT_RPATH counts for this object's dependencies and theirs,
		// unless an object has DT_RUNPATH, which then counts alone and
		// for its own dependencies only.
		chain = append(expandPaths(dyn[elf.DT_RPATH], origin), inherited...)
	}
	for _, lib := range dyn[elf.DT_NEEDED] {
		var found string
		if strings.Contains(lib, "/") {
			found = lib
		} else {
			found = r.find(lib, chain, expandPaths(runpath, origin))
		}
		if found == "" {
			r.unresolved("%s needs %s, which is nowhere in its library path", real, lib)
			continue
		}
		lreal, isNew := r.add(found, "needed by "+real+" ("+lib+")")
		if !isNew {
			continue
		}
		lf, err := r.root.Open(lreal)
		if err != nil {
			continue
		}
		next := chain
		if len(runpath) > 0 {
			next = inherited
		}
		r.elfDepsChain(lf, lreal, next, depth)
		lf.Close()
	}
}

// expandPaths splits rpath entries and expands $ORIGIN, $LIB and
// $PLATFORM as glibc's dynamic linker does.
func expandPaths(entries []string, origin string) []string {
	var out []string
	for _, e := range entries {
		for _, d := range strings.Split(e, ":") {
			d = strings.NewReplacer("${ORIGIN}", origin, "$ORIGIN", origin).Replace(d)
			if strings.Contains(d, "$") {
				// $LIB and $PLATFORM depend on the machine: every
				// directory they could name is searched.
				for _, lib := range []string{"lib", "lib64"} {
					x := strings.NewReplacer("${LIB}", lib, "$LIB", lib).Replace(d)
					if !strings.Contains(x, "$") && path.IsAbs(x) {
						out = append(out, x)
					}
				}
				continue
			}
			if path.IsAbs(d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// find searches as glibc's ld.so does: DT_RPATH of the loader chain,
// LD_LIBRARY_PATH, DT_RUNPATH, then ld.so.conf's and the default
// directories.
func (r *reacher) find(name string, rpath, runpath []string) string {
	for _, dirs := range [][]string{rpath, r.libraryPath, runpath, r.sysDirs} {
		for _, d := range dirs {
			p := path.Join(d, name)
			if st, err := r.root.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}

func libraryPathEnv(env map[string]string) []string {
	var dirs []string
	for _, d := range strings.FieldsFunc(env["LD_LIBRARY_PATH"], func(c rune) bool { return c == ':' || c == ';' }) {
		if path.IsAbs(d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}
