//go:build unix

package statedir

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/openclawd/openclawd/internal/account"
)

// PrepareAsRoot makes root the owner of nothing in the state dir: it
// creates root (its missing parents root's, 0755) and gives root to a,
// mode 0700, then gives a every entry an earlier root openclawd left owned
// by root. Every step goes through descriptors opened without following
// links, so the service user, who can change everything inside, cannot
// point any of it elsewhere. It changes nothing that belongs to another
// user, and no regular file with other hard links (it could be one to a
// system file).
func PrepareAsRoot(root string, a account.Account) error {
	fd, err := OpenDir(root, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("checking %s: %w", root, err)
	}
	if st.Uid != 0 && int(st.Uid) != a.UID {
		return fmt.Errorf("state_dir %s belongs to uid %d, neither root nor the service user %s: point state_dir elsewhere or `chown -R %s: %s`", root, st.Uid, a, a.Name, root)
	}
	if err := unix.Fchown(fd, a.UID, a.GID); err != nil {
		return fmt.Errorf("handing %s to %s: %w", root, a, err)
	}
	if err := unix.Fchmod(fd, uint32(DirMode)); err != nil {
		return fmt.Errorf("securing %s: %w", root, err)
	}
	return adopt(fd, root, a, 0)
}

// MkdirOwned creates dir (and root-owned parents, 0755) if it is missing,
// owned by uid:gid with mode, through descriptors. An existing dir is left
// as it is. For the control socket's directory, where systemd's
// RuntimeDirectory is not there to make it.
func MkdirOwned(dir string, uid, gid int, mode uint32) error {
	if fd, err := OpenDir(dir, false); err == nil {
		unix.Close(fd)
		return nil
	}
	parent, err := OpenDir(filepath.Dir(dir), true)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	base := filepath.Base(dir)
	if err := unix.Mkdirat(parent, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return fmt.Errorf("handing %s over: %w", dir, err)
	}
	return unix.Fchmod(fd, mode)
}

// maxDepth bounds adopt's walk (a runtime tree is about 20 deep).
const maxDepth = 64

// adopt gives a every root-owned entry below the directory fd. It goes down
// only into directories it adopted: a tree written by the service user
// holds nothing of root's, and is not walked at all.
func adopt(dirfd int, path string, a account.Account, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%s: deeper than %d levels; not adopting further", path, maxDepth)
	}
	names, err := readNames(dirfd)
	if err != nil {
		return fmt.Errorf("listing %s: %w", path, err)
	}
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("checking %s: %w", filepath.Join(path, name), err)
		}
		if st.Uid != 0 {
			continue
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink > 1 {
			continue // a hard link may be a system file's
		}
		if err := unix.Fchownat(dirfd, name, a.UID, a.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("handing %s to %s: %w", filepath.Join(path, name), a, err)
		}
		if !isDir {
			continue
		}
		sub, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				continue // swapped under us: not ours to follow
			}
			return fmt.Errorf("opening %s: %w", filepath.Join(path, name), err)
		}
		err = adopt(sub, filepath.Join(path, name), a, depth+1)
		unix.Close(sub)
		if err != nil {
			return err
		}
	}
	return nil
}

// readNames lists a directory through a duplicate of fd, so fd's offset
// stays untouched.
func readNames(fd int) ([]string, error) {
	dup, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dup)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.ReadDirent(dup, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// OpenDir opens path as a directory, one component at a time from /,
// never following a link that root does not own inside a directory root
// owns (so /var → private/var on macOS is fine, a link the service user
// planted is not). With create, missing components are made (0755, the
// last DirMode). The caller closes the descriptor.
func OpenDir(path string, create bool) (int, error) {
	if !filepath.IsAbs(path) {
		return -1, fmt.Errorf("%s is not an absolute path", path)
	}
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening /: %w", err)
	}
	todo := components(path)
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		last := len(todo) == 0
		if c == ".." {
			// Only from a link's target (the path itself is clean): go up
			// by descriptor, which stays below nothing we did not open.
			nfd, err := unix.Openat(fd, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			unix.Close(fd)
			if err != nil {
				return -1, fmt.Errorf("resolving %s: %w", path, err)
			}
			fd = nfd
			continue
		}
		nfd, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			mode := uint32(0o755)
			if last {
				mode = uint32(DirMode)
			}
			if err := unix.Mkdirat(fd, c, mode); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(fd)
				return -1, fmt.Errorf("creating %s: %w", path, err)
			}
			nfd, err = unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil {
				// mkdirat applies the umask: a root shell's 077 would leave
				// a parent the service user cannot pass through.
				_ = unix.Fchmod(nfd, mode)
			}
		}
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EMLINK) {
			target, lerr := trustedLink(fd, c)
			if lerr != nil || links >= 16 {
				unix.Close(fd)
				return -1, fmt.Errorf("%s: %q on the way is a link or not a directory, which root does not follow there (%v); use a real directory for state_dir", path, c, lerr)
			}
			links++
			if filepath.IsAbs(target) {
				unix.Close(fd)
				if fd, err = unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
					return -1, err
				}
			}
			todo = append(components(target), todo...)
			continue
		}
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("opening %s: %w", path, err)
		}
		fd = nfd
	}
	return fd, nil
}

// trustedLink reads the link name in dirfd if root owns it and the
// directory holding it, and nobody else may write there.
func trustedLink(dirfd int, name string) (string, error) {
	var dst, lst unix.Stat_t
	if err := unix.Fstat(dirfd, &dst); err != nil {
		return "", err
	}
	if err := unix.Fstatat(dirfd, name, &lst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return "", err
	}
	if lst.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", errors.New("not a directory")
	}
	if lst.Uid != 0 || dst.Uid != 0 || dst.Mode&0o022 != 0 {
		return "", errors.New("a link not owned by root, or in a directory others may write")
	}
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// CreateSecretAsRoot makes sure secrets/<name> exists for a: the secrets
// directory and the file are opened without following links, created if
// missing (mode 0700 and 0600, a's), and an existing file is checked, not
// read: it must be a's regular file and nobody else's to read. data is
// called only to create it. For setup, which runs as root and must not
// read or chown through paths the service user controls.
func CreateSecretAsRoot(root, name string, a account.Account, data func() ([]byte, error)) (created bool, err error) {
	state, err := OpenDir(root, false)
	if err != nil {
		return false, err
	}
	defer unix.Close(state)
	secrets := filepath.Join(root, "secrets")
	if err := unix.Mkdirat(state, "secrets", uint32(DirMode)); err != nil && !errors.Is(err, unix.EEXIST) {
		return false, fmt.Errorf("creating %s: %w", secrets, err)
	}
	dir, err := unix.Openat(state, "secrets", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("%s: %w (a link or not a directory: remove it)", secrets, err)
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		return false, err
	}
	if st.Uid == 0 {
		if err := unix.Fchown(dir, a.UID, a.GID); err != nil {
			return false, fmt.Errorf("handing %s to %s: %w", secrets, a, err)
		}
	} else if int(st.Uid) != a.UID {
		return false, fmt.Errorf("%s belongs to uid %d, not the service user %s", secrets, st.Uid, a)
	}
	if err := unix.Fchmod(dir, uint32(DirMode)); err != nil {
		return false, err
	}
	path := filepath.Join(secrets, name)
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == nil {
		defer unix.Close(fd)
		if err := unix.Fstat(fd, &st); err != nil {
			return false, err
		}
		switch {
		case st.Mode&unix.S_IFMT != unix.S_IFREG:
			return false, fmt.Errorf("%s is not a regular file: remove it and run this again", path)
		case int(st.Uid) != a.UID && st.Uid != 0:
			return false, fmt.Errorf("%s belongs to uid %d, not the service user %s: remove it and run this again", path, st.Uid, a)
		case st.Mode&0o077 != 0:
			return false, fmt.Errorf("%s is mode %04o, readable by others: remove it (the secret may have leaked) and run this again", path, st.Mode&0o777)
		}
		if st.Uid == 0 && st.Nlink == 1 {
			if err := unix.Fchown(fd, a.UID, a.GID); err != nil {
				return false, fmt.Errorf("handing %s to %s: %w", path, a, err)
			}
		}
		return false, nil
	}
	if errors.Is(err, unix.ELOOP) {
		return false, fmt.Errorf("%s is a symlink: remove it and run this again", path)
	}
	if !errors.Is(err, unix.ENOENT) {
		return false, fmt.Errorf("opening %s: %w", path, err)
	}
	b, err := data()
	if err != nil {
		return false, err
	}
	// A temporary name, renamed into place once whole and a's: the daemon
	// never reads a half-written or root-owned secret.
	tmp := "." + name + ".tmp"
	_ = unix.Unlinkat(dir, tmp, 0)
	fd, err = unix.Openat(dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false, fmt.Errorf("creating %s: %w", path, err)
	}
	_, werr := unix.Write(fd, b)
	if werr == nil {
		werr = unix.Fchown(fd, a.UID, a.GID)
	}
	if werr == nil {
		werr = unix.Fsync(fd)
	}
	unix.Close(fd)
	if werr == nil {
		werr = unix.Renameat(dir, tmp, dir, name)
	}
	if werr != nil {
		_ = unix.Unlinkat(dir, tmp, 0)
		return false, fmt.Errorf("writing %s: %w", path, werr)
	}
	return true, unix.Fsync(dir)
}
