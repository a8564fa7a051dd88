package inventory

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/fipsgate/fipsgate/internal/imagefs"
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
	// DependencyOf names, for an observed file, another file loaded with
	// it that needs it (DT_NEEDED): it came with that one, rather than by
	// the application's own dlopen or exec.
	DependencyOf string `json:"dependencyOf,omitempty"`
}

// Reach is what the application can run and load.
type Reach struct {
	Entries []ReachEntry `json:"entries"`
	// Unresolved says what could not be followed (a library nowhere in the
	// library path, a command built at run time).
	Unresolved []string `json:"unresolved,omitempty"`
	// Incomplete says why the reach could not be followed to its end (a
	// script over the size limit, the work budget spent): a reach that is
	// incomplete fails the verdict, since what it left out is not judged.
	Incomplete string `json:"incomplete,omitempty"`
	// invocations are the command lines each program (by path) was seen
	// run with, as far as they are written out: runtimes take their FIPS
	// mode from their options, multi-call binaries their applet.
	invocations map[string][][]string
}

// Invocations returns the command lines the program at path (symlinks
// resolved) is run with in the reach.
func (r *Reach) Invocations(path string) [][]string {
	if r == nil {
		return nil
	}
	return r.invocations[path]
}

// Bounds of the reach: the kernel follows at most four interpreters
// (BINPRM_MAX_RECURSION); a script deeper in scripts than maxDepth, or a
// reach larger than maxReach files, is not followed further.
const (
	maxInterpreters = 4
	maxDepth        = 8
	maxReach        = 4096
	maxScript       = 1 << 20
	// maxWork bounds the reach's file system operations and script
	// bytes (in KiB), so that no image can make it run for long.
	maxWork       = 200000
	maxUnresolved = 256
	maxNeeded     = 1024
	maxRpathDirs  = 64
	maxInvoked    = 16
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
	r := newReacher(root, env, workDir)
	if len(argv) == 0 {
		return r.reach
	}
	for _, lib := range preloads(root, env) {
		r.library(lib.name, lib.via, nil)
	}
	r.command(argv, "the application's command", 0)
	if r.dropped > 0 {
		r.reach.Unresolved = append(r.reach.Unresolved, fmt.Sprintf("… and %d more", r.dropped))
	}
	sort.Slice(r.reach.Entries, func(i, j int) bool { return r.reach.Entries[i].Path < r.reach.Entries[j].Path })
	sort.Strings(r.reach.Unresolved)
	return r.reach
}

func newReacher(root imagefs.Root, env map[string]string, workDir string) *reacher {
	if workDir == "" {
		workDir = "/"
	}
	sysEnv := maps.Clone(env)
	delete(sysEnv, "LD_LIBRARY_PATH")
	return &reacher{root: root, env: env, dir: workDir, libraryPath: libraryPathEnv(env), sysDirs: LibraryDirs(root, sysEnv),
		seen: map[string]bool{}, unresolvedSeen: map[string]bool{}, paths: map[string]string{},
		reach: &Reach{Entries: []ReachEntry{}, invocations: map[string][][]string{}}}
}

type reacher struct {
	root imagefs.Root
	env  map[string]string
	dir  string
	// libraryPath is LD_LIBRARY_PATH's; sysDirs, ld.so.conf's and the
	// default directories.
	libraryPath, sysDirs []string
	// seen holds the files reached, by inode: hard links are one file.
	seen           map[string]bool
	unresolvedSeen map[string]bool
	dropped        int
	// paths memoises LookPath.
	paths map[string]string
	work  int
	reach *Reach
}

func (r *reacher) unresolved(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.unresolvedSeen[msg] {
		return
	}
	r.unresolvedSeen[msg] = true
	if len(r.reach.Unresolved) >= maxUnresolved {
		r.dropped++
		return
	}
	r.reach.Unresolved = append(r.reach.Unresolved, msg)
}

// spend counts work, and tells whether the budget is spent: the reach is
// then incomplete, and nothing more is followed.
func (r *reacher) spend(n int) bool {
	r.work += n
	if r.work > maxWork && r.reach.Incomplete == "" {
		r.reach.Incomplete = fmt.Sprintf("following the application's files took more than %d operations (scripts, lookups, libraries): what is beyond was not judged", maxWork)
	}
	return r.reach.Incomplete != ""
}

func (r *reacher) lookPath(name string) string {
	if p, ok := r.paths[name]; ok {
		return p
	}
	if r.spend(8) {
		return ""
	}
	p := LookPath(r.root, name, r.env, r.dir)
	r.paths[name] = p
	return p
}

// fileKey identifies a file: by device and inode, so that hard links are
// one file.
func (r *reacher) fileKey(real string) string {
	st, err := r.root.Stat(real)
	if err != nil {
		return real
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", sys.Dev, sys.Ino)
	}
	return real
}

// add records a file, and tells whether it is new.
func (r *reacher) add(name, via string) (real string, isNew bool) {
	real, err := r.root.Real(name)
	if err != nil {
		real = path.Clean(name)
	}
	key := r.fileKey(real)
	if r.seen[key] || r.spend(1) {
		return real, false
	}
	if len(r.reach.Entries) >= maxReach {
		r.reach.Incomplete = fmt.Sprintf("the application reaches more than %d files: what is beyond was not judged", maxReach)
		return real, false
	}
	r.seen[key] = true
	r.reach.Entries = append(r.reach.Entries, ReachEntry{Path: real, Via: via})
	return real, true
}

// invoked records a command line a program is run with.
func (r *reacher) invoked(real string, argv []string) {
	if len(r.reach.invocations[real]) < maxInvoked {
		r.reach.invocations[real] = append(r.reach.invocations[real], append([]string(nil), argv...))
	}
}

// wrappers run the command that follows their options: what they are
// given on a command line is followed as a command.
var wrappers = map[string]bool{
	"env": true, "tini": true, "tini-static": true, "dumb-init": true, "catatonit": true, "gosu": true, "su-exec": true,
	"setpriv": true, "nice": true, "nohup": true, "timeout": true, "exec": true, "chpst": true, "s6-setuidgid": true,
	"runuser": true, "setsid": true, "stdbuf": true, "ionice": true, "taskset": true, "chroot": true, "xargs": true,
	"flock": true, "sudo": true, "doas": true, "unshare": true, "nsenter": true, "su": true, "find": true,
}

// commandOptions are the options with which a wrapper takes a command as
// one string, run by a shell.
var commandOptions = map[string]bool{"-c": true, "--command": true, "--session-command": true}

// shells are the interpreters whose scripts are read for the commands
// they run.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true, "zsh": true, "busybox": true}

// command follows one command line: its program, and what it runs.
func (r *reacher) command(argv []string, via string, depth int) {
	if len(argv) == 0 || depth > maxDepth {
		if depth > maxDepth {
			r.unresolved("%s: commands nested more than %d deep are not followed", via, maxDepth)
		}
		return
	}
	prog := r.lookPath(argv[0])
	if prog == "" {
		if strings.ContainsAny(argv[0], "$`") {
			r.unresolved("%s: %q is built at run time", via, argv[0])
		} else if r.reach.Incomplete == "" {
			r.unresolved("%s: %q is not an executable file in the image", via, argv[0])
		}
		return
	}
	r.program(prog, via, depth, 0, argv[1:]...)
	real, err := r.root.Real(prog)
	if err != nil {
		real = prog
	}
	r.invoked(real, argv)
	base := path.Base(real)
	if base == "busybox" {
		// A multi-call binary runs the applet it is called as.
		base = path.Base(argv[0])
		if base == "busybox" && len(argv) > 1 {
			argv = argv[1:]
			base = path.Base(argv[0])
		}
	} else if !shells[base] && !wrappers[base] {
		base = path.Base(prog)
	}
	args := argv[1:]
	switch {
	case shells[base]:
		r.shell(base, args, via, depth)
		return
	case wrappers[base]:
		r.wrapped(base, prog, args, depth)
	}
	// Programs named by path among the arguments (an init's child, a
	// supervisor's service) are reached as far as anything can tell.
	for _, a := range args {
		if path.IsAbs(a) && executable(r.root, a) && !r.seenPath(a) {
			r.program(a, "named on the command line of "+prog, depth+1, 0)
		}
	}
}

// shell follows a shell's command line: the -c string (also in a cluster
// such as -ec), or the script it is given, with the arguments after it as
// the script's "$@".
func (r *reacher) shell(base string, args []string, via string, depth int) {
	inline := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i++
		case a == "-o" || a == "+o":
			i++
			continue
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'):
			inline = inline || strings.ContainsRune(a[1:], 'c') && !strings.HasPrefix(a, "--")
			continue
		}
		if i >= len(args) {
			return
		}
		if inline {
			// sh -c STRING NAME ARGS: ARGS are the string's "$@".
			var positional []string
			if i+2 <= len(args)-1 {
				positional = args[i+2:]
			}
			r.script(args[i], "the "+base+" -c command of "+via, depth+1, positional)
			return
		}
		file := args[i]
		if !path.IsAbs(file) {
			file = path.Join("/", r.dir, file)
		}
		r.scriptFile(file, depth+1, args[i+1:])
		return
	}
}

// wrapped follows the command a wrapper runs: the first argument that
// names a program, after the wrapper's options and, for env, its
// assignments; a command given as one string (su -c) is a shell's; find
// runs what follows -exec.
func (r *reacher) wrapped(base, prog string, args []string, depth int) {
	for i, a := range args {
		if commandOptions[a] && i+1 < len(args) && base != "find" {
			r.script(args[i+1], "the "+a+" command of "+prog, depth+1, nil)
			return
		}
		if base == "find" {
			if (a == "-exec" || a == "-execdir" || a == "-ok" || a == "-okdir") && i+1 < len(args) {
				r.command(args[i+1:], "run by "+prog, depth+1)
			}
			continue
		}
		if strings.HasPrefix(a, "-") || strings.Contains(a, "=") && !strings.Contains(a, "/") {
			continue
		}
		if p := r.lookPath(a); p != "" {
			r.command(args[i:], "run by "+prog, depth+1)
			return
		}
	}
}

func (r *reacher) seenPath(name string) bool {
	real, err := r.root.Real(name)
	return err == nil && r.seen[real]
}

// program follows an executable file: a #! script's interpreter (and, for
// a shell, the commands the script runs), or an ELF file's dependencies.
// args are the program's arguments where known: a script's "$@".
func (r *reacher) program(name, via string, depth, interpreters int, args ...string) {
	if st, err := r.root.Stat(name); err != nil || !st.Mode().IsRegular() {
		r.unresolved("%s: %s is not a file in the image", via, name)
		return
	}
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
		interp, arg := Shebang(head)
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
				if p := r.lookPath(w); p != "" {
					r.program(p, "interpreter of "+real+" (through env)", depth, interpreters+1)
					if shells[path.Base(p)] {
						r.scriptFile(real, depth+1, args)
					}
				} else {
					r.unresolved("%s: its interpreter %q is not in the image's PATH", real, w)
				}
				break
			}
		case shells[ibase] || shells[path.Base(interp)]:
			r.scriptFile(real, depth+1, args)
		}
	case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		r.elfDeps(f, real, path.Dir(real), nil, depth)
	}
}

// Shebang reads a #! line from a file's first bytes as the kernel does:
// the interpreter, and the rest, after blanks, as one argument; "" for a
// file without one.
func Shebang(head []byte) (interp, arg string) {
	if !bytes.HasPrefix(head, []byte("#!")) {
		return "", ""
	}
	l, _, _ := bytes.Cut(head[2:], []byte("\n"))
	line := strings.TrimRight(strings.TrimLeft(string(l), " \t"), " \t\r")
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, ""
	}
	return line[:i], strings.TrimSpace(line[i:])
}

// scriptFile follows a shell script's file, once however often it is
// run; positional are its arguments, when known.
func (r *reacher) scriptFile(name string, depth int, positional []string) {
	key := "script " + r.fileKey(name)
	if r.seen[key] && positional == nil {
		return
	}
	r.seen[key] = true
	dt, err := r.root.ReadFileLimit(name, maxScript)
	switch {
	case errors.Is(err, imagefs.ErrTooLarge):
		r.reach.Incomplete = fmt.Sprintf("the script %s is over %d bytes: the commands it runs were not judged", name, maxScript)
		return
	case err != nil:
		r.unresolved("%s: the script could not be read: %v", name, err)
		return
	}
	if r.spend(len(dt) / 1024) {
		return
	}
	r.script(string(dt), "run by the script "+name, depth, positional)
}

// script follows the commands a shell script writes out: the first word
// of each simple command, "$@" being the script's arguments where they are
// known; a file it sources is read as part of it. Commands built at run
// time ($VAR, $(…)) cannot be known and are noted as such.
func (r *reacher) script(text, via string, depth int, positional []string) {
	for _, words := range shellCommands(text) {
		if r.reach.Incomplete != "" {
			return
		}
		words = expandPositional(words, positional)
		if len(words) == 0 {
			continue
		}
		cmd := words[0]
		if (cmd == "." || cmd == "source") && len(words) > 1 && !strings.ContainsAny(words[1], "$`") {
			file := words[1]
			if !path.IsAbs(file) {
				file = path.Join("/", r.dir, file)
			}
			r.scriptFile(file, depth+1, nil)
			continue
		}
		if shellBuiltins[cmd] {
			continue
		}
		if strings.ContainsAny(cmd, "$`") {
			r.unresolved("%s: a command built at run time (%s)", via, cmd)
			continue
		}
		r.command(words, via, depth)
	}
}

// expandPositional replaces "$@" and "$*" by the script's arguments, when
// they are known.
func expandPositional(words, positional []string) []string {
	if positional == nil {
		return words
	}
	var out []string
	for _, w := range words {
		switch w {
		case "$@", "$*", "${@}", "${*}":
			out = append(out, positional...)
		default:
			out = append(out, w)
		}
	}
	return out
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
// the like are skipped, as are redirections and here-document bodies.
// Quoting is honoured only as far as joining quoted words; functions are
// read as commands. It is a reading of what is written out, no more.
func shellCommands(text string) [][]string {
	var out [][]string
	var cur []string
	var word strings.Builder
	inWord := false
	// skipWord: the next word is a redirection's target, not an argument.
	skipWord := false
	// heredocs are the delimiters of here-documents whose bodies start at
	// the next line: text, not commands.
	type heredoc struct {
		delim     string
		stripTabs bool
	}
	var heredocs []heredoc
	flushWord := func() {
		if inWord {
			if !skipWord {
				cur = append(cur, word.String())
			}
			skipWord = false
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
		case c == '<' || c == '>':
			// A redirection: an fd number before it is not a word, nor is
			// its target after it; << starts a here-document.
			if inWord && strings.Trim(word.String(), "0123456789") == "" {
				word.Reset()
				inWord = false
			}
			flushWord()
			j := i
			for j < len(text) && strings.IndexByte("<>&|-0123456789", text[j]) >= 0 && j-i < 4 {
				j++
			}
			op := text[i:j]
			i = j - 1
			if strings.HasPrefix(op, "<<") && !strings.HasPrefix(op, "<<<") {
				k := j
				for k < len(text) && (text[k] == ' ' || text[k] == '\t') {
					k++
				}
				e := k
				for e < len(text) && strings.IndexByte(" \t\n;&|<>()", text[e]) < 0 {
					e++
				}
				if delim := strings.Trim(text[k:e], `'"\`); delim != "" {
					heredocs = append(heredocs, heredoc{delim, strings.HasPrefix(op, "<<-")})
				}
				i = e - 1
			} else if k := strings.IndexByte(op, '&'); k < 0 || k == len(op)-1 {
				// >&2 and 2>&- name their target; > file does not.
				skipWord = true
			}
		case c == '\n':
			flushCmd()
			// Here-document bodies follow the line that opened them.
			for _, h := range heredocs {
				for i+1 < len(text) {
					end := strings.IndexByte(text[i+1:], '\n')
					if end < 0 {
						end = len(text) - i - 1
					}
					line := text[i+1 : i+1+end]
					i += end + 1
					if h.stripTabs {
						line = strings.TrimLeft(line, "\t")
					}
					if strings.TrimRight(line, "\r") == h.delim {
						break
					}
				}
			}
			heredocs = nil
		case c == ';' || c == '&' || c == '|' || c == '(' || c == ')':
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
		found = r.find(name, rpaths, nil, ELFIdent{})
	}
	if found == "" {
		r.unresolved("%s: %s is nowhere in the library path", via, name)
		return
	}
	r.program(found, via, 0, maxInterpreters)
}

// elfDeps follows an ELF file's dynamic loader and needed libraries.
// origin is the directory $ORIGIN names: the program's own, symlinks
// resolved (glibc takes it from /proc/self/exe), or the directory a
// library was found in. inherited is the DT_RPATH of the objects that
// loaded it.
func (r *reacher) elfDeps(f *os.File, real, origin string, inherited []string, depth int) {
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
	runpath := dyn[elf.DT_RUNPATH]
	chain := inherited
	if len(runpath) == 0 {
		// DT_RPATH counts for this object's dependencies and theirs,
		// unless an object has DT_RUNPATH, which then counts alone and
		// for its own dependencies only.
		chain = dedupeDirs(append(expandPaths(dyn[elf.DT_RPATH], origin), inherited...))
	}
	runDirs := dedupeDirs(expandPaths(runpath, origin))
	needed := dedupeDirs(dyn[elf.DT_NEEDED])
	if len(needed) > maxNeeded {
		r.reach.Incomplete = fmt.Sprintf("%s needs %d libraries, over %d: what is beyond was not judged", real, len(needed), maxNeeded)
		needed = needed[:maxNeeded]
	}
	want := elfIdentOf(ef)
	for _, lib := range needed {
		if r.spend(1) {
			return
		}
		var found string
		switch {
		case path.IsAbs(lib):
			found = lib
		case strings.Contains(lib, "/"):
			// A name with a slash is a path, relative to the process's
			// working directory.
			found = path.Join("/", r.dir, lib)
		default:
			found = r.find(lib, chain, runDirs, want)
		}
		if st, err := r.root.Stat(found); found == "" || err != nil || !st.Mode().IsRegular() {
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
		r.elfDeps(lf, lreal, path.Dir(found), next, depth)
		lf.Close()
	}
}

// dedupeDirs drops repeated entries, keeping the first.
func dedupeDirs(dirs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// ELFIdent is what the kernel and the dynamic linker check of an ELF file
// before they take it (open_verify): its class, byte order and machine.
type ELFIdent struct {
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
}

// ParseELFIdent reads the ELF identity from a file's first bytes.
func ParseELFIdent(hdr []byte) (ELFIdent, bool) {
	if len(hdr) < 20 || !bytes.HasPrefix(hdr, []byte(elf.ELFMAG)) {
		return ELFIdent{}, false
	}
	id := ELFIdent{Class: elf.Class(hdr[elf.EI_CLASS]), Data: elf.Data(hdr[elf.EI_DATA])}
	switch id.Data {
	case elf.ELFDATA2LSB:
		id.Machine = elf.Machine(binary.LittleEndian.Uint16(hdr[18:]))
	case elf.ELFDATA2MSB:
		id.Machine = elf.Machine(binary.BigEndian.Uint16(hdr[18:]))
	default:
		return ELFIdent{}, false
	}
	if id.Class != elf.ELFCLASS32 && id.Class != elf.ELFCLASS64 {
		return ELFIdent{}, false
	}
	return id, true
}

func elfIdentOf(ef *elf.File) ELFIdent { return ELFIdent{ef.Class, ef.Data, ef.Machine} }

// identOf reads a file's ELF identity from its header.
func (r *reacher) identOf(p string) (ELFIdent, bool) {
	f, err := r.root.Open(p)
	if err != nil {
		return ELFIdent{}, false
	}
	defer f.Close()
	var h [20]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return ELFIdent{}, false
	}
	return ParseELFIdent(h[:])
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
// directories; a file of another class or machine than the requester's is
// passed over, as the loader does (an i386 library in a multiarch image).
func (r *reacher) find(name string, rpath, runpath []string, want ELFIdent) string {
	for _, dirs := range [][]string{rpath[:min(len(rpath), maxRpathDirs)], r.libraryPath, runpath[:min(len(runpath), maxRpathDirs)], r.sysDirs} {
		for _, d := range dirs {
			if r.spend(1) {
				return ""
			}
			p := path.Join(d, name)
			if st, err := r.root.Stat(p); err != nil || !st.Mode().IsRegular() {
				continue
			}
			if id, ok := r.identOf(p); ok && want.Machine != elf.EM_NONE && id != want {
				continue
			}
			return p
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

// LoadedDependencies tells, of files loaded together (what the
// application reaches and was seen to load), which ones another of them
// needs (DT_NEEDED, searched as the dynamic linker would for it): for each
// such file, the first that needs it.
func LoadedDependencies(root imagefs.Root, paths []string, env map[string]string, workDir string) map[string]string {
	r := newReacher(root, env, workDir)
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	out := map[string]string{}
	for _, p := range sorted {
		f, err := root.Open(p)
		if err != nil {
			continue
		}
		ef, err := elf.NewFile(f)
		if err != nil {
			f.Close()
			continue
		}
		dyn := dynamicStrings(ef)
		origin := path.Dir(p)
		runpath := expandPaths(dyn[elf.DT_RUNPATH], origin)
		var rpath []string
		if len(runpath) == 0 {
			rpath = expandPaths(dyn[elf.DT_RPATH], origin)
		}
		needed := dedupeDirs(dyn[elf.DT_NEEDED])
		for _, lib := range needed[:min(len(needed), maxNeeded)] {
			found := r.find(lib, rpath, runpath, elfIdentOf(ef))
			if found == "" {
				continue
			}
			if real, err := root.Real(found); err == nil && real != p {
				if _, ok := out[real]; !ok {
					out[real] = p
				}
			}
		}
		ef.Close()
		f.Close()
	}
	return out
}
