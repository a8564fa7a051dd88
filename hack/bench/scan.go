package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// scanRow is the crypto inventory's cost on one root filesystem:
// `fipsgate scan --json`, the whole process, page cache warm.
type scanRow struct {
	Image          string  `json:"image"`
	Files          int     `json:"files"`
	ELFFiles       int     `json:"elfFiles"`
	GoBinaries     int     `json:"goBinaries"`
	Bytes          int64   `json:"bytes"`
	ReadBytes      int64   `json:"readBytes"`
	Seconds        stat    `json:"seconds"`
	MBPerSecond    float64 `json:"mbPerSecond"`
	FilesPerSecond float64 `json:"filesPerSecond"`
	PeakRSSMB      float64 `json:"peakRssMB"`
}

// measureScans runs the scan on the root filesystems that make base-images
// leaves in its cache: the FIPS base and the Go builder.
func measureScans(root string) []scanRow {
	bin := filepath.Join(root, "_output", "bench", "fipsgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/fipsgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fail(fmt.Sprintf("building fipsgate: %v\n%s", err, out))
	}
	cache := os.Getenv("FIPSGATE_CACHE_DIR")
	if cache == "" {
		home, err := os.UserCacheDir()
		check(err)
		cache = filepath.Join(home, "fipsgate")
	}
	var rows []scanRow
	for _, name := range []string{"debian-fips-amd64", "gobuilder-amd64"} {
		tarballs, _ := filepath.Glob(filepath.Join(cache, "rootfs", name+"-*.tar"))
		if len(tarballs) == 0 {
			fail("no " + name + " root filesystem in " + filepath.Join(cache, "rootfs") + ": run make base-images")
		}
		fmt.Fprintf(os.Stderr, "crypto inventory / %s\n", name)
		rows = append(rows, measureScan(bin, name, unpackRootfs(root, tarballs[0])))
	}
	return rows
}

// unpackRootfs unpacks a root filesystem tarball once, under _output.
func unpackRootfs(root, tarball string) string {
	dir := filepath.Join(root, "_output", "bench", "rootfs-"+strings.TrimSuffix(filepath.Base(tarball), ".tar"))
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	tmp := dir + ".tmp"
	check(os.RemoveAll(tmp))
	check(os.MkdirAll(tmp, 0o755))
	// Device nodes and the like may not be creatable: the scan reads
	// regular files only.
	_ = exec.Command("tar", "-xf", tarball, "-C", tmp).Run()
	check(os.Rename(tmp, dir))
	return dir
}

func measureScan(bin, name, dir string) scanRow {
	row := scanRow{Image: name}
	var secs []float64
	for i := -1; i < *runs; i++ {
		cmd := exec.Command(bin, "scan", "--json", dir)
		start := time.Now()
		out, err := cmd.Output()
		elapsed := time.Since(start).Seconds()
		if err != nil && cmd.ProcessState == nil {
			fail(fmt.Sprintf("fipsgate scan %s: %v", dir, err))
		}
		// A scan with failures exits 1 and still reports.
		var inv struct {
			Stats struct {
				Files      int   `json:"files"`
				ELFFiles   int   `json:"elfFiles"`
				GoBinaries int   `json:"goBinaries"`
				Bytes      int64 `json:"bytes"`
				ReadBytes  int64 `json:"readBytes"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(out, &inv); err != nil {
			fail(fmt.Sprintf("fipsgate scan %s: %v", dir, err))
		}
		if i < 0 { // warm-up: the page cache
			continue
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		row.PeakRSSMB = max(row.PeakRSSMB, float64(ru.Maxrss)/1024)
		secs = append(secs, elapsed)
		row.Files, row.ELFFiles, row.GoBinaries = inv.Stats.Files, inv.Stats.ELFFiles, inv.Stats.GoBinaries
		row.Bytes, row.ReadBytes = inv.Stats.Bytes, inv.Stats.ReadBytes
	}
	row.Seconds = stats(secs)
	if row.Seconds.Median > 0 {
		row.MBPerSecond = float64(row.Bytes) / 1e6 / row.Seconds.Median
		row.FilesPerSecond = float64(row.Files) / row.Seconds.Median
	}
	return row
}

func printScans(w io.Writer, rows []scanRow) {
	fmt.Fprintln(w, "\ncrypto inventory (fipsgate scan, whole process, page cache warm):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tFILES\tELF\tGO\tMB\tREAD\tSECONDS\tMB/s\tFILES/s\tPEAK RSS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.0f%%\t%.3f (%.3f–%.3f)\t%.0f\t%.0f\t%.1f MB\n", r.Image, r.Files, r.ELFFiles, r.GoBinaries,
			float64(r.Bytes)/1e6, 100*float64(r.ReadBytes)/float64(max(r.Bytes, 1)), r.Seconds.Median, r.Seconds.Min, r.Seconds.Max,
			r.MBPerSecond, r.FilesPerSecond, r.PeakRSSMB)
	}
	tw.Flush()
}
