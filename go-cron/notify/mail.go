package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
)

// mailer sends each event as a plain-text mail over SMTP (net/smtp). Both
// shoutrrr modules have an smtp service, but it runs text/template, which
// costs 5.2 MB in the image's binary (measured); this sender costs 29 KB.
// Its URL follows shoutrrr's smtp URL, so the same URL works in either:
//
//	smtp://[user[:password]@]host[:port]/?from=ADDR&to=ADDR[,ADDR]
//	  [&fromname=NAME][&subject=TEXT][&encryption=auto|none|explicittls|implicittls]
//	  [&auth=plain|crammd5|none][&usestarttls=yes|no][&clienthost=NAME]
type mailer struct {
	addr, host string
	from       string
	fromName   string
	to         []string
	subject    string // "" the message's first line
	encryption string
	startTLS   bool
	auth       smtp.Auth
	clientHost string
}

func newMailer(u *url.URL) (*mailer, error) {
	m := &mailer{host: u.Hostname(), encryption: "auto", startTLS: true, clientHost: "localhost"}
	if m.host == "" {
		return nil, errors.New("no mail server host")
	}
	port := u.Port()
	authName := ""
	q := u.Query()
	for _, key := range slices.Sorted(maps.Keys(q)) {
		v := q[key][len(q[key])-1]
		switch strings.ToLower(key) {
		case "from", "fromaddress":
			m.from = v
		case "fromname":
			m.fromName = v
		case "to", "toaddresses":
			for a := range strings.SplitSeq(v, ",") {
				if a = strings.TrimSpace(a); a != "" {
					m.to = append(m.to, a)
				}
			}
		case "subject", "title":
			m.subject = v
		case "encryption":
			m.encryption = strings.ToLower(v)
		case "auth":
			authName = strings.ToLower(v)
		case "usestarttls":
			b, err := yesNo(v)
			if err != nil {
				return nil, fmt.Errorf("usestarttls=%s: %w", v, err)
			}
			m.startTLS = b
		case "clienthost":
			m.clientHost = v
		default:
			return nil, fmt.Errorf("unknown parameter %q (known: from, fromname, to, subject, encryption, auth, usestarttls, clienthost)", key)
		}
	}
	switch m.encryption {
	case "auto", "none", "explicittls":
	case "implicittls":
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("encryption=%s: want auto, none, explicittls or implicittls", m.encryption)
	}
	if port == "" {
		port = "25"
	}
	m.addr = net.JoinHostPort(m.host, port)
	if m.from == "" {
		return nil, errors.New("no sender: add ?from=address")
	}
	if !isAddress(m.from) {
		return nil, fmt.Errorf("from=%s: not an address (want name@domain)", m.from)
	}
	if len(m.to) == 0 {
		return nil, errNoRecipient
	}
	for _, a := range m.to {
		if !isAddress(a) {
			return nil, fmt.Errorf("to=%s: not an address (want name@domain)", a)
		}
	}
	user, pass := "", ""
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	if authName == "" {
		authName = "none"
		if user != "" {
			authName = "plain"
		}
	}
	switch authName {
	case "none":
	case "plain":
		if user == "" {
			return nil, errors.New("auth=plain without a user: give smtp://user:password@host")
		}
		// net/smtp sends a plain password only over TLS or to localhost.
		m.auth = smtp.PlainAuth("", user, pass, m.host)
	case "crammd5":
		m.auth = smtp.CRAMMD5Auth(user, pass)
	default:
		return nil, fmt.Errorf("auth=%s: want plain, crammd5 or none", authName)
	}
	return m, nil
}

// isAddress accepts a bare address, local@domain, without the characters
// that would break a header or an SMTP command (net/mail would cost 25 KB
// for the full RFC 5322 syntax nobody puts in a URL).
func isAddress(a string) bool {
	local, domain, ok := strings.Cut(a, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(a, " \t\r\n<>,;:\"()[]\\") && !strings.Contains(domain, "@")
}

func yesNo(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "1":
		return true, nil
	case "no", "false", "0":
		return false, nil
	}
	return false, errors.New("want yes or no")
}

func (m *mailer) setup(setupEnv) {}

func (m *mailer) send(ctx context.Context, msg *message) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", m.addr, err)
	}
	// The whole conversation has the attempt's deadline: a server that
	// stops answering cannot hold the sender.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl) //nolint:errcheck // a closed conn fails the next step
	}
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	tlsConf := &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}
	if m.encryption == "implicittls" {
		conn = tls.Client(conn, tlsConf)
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		conn.Close()
		return smtpErr("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(m.clientHost); err != nil {
		return smtpErr("HELO", err)
	}
	if m.encryption == "explicittls" || m.encryption == "auto" && m.startTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConf); err != nil {
				return smtpErr("STARTTLS", err)
			}
		} else if m.encryption == "explicittls" {
			return permanent{fmt.Errorf("%s offers no STARTTLS (encryption=explicittls)", m.addr)}
		}
	}
	if m.auth != nil {
		if err := c.Auth(m.auth); err != nil {
			return smtpErr("AUTH", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return smtpErr("MAIL FROM", err)
	}
	for _, to := range m.to {
		if err := c.Rcpt(to); err != nil {
			return smtpErr("RCPT TO "+to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr("DATA", err)
	}
	if _, err := w.Write(m.compose(msg)); err != nil {
		return smtpErr("DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpErr("end of DATA", err)
	}
	c.Quit() //nolint:errcheck // the mail is accepted
	return nil
}

// smtpErr names the step; a 5xx answer is permanent.
func smtpErr(step string, err error) error {
	err = fmt.Errorf("smtp %s: %w", step, err)
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent{err}
	}
	return err
}

// compose writes the mail: headers, then the message as quoted-printable
// UTF-8 text.
func (m *mailer) compose(msg *message) []byte {
	subject := m.subject
	if subject == "" {
		subject = msg.title
	}
	subject = strings.NewReplacer("\r", " ", "\n", " ").Replace(subject)
	from := "<" + m.from + ">"
	if m.fromName != "" {
		name := strings.NewReplacer("\r", " ", "\n", " ").Replace(m.fromName)
		if enc := mime.QEncoding.Encode("utf-8", name); enc != name {
			name = enc
		} else {
			name = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
		}
		from = name + " " + from
	}
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", strings.Join(m.to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", time.Now().Format(time.RFC1123Z))
	h("Message-ID", "<"+newRID()+"@cronbox>")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("X-Cronbox-Event", string(msg.event))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(msg.text, "\n", "\r\n"))) //nolint:errcheck // a bytes.Buffer
	qp.Close()                                                   //nolint:errcheck
	b.WriteString("\r\n")
	return b.Bytes()
}
