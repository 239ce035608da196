package clikit

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Lookup finds an environment variable: its value and whether it is set.
type Lookup func(name string) (string, bool)

// Environ looks names up in environ (os.Environ's form); the last entry of a
// name wins, as in the shell.
func Environ(environ []string) Lookup {
	return func(name string) (string, bool) {
		for i := len(environ) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(environ[i], name+"="); ok {
				return v, true
			}
		}
		return "", false
	}
}

// Getenv looks names up with a getenv function (os.Getenv's form): an empty
// value counts as unset.
func Getenv(getenv func(string) string) Lookup {
	return func(name string) (string, bool) {
		v := getenv(name)
		return v, v != ""
	}
}

// MaxFileSize bounds what ReadSmallFile reads: a secret, a URL or a
// template, not a data set.
const MaxFileSize = 1 << 20

// ReadSmallFile reads a file that holds a setting (a secret, a URL list, a
// template), refusing what clearly is not one: a directory, megabytes.
func ReadSmallFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err // *fs.PathError: it names the file
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than 1 MiB", name)
	}
	return b, nil
}

// ReadSecretFile reads a secret from a file, without the line break(s) it
// was written with.
func ReadSecretFile(name string) (string, error) {
	b, err := ReadSmallFile(name)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Secret reads the secret variable name, or the file its NAME_FILE variant
// names (Docker and Kubernetes secrets). from is the variable it came from
// ("" when neither is set); both set is a usage error.
func Secret(lookup Lookup, name string) (value, from string, err error) {
	v, _ := lookup(name)
	file, _ := lookup(name + "_FILE")
	switch {
	case file == "":
		if v == "" {
			return "", "", nil
		}
		return v, name, nil
	case v != "":
		return "", "", Usagef("%s and %s_FILE: give one of them", name, name)
	}
	s, err := ReadSecretFile(file)
	if err != nil {
		return "", "", Usagef("%s_FILE: %v", name, err)
	}
	return s, name + "_FILE", nil
}
