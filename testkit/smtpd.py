"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port.

Each accepted mail is written to DIR as N.json (envelope and raw content);
with --user and --password it requires AUTH (PLAIN/LOGIN) without TLS, as a
local relay would. It prints "listening PORT" once it accepts connections
and runs until killed. testkit.SMTP (smtp.go) starts it.
"""
import argparse
import asyncio
import json
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": session.auth_data or "",
            "content": envelope.original_content.decode("utf-8", "replace"),
        }
        tmp = os.path.join(self.directory, "%d.tmp" % self.count)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.directory, "%d.json" % self.count))
        return "250 OK"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args()
    handler = Handler(args.dir)

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and data.login.decode() == args.user and data.password.decode() == args.password
        return AuthResult(success=ok, handled=False, auth_data=data.login.decode() if ok else None)

    kwargs = {}
    if args.user:
        kwargs = dict(auth_required=True, auth_require_tls=False, authenticator=authenticator)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(handler, hostname="smtp.test", **kwargs), "127.0.0.1", 0)
        print("listening %d" % server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
