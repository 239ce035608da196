package codec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"filippo.io/age"
)

// ParseRecipients reads age X25519 recipients (age1...) from a list separated by commas, spaces or newlines;
// "#" comments run to the end of a line, as in age's recipients files. An
// error names the entry that is wrong (a recipient is public: it may be
// shown).
func ParseRecipients(list string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for _, line := range strings.Split(list, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			r, err := parseRecipient(f)
			if err != nil {
				return nil, err
			}
			rs = append(rs, r)
		}
	}
	return rs, nil
}

func parseRecipient(s string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		// Left out: stock age before 1.3 (Debian's 1.1) cannot open them,
		// and they cost the image 60 KB.
		return nil, fmt.Errorf("recipient %q: post-quantum age recipients are not supported; use an X25519 one (age-keygen)", short(s))
	case strings.HasPrefix(s, "age1"):
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %v", s, err)
		}
		return r, nil
	case strings.HasPrefix(s, "AGE-SECRET-KEY-"):
		// Never echo a private key.
		return nil, errors.New("a recipient is an age public key (age1...); this is a private key (AGE-SECRET-KEY-...): give its public half (age-keygen -y)")
	case strings.HasPrefix(s, "ssh-"):
		return nil, fmt.Errorf("recipient %q: SSH keys are not supported; use an age key (age-keygen)", short(s))
	}
	return nil, fmt.Errorf("recipient %q: not an age public key (age1...)", short(s))
}

func short(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// ReadRecipientsFile reads an age recipients file (one per line, # comments).
func ReadRecipientsFile(path string) ([]age.Recipient, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rs, err := ParseRecipients(string(b))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errors.New("no recipient in the file")
	}
	return rs, nil
}

// ParseIdentities reads age identities (AGE-SECRET-KEY-1...), one per line,
// "#" comments allowed. Errors never quote the text: it is secret.
func ParseIdentities(text string) ([]age.Identity, error) {
	var ids []age.Identity
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := age.ParseX25519Identity(line)
		if err != nil {
			return nil, fmt.Errorf("not an age identity file: %v", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// ReadSecretFile reads a file holding a secret (an identity, a passphrase)
// and says, in warning, when others than its owner may read it. A missing or
// unreadable file is an error.
func ReadSecretFile(path string) (content string, warning string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", "", err
	}
	if !st.Mode().IsRegular() {
		return "", "", fmt.Errorf("%s: not a regular file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		warning = fmt.Sprintf("%s is readable by others (mode %04o): chmod 600 it", path, perm)
		if perm&0o004 != 0 {
			warning = fmt.Sprintf("%s is world-readable (mode %04o): chmod 600 it", path, perm)
		}
	}
	return string(b), warning, nil
}

// ReadIdentityFile reads an age identity file, with ReadSecretFile's warning.
func ReadIdentityFile(path string) ([]age.Identity, string, error) {
	text, warn, err := ReadSecretFile(path)
	if err != nil {
		return nil, "", err
	}
	ids, err := ParseIdentities(text)
	return ids, warn, err
}

// Passphrase turns a passphrase (trailing newline dropped, as a secret file
// has one) into the scrypt recipient that encrypts with it and the identity
// that decrypts with it. age's default work factor (2^18) is kept, so stock
// `age -d` opens it; scrypt then needs about 256 MiB for about a second.
func Passphrase(p string) (age.Recipient, age.Identity, error) {
	p = strings.TrimRight(p, "\r\n")
	if p == "" {
		return nil, nil, errors.New("empty passphrase")
	}
	r, err := age.NewScryptRecipient(p)
	if err != nil {
		return nil, nil, err
	}
	id, err := age.NewScryptIdentity(p)
	if err != nil {
		return nil, nil, err
	}
	return r, id, nil
}

// IsNotExist reports whether err says a file is missing.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
