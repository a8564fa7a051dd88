package probe

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
)

// leftovers finds what a run of the image's programs added to the check
// container's root: a pid file, a lock, a unix socket left behind by a
// killed process would make the next start fail for a reason that has
// nothing to do with FIPS, and pass for a refusal.
type leftovers struct {
	root string
	skip []string // image paths that are not the image's: the probe's and the report's mounts
	seen map[string]bool
}

// pseudo are the kernel's filesystems in the container; /dev/shm, where
// POSIX shared memory and semaphores live, is walked on its own.
var pseudo = []string{"/proc", "/sys", "/dev"}

// newLeftovers records every path under root now.
func newLeftovers(root string, skip []string) *leftovers {
	l := &leftovers{root: root, skip: skip, seen: map[string]bool{}}
	l.walk(func(name string, _ bool) error {
		l.seen[name] = true
		return nil
	})
	return l
}

// remove deletes every path that was not there when l was made, and says
// which it removed, in order.
func (l *leftovers) remove() []string {
	var removed []string
	l.walk(func(name string, dir bool) error {
		if l.seen[name] {
			return nil
		}
		if err := os.RemoveAll(filepath.Join(l.root, filepath.FromSlash(name))); err == nil {
			removed = append(removed, name)
		}
		if dir {
			return fs.SkipDir
		}
		return nil
	})
	sort.Strings(removed)
	return removed
}

func (l *leftovers) walk(fn func(name string, dir bool) error) {
	for _, top := range []string{"/", "/dev/shm"} {
		_ = filepath.WalkDir(filepath.Join(l.root, filepath.FromSlash(top)), func(p string, d fs.DirEntry, err error) error {
			rel, relErr := filepath.Rel(l.root, p)
			if relErr != nil {
				return nil
			}
			name := path.Clean("/" + filepath.ToSlash(rel))
			if err != nil {
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() && name != top && (slices.Contains(pseudo, name) || slices.Contains(l.skip, name)) {
				return fs.SkipDir
			}
			if name == "/" || name == top {
				return nil
			}
			return fn(name, d.IsDir())
		})
	}
}
