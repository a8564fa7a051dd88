package probe

import (
	"bytes"
	"errors"
	"io/fs"
	"syscall"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/moby/sys/user"
)

// identity is who a process of the image runs as.
type identity struct {
	Cred *syscall.Credential
	Home string
}

// resolveUser turns an image's User ("", "name", "uid", "name:group",
// "uid:gid") into credentials as runc does (moby/sys/user): names are
// looked up in the image's /etc/passwd and /etc/group, a numeric uid need
// not exist there, and supplementary groups come from /etc/group.
func resolveUser(root imagefs.Root, spec string) (identity, error) {
	if spec == "" {
		spec = "0"
	}
	passwd, err := root.ReadFile("/etc/passwd")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return identity{}, err
	}
	group, err := root.ReadFile("/etc/group")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return identity{}, err
	}
	u, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, bytes.NewReader(passwd), bytes.NewReader(group))
	if err != nil {
		return identity{}, err
	}
	cred := &syscall.Credential{Uid: uint32(u.Uid), Gid: uint32(u.Gid)}
	for _, g := range u.Sgids {
		if uint32(g) != cred.Gid {
			cred.Groups = append(cred.Groups, uint32(g))
		}
	}
	home := u.Home
	if home == "" {
		home = "/"
	}
	return identity{Cred: cred, Home: home}, nil
}
