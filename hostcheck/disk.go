package hostcheck

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const (
	// needBytes: two runtimes of ~300 MB (Node + openclaw), backups and logs.
	needBytes = 1536 * mib
	// needInodes: a runtime is ~40k files (node_modules); two, plus slack.
	needInodes = 100_000
)

// checkDisk measures the file system the state dir is on, or its nearest
// existing parent before the first run made it.
func checkDisk(dir string) []Result {
	d, i := Result{Name: "disk"}, Result{Name: "inodes"}
	if dir == "" {
		d.Level, d.Detail = Skip, "no state dir configured"
		i.Level, i.Detail = Skip, d.Detail
		return []Result{d, i}
	}
	p := dir
	for {
		if _, err := os.Stat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		p = filepath.Dir(p)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		d.Level, d.Detail = Skip, fmt.Sprintf("statfs %s: %v", p, err)
		i.Level, i.Detail = Skip, d.Detail
		return []Result{d, i}
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	d.Detail = fmt.Sprintf("%s free on %s, need %s (two runtimes, backups, logs)", human(free), p, human(needBytes))
	d.Level = grade(free, needBytes)
	if d.Level != OK {
		d.Fix = fmt.Sprintf("free space on the file system of %s (`sudo openclawd runtime prune`, `sudo journalctl --vacuum-size=100M`, `sudo apt-get clean`) or grow the disk", dir)
	}
	if st.Files == 0 { // btrfs and others have no fixed inode count
		i.Level, i.Detail = OK, fmt.Sprintf("%s allocates inodes on demand", p)
		return []Result{d, i}
	}
	ffree := int64(st.Ffree)
	i.Detail = fmt.Sprintf("%d inodes free on %s, need %d (node_modules are many small files)", ffree, p, needInodes)
	i.Level = grade(ffree, needInodes)
	if i.Level != OK {
		i.Fix = fmt.Sprintf("delete many small files on the file system of %s (`sudo openclawd runtime prune`, old caches), or move the state dir to a file system with more inodes", dir)
	}
	return []Result{d, i}
}

// grade: error below need, warn below twice the need.
func grade(have, need int64) Level {
	switch {
	case have < need:
		return Error
	case have < 2*need:
		return Warn
	}
	return OK
}
