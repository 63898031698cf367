package gguf

import (
	"errors"
	"fmt"
	"os"
)

// fileSize returns the size of an opened regular file, rejecting
// directories, devices and empty files with an error naming path.
func fileSize(fh *os.File, path string) (int64, error) {
	st, err := fh.Stat()
	if err != nil {
		return 0, fmt.Errorf("gguf: %w", err)
	}
	if st.IsDir() {
		return 0, &FormatError{Path: path, Msg: "is a directory, not a GGUF file"}
	}
	if !st.Mode().IsRegular() {
		return 0, &FormatError{Path: path, Msg: fmt.Sprintf("not a regular file (mode %v)", st.Mode())}
	}
	if st.Size() == 0 {
		return 0, &FormatError{Path: path, Msg: "empty file: not a GGUF file"}
	}
	return st.Size(), nil
}

// withPath adds path to a FormatError from Parse.
func withPath(err error, path string) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		fe.Path = path
		return fe
	}
	return fmt.Errorf("gguf: %s: %w", path, err)
}
