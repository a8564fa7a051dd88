package inventory

import (
	"path"
	"sort"
	"strings"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

// LibraryDirs lists where the image's dynamic linker looks for a library,
// in its order: LD_LIBRARY_PATH, /etc/ld.so.conf (and what it includes),
// the multiarch directories, then the defaults.
func LibraryDirs(root imagefs.Root, env map[string]string) []string {
	var dirs []string
	for _, d := range strings.Split(env["LD_LIBRARY_PATH"], ":") {
		if path.IsAbs(d) {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, ldSoConf(root, "/etc/ld.so.conf", 0)...)
	dirs = append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
	for _, parent := range []string{"/lib", "/usr/lib"} {
		if names, err := root.ReadDir(parent); err == nil {
			sort.Strings(names)
			for _, n := range names {
				if strings.Contains(n, "-linux-") {
					dirs = append(dirs, path.Join(parent, n))
				}
			}
		}
	}
	dirs = append(dirs, "/usr/local/lib64", "/usr/local/lib")
	seen := map[string]bool{}
	out := dirs[:0]
	for _, d := range dirs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

func ldSoConf(root imagefs.Root, file string, depth int) []string {
	dt, err := root.ReadFile(file)
	if err != nil || depth > 8 {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(dt), "\n") {
		line = strings.TrimSpace(strings.SplitN(line, "#", 2)[0])
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "include "); ok {
			pattern := strings.TrimSpace(rest)
			if !path.IsAbs(pattern) {
				pattern = path.Join(path.Dir(file), pattern)
			}
			dir, glob := path.Split(pattern)
			names, _ := root.ReadDir(dir)
			sort.Strings(names)
			for _, n := range names {
				if ok, _ := path.Match(glob, n); ok {
					dirs = append(dirs, ldSoConf(root, path.Join(dir, n), depth+1)...)
				}
			}
			continue
		}
		if path.IsAbs(line) {
			dirs = append(dirs, line)
		}
	}
	return dirs
}

// FindLibrary returns the path of the library name as the dynamic linker
// would load it for a binary with the given RPATH/RUNPATH entries ($ORIGIN
// being the binary's directory), or "" if it finds none.
func FindLibrary(root imagefs.Root, name string, runpaths []string, origin string, dirs []string) string {
	var search []string
	for _, rp := range runpaths {
		for _, d := range strings.Split(rp, ":") {
			d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
			if path.IsAbs(d) {
				search = append(search, d)
			}
		}
	}
	search = append(search, dirs...)
	for _, d := range search {
		p := path.Join(d, name)
		if st, err := root.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}
