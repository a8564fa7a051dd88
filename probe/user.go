package probe

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/fipsgate/fipsgate/imagefs"
)

// identity is who a process of the image runs as.
type identity struct {
	Cred *syscall.Credential
	Home string
}

// resolveUser turns an image's User ("", "name", "uid", "name:group",
// "uid:gid") into credentials the way container runtimes do: names are
// looked up in the image's /etc/passwd and /etc/group, a numeric uid need
// not exist there, and supplementary groups come from /etc/group.
func resolveUser(root imagefs.Root, user string) (identity, error) {
	if user == "" {
		user = "0"
	}
	userPart, groupPart, hasGroup := strings.Cut(user, ":")
	passwd, _ := root.ReadFile("/etc/passwd")
	groups, _ := root.ReadFile("/etc/group")

	id := identity{Cred: &syscall.Credential{}, Home: "/"}
	uid, err := strconv.ParseUint(userPart, 10, 32)
	var userName string
	if err == nil {
		id.Cred.Uid = uint32(uid)
		if e, ok := findEntry(passwd, 7, func(f []string) bool { return f[2] == userPart }); ok {
			userName = e[0]
			id.Home = e[5]
			if gid, err := strconv.ParseUint(e[3], 10, 32); err == nil {
				id.Cred.Gid = uint32(gid)
			}
		}
	} else {
		e, ok := findEntry(passwd, 7, func(f []string) bool { return f[0] == userPart })
		if !ok {
			return identity{}, fmt.Errorf("unable to find user %s: no matching entries in the image's /etc/passwd", userPart)
		}
		userName = e[0]
		id.Home = e[5]
		u, err1 := strconv.ParseUint(e[2], 10, 32)
		g, err2 := strconv.ParseUint(e[3], 10, 32)
		if err1 != nil || err2 != nil {
			return identity{}, fmt.Errorf("malformed /etc/passwd entry for %s", userPart)
		}
		id.Cred.Uid, id.Cred.Gid = uint32(u), uint32(g)
	}
	if hasGroup {
		if gid, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			id.Cred.Gid = uint32(gid)
		} else {
			e, ok := findEntry(groups, 4, func(f []string) bool { return f[0] == groupPart })
			if !ok {
				return identity{}, fmt.Errorf("unable to find group %s: no matching entries in the image's /etc/group", groupPart)
			}
			g, err := strconv.ParseUint(e[2], 10, 32)
			if err != nil {
				return identity{}, fmt.Errorf("malformed /etc/group entry for %s", groupPart)
			}
			id.Cred.Gid = uint32(g)
		}
	}
	if userName != "" {
		scanEntries(groups, 4, func(f []string) {
			for _, m := range strings.Split(f[3], ",") {
				if m == userName {
					if g, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(g) != id.Cred.Gid {
						id.Cred.Groups = append(id.Cred.Groups, uint32(g))
					}
				}
			}
		})
	}
	if id.Home == "" {
		id.Home = "/"
	}
	return id, nil
}

// findEntry returns the first line of an /etc/passwd (n = 7) or /etc/group
// (n = 4) file that match accepts.
func findEntry(file []byte, n int, match func([]string) bool) ([]string, bool) {
	var found []string
	scanEntries(file, n, func(f []string) {
		if found == nil && match(f) {
			found = f
		}
	})
	return found, found != nil
}

// scanEntries calls fn with the colon-separated fields of each line that
// has at least n fields.
func scanEntries(file []byte, n int, fn func([]string)) {
	sc := bufio.NewScanner(bytes.NewReader(file))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) >= n {
			fn(f)
		}
	}
}
