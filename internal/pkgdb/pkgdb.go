// Package pkgdb reads the package databases of an image — dpkg's and
// apk's — to tell which package installed a file, and names that package
// with a package URL (purl) and the distribution from /etc/os-release.
//
// The image is hostile: its databases are read through imagefs (regular
// files only, symlinks resolved inside the root, bounded sizes), and what
// they say is evidence, not proof: a database can claim any file for any
// package.
package pkgdb

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	packageurl "github.com/package-url/packageurl-go"
)

// Package managers.
const (
	Dpkg = "dpkg"
	Apk  = "apk"
)

// Limits on what is read of an image's databases: the file lists of a
// large distribution image are a few MB, its dpkg status a few MB.
const (
	MaxFileLists = 64 << 20
	MaxStatus    = 32 << 20
	maxOSRelease = 64 << 10
)

// Where the databases are.
const (
	dpkgInfo   = "/var/lib/dpkg/info"
	dpkgStatus = "/var/lib/dpkg/status"
)

var (
	apkInstalled = []string{"/lib/apk/db/installed", "/usr/lib/apk/db/installed"}
	// rpmDatabases are the rpm databases fipsgate recognises but does not
	// read: the SQLite database of current releases, the Berkeley DB and
	// NDB ones of older.
	rpmDatabases = []string{"/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db", "/usr/lib/sysimage/rpm/Packages.db"}
)

// Package is an installed package, as its database records it.
type Package struct {
	Manager      string `json:"manager"`
	Name         string `json:"name"`
	Version      string `json:"version,omitempty"`
	Architecture string `json:"architecture,omitempty"`
}

// DB is what an image's package databases say.
type DB struct {
	packages []Package
	// files maps a path to the packages that list it.
	files map[string][]int
	// Databases are the files read, Problems what could not be read.
	Databases []string
	Problems  []string
	// RPM is the rpm database the image has, which is not read; "" for
	// none.
	RPM string
}

// Read reads the image's dpkg and apk databases. It never fails: what
// cannot be read is in Problems, and a database that is absent is simply
// not there.
func Read(root imagefs.Root) *DB {
	db := &DB{}
	db.readDpkg(root)
	db.readApk(root)
	for _, p := range rpmDatabases {
		if _, err := root.Stat(p); err == nil {
			db.RPM = p
			break
		}
	}
	return db
}

// HasFiles tells whether a database listed any file: distroless images
// keep none.
func (db *DB) HasFiles() bool { return len(db.files) > 0 }

// Lists tells whether a database lists name, under its own path or the
// one it had before /usr was merged (/lib, /bin, /sbin).
func (db *DB) Lists(name string) bool { return len(db.Owners(name)) > 0 }

// Owners returns the packages whose databases list name (or its path
// before or after the /usr merge), in the order read.
func (db *DB) Owners(name string) []Package {
	idx := db.files[name]
	if len(idx) == 0 {
		if rest, ok := strings.CutPrefix(name, "/usr"); ok {
			idx = db.files[rest]
		} else {
			idx = db.files["/usr"+name]
		}
	}
	out := make([]Package, 0, len(idx))
	for _, i := range idx {
		out = append(out, db.packages[i])
	}
	return out
}

func (db *DB) add(p Package) int {
	db.packages = append(db.packages, p)
	return len(db.packages) - 1
}

func (db *DB) list(name string, pkg int) {
	if !path.IsAbs(name) {
		return
	}
	if db.files == nil {
		db.files = map[string][]int{}
	}
	name = path.Clean(name)
	for _, i := range db.files[name] {
		if i == pkg {
			return
		}
	}
	db.files[name] = append(db.files[name], pkg)
}

func (db *DB) problem(name string, err error) {
	if !errors.Is(err, fs.ErrNotExist) {
		db.Problems = append(db.Problems, err.Error())
	}
}

// readDpkg reads dpkg's file lists (info/<package>[:<arch>].list) and the
// versions and architectures of the installed packages (status).
func (db *DB) readDpkg(root imagefs.Root) {
	names, err := root.ReadDir(dpkgInfo)
	if err != nil {
		db.problem(dpkgInfo, err)
		return
	}
	installed := map[string]Package{}
	if dt, err := root.ReadFileLimit(dpkgStatus, MaxStatus); err != nil {
		db.problem(dpkgStatus, err)
	} else {
		db.Databases = append(db.Databases, dpkgStatus)
		for _, para := range paragraphs(string(dt)) {
			if !strings.HasSuffix(para["Status"], " installed") || para["Package"] == "" {
				continue
			}
			p := Package{Manager: Dpkg, Name: para["Package"], Version: para["Version"], Architecture: para["Architecture"]}
			installed[p.Name+":"+p.Architecture] = p
			if _, ok := installed[p.Name]; !ok {
				installed[p.Name] = p
			}
		}
	}
	read := int64(0)
	listed := false
	sort.Strings(names)
	for _, n := range names {
		base, ok := strings.CutSuffix(n, ".list")
		if !ok {
			continue
		}
		if read >= MaxFileLists {
			db.Problems = append(db.Problems, dpkgInfo+": the file lists exceed the "+itoa(MaxFileLists)+"-byte limit; the rest were not read")
			break
		}
		dt, err := root.ReadFileLimit(dpkgInfo+"/"+n, MaxFileLists-read)
		if err != nil {
			db.problem(n, err)
			continue
		}
		read += int64(len(dt))
		listed = true
		p, ok := installed[base]
		if !ok {
			name, arch, _ := strings.Cut(base, ":")
			p = Package{Manager: Dpkg, Name: name, Architecture: arch}
		}
		i := db.add(p)
		for _, line := range strings.Split(string(dt), "\n") {
			db.list(line, i)
		}
	}
	if listed {
		db.Databases = append(db.Databases, dpkgInfo+"/*.list")
	}
}

// readApk reads apk's installed database: a paragraph per package, P: its
// name, V: its version, A: its architecture, each F: a directory and each
// R: a file in it.
func (db *DB) readApk(root imagefs.Root) {
	for _, file := range apkInstalled {
		dt, err := root.ReadFileLimit(file, MaxFileLists)
		if err != nil {
			db.problem(file, err)
			continue
		}
		db.Databases = append(db.Databases, file)
		pkg, dir := -1, ""
		for _, line := range strings.Split(string(dt), "\n") {
			k, v, ok := strings.Cut(line, ":")
			switch {
			case line == "":
				pkg, dir = -1, ""
			case !ok:
			case k == "P":
				pkg = db.add(Package{Manager: Apk, Name: v})
			case pkg < 0:
			case k == "V":
				db.packages[pkg].Version = v
			case k == "A":
				db.packages[pkg].Architecture = v
			case k == "F":
				dir = "/" + v
			case k == "R":
				db.list(path.Join(dir, v), pkg)
			}
		}
		return
	}
}

// paragraphs splits a deb822 file (dpkg's status) into its paragraphs'
// fields; continuation lines are dropped.
func paragraphs(s string) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				out = append(out, cur)
				cur = map[string]string{}
			}
		case line[0] == ' ' || line[0] == '\t':
		default:
			if k, v, ok := strings.Cut(line, ":"); ok {
				cur[k] = strings.TrimSpace(v)
			}
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// OSRelease is what /etc/os-release (or /usr/lib/os-release) says of the
// distribution.
type OSRelease struct {
	ID        string `json:"id,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	// File is the file read, "" when there is none.
	File string `json:"file,omitempty"`
}

// Distro is the distribution as purl's distro qualifier names it:
// "debian-13", "alpine-3.20"; "" when unknown.
func (o OSRelease) Distro() string {
	if o.ID == "" || o.VersionID == "" {
		return o.ID
	}
	return o.ID + "-" + o.VersionID
}

// ReadOSRelease reads the image's os-release.
func ReadOSRelease(root imagefs.Root) (OSRelease, error) {
	var errs []error
	for _, f := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		dt, err := root.ReadFileLimit(f, maxOSRelease)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		o := OSRelease{File: f}
		for _, line := range strings.Split(string(dt), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"'`)
			switch k {
			case "ID":
				o.ID = sanitize(strings.ToLower(v))
			case "VERSION_ID":
				o.VersionID = sanitize(v)
			}
		}
		return o, nil
	}
	return OSRelease{}, errors.Join(errs...)
}

// sanitize keeps what an os-release identifier may hold (lower-case
// letters, digits, "._-"), dropping the rest: the image wrote it.
func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteRune(c)
		}
	}
	if b.Len() > 64 {
		return b.String()[:64]
	}
	return b.String()
}

// PURL is the package's package URL, with the distribution as namespace
// and distro qualifier: pkg:deb/debian/openssl-provider-fips@3.5.9-1~deb13u1?arch=amd64&distro=debian-13.
func (p Package) PURL(o OSRelease) string {
	typ := map[string]string{Dpkg: packageurl.TypeDebian, Apk: packageurl.TypeApk}[p.Manager]
	if typ == "" {
		return ""
	}
	q := map[string]string{}
	if p.Architecture != "" {
		q["arch"] = p.Architecture
	}
	if d := o.Distro(); d != "" {
		q["distro"] = d
	}
	return packageurl.NewPackageURL(typ, o.ID, p.Name, p.Version, packageurl.QualifiersFromMap(q), "").ToString()
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
