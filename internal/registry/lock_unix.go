//go:build unix

package registry

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an exclusive advisory lock on path without waiting. The
// kernel drops the lock when the process dies, so a crashed pull never
// leaves a stale lock behind. The lock file is removed on unlock; a locker
// that finds its file was replaced in the meantime tries again.
func tryLock(path string) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	// The holder before us may have removed the file after we opened it:
	// then our lock is on a file nobody else will see.
	held, err1 := f.Stat()
	now, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		f.Close()
		return nil, false, nil
	}
	return f, true, nil
}

func unlockFile(f *os.File, path string) {
	os.Remove(path)
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}
