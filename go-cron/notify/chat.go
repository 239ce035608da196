package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/discord"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/googlechat"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/mattermost"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/slack"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/teams"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/telegram"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/incident/pagerduty"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/push/ntfy"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/push/pushover"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// Chat and push services go through shoutrrr (github.com/nicholas-fedor/
// shoutrrr), service by service rather than through its router: the router
// links every service, and its smtp and generic services run text/template,
// which makes the linker keep every exported method in the binary (+5.9 MB
// measured for the router, +5.2 MB for smtp alone). Here shoutrrr's common
// code costs about 0.2 MB and each service what it adds to the stripped
// multicall binary (measured by leaving it out): telegram 80 KB, discord
// 60 KB, pagerduty, slack and teams 20 KB each, ntfy 16 KB, mattermost
// 12 KB, pushover 8 KB, googlechat 4 KB. Mail has a sender of its own
// (mail.go).

// ServiceSchemes are the URL schemes accepted besides smtp.
var ServiceSchemes = []string{
	"discord", "googlechat", "mattermost", "ntfy", "pagerduty", "pushover",
	"slack", "teams", "telegram",
}

// shoutrrrService is what we use of a shoutrrr service.
type shoutrrrService interface {
	Initialize(u *url.URL, logger types.StdLogger) error
	Send(message string, params *types.Params) error
}

// newShoutrrr returns the service for scheme and whether it takes a title.
func newShoutrrr(scheme string) (shoutrrrService, bool) {
	switch scheme {
	case "discord":
		return &discord.Service{}, true
	case "googlechat":
		return &googlechat.Service{}, false
	case "mattermost":
		return &mattermost.Service{}, true
	case "ntfy":
		return &ntfy.Service{}, true
	case "pagerduty":
		return &pagerduty.Service{}, false
	case "pushover":
		return &pushover.Service{}, true
	case "slack":
		return &slack.Service{}, true
	case "teams":
		return &teams.Service{}, true
	case "telegram":
		return &telegram.Service{}, true
	}
	return nil, false
}

// newService builds the destination of a service URL: smtp:// or one of
// ServiceSchemes. It returns the channel's kind (the scheme).
func newService(raw string) (destination, string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return nil, "", fmt.Errorf("%s: not a URL", Display(raw))
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "smtp" {
		m, err := newMailer(u)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", Display(raw), err)
		}
		return m, scheme, nil
	}
	svc, title := newShoutrrr(scheme)
	if svc == nil {
		return nil, "", fmt.Errorf("%s: unknown service %q (known: smtp, %s; for anything else use the webhook)", Display(raw), u.Scheme, strings.Join(ServiceSchemes, ", "))
	}
	c := &chat{svc: svc, scheme: scheme, title: title && !u.Query().Has("title")}
	// Check the URL now (shoutrrr reads it into the service's config),
	// with a logger that drops what it says: setup gives the real one.
	if err := svc.Initialize(u, nil); err != nil {
		return nil, "", fmt.Errorf("%s: %s", Display(raw), scrub(err.Error(), raw))
	}
	c.url = u
	return c, scheme, nil
}

// scrub removes raw's secret parts from a message about it.
func scrub(msg, raw string) string {
	for _, p := range secretParts(raw) {
		if len(p) >= 4 {
			msg = strings.ReplaceAll(msg, p, "***")
		}
	}
	return msg
}

// chat sends through a shoutrrr service. shoutrrr's Send takes no context
// and some services use an HTTP client without a deadline, so a send runs
// in a goroutine of its own: when the attempt's deadline passes, it is
// abandoned, and the next attempt first waits (within its own deadline) for
// it to return. A receiver that hangs for ever so costs one goroutine, not
// one per message.
type chat struct {
	svc    shoutrrrService
	scheme string
	title  bool // pass the first line as the title
	url    *url.URL
	busy   chan struct{} // the abandoned send's; closed when it returns
}

func (c *chat) setup(env setupEnv) {
	// The service was initialised to check the URL; again with the logger.
	c.svc.Initialize(c.url, stdLogger{env.log.With("channel", c.scheme)}) //nolint:errcheck // checked in newService
}

func (c *chat) send(ctx context.Context, m *message) error {
	if c.busy != nil {
		select {
		case <-c.busy:
			c.busy = nil
		case <-ctx.Done():
			return errors.New("the previous message's send is still hanging (the receiver does not answer)")
		}
	}
	text, params := m.text, (*types.Params)(nil)
	if c.title && m.body != "" {
		text = m.body
		params = &types.Params{types.TitleKey: m.title}
	}
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%s service panicked: %v", c.scheme, p)
			}
		}()
		err = c.svc.Send(text, params)
	}()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		c.busy = done
		return fmt.Errorf("no answer: %w", ctx.Err())
	}
}

// stdLogger is shoutrrr's logger on slog, at debug level.
type stdLogger struct{ log *slog.Logger }

func (l stdLogger) Print(v ...any) { l.log.Debug(strings.TrimSpace(fmt.Sprint(v...))) }
func (l stdLogger) Printf(format string, v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
func (l stdLogger) Println(v ...any) { l.log.Debug(strings.TrimSpace(fmt.Sprintln(v...))) }
