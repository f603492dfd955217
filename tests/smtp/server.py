"""A real SMTP server for fastusers' mailer tests: aiosmtpd (from PyPI), listening on loopback.

Each message it accepts is written to DIR as one JSON file: the envelope, the headers, the
plain-text and HTML parts (decoded), whether the session was encrypted and who logged in.
Prints "READY" once it accepts connections; stops on SIGTERM.

    python server.py --port PORT --dir DIR [--starttls CERT KEY | --implicit-tls CERT KEY]
                     [--auth USER:PASSWORD] [--slow RECIPIENT SECONDS]
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import signal
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, directory, slow):
        self.directory = directory
        self.slow = slow

    async def handle_DATA(self, server, session, envelope):
        if self.slow and self.slow[0] in envelope.rcpt_tos:
            await asyncio.sleep(float(self.slow[1]))
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        login = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": login,
        }
        name = f"{time.time_ns()}-{os.getpid()}"
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.directory, name + ".json"))
        return "250 Message accepted"


def main():
    # aiosmtpd logs a warning about its own use of a deprecated attribute at each login.
    logging.getLogger("mail.log").addFilter(
        lambda record: "login_data is deprecated" not in record.getMessage()
    )
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth")
    p.add_argument("--slow", nargs=2, metavar=("RECIPIENT", "SECONDS"))
    args = p.parse_args()

    kwargs = {}
    pair = args.starttls or args.implicit_tls
    if pair:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*pair)
        if args.starttls:
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            # aiosmtpd counts only STARTTLS as TLS here; an implicit-TLS session is encrypted
            # from the first byte anyway.
            auth_require_tls=bool(args.starttls),
        )

    controller = Controller(
        Store(args.dir, args.slow), hostname="127.0.0.1", port=args.port, **kwargs
    )
    controller.start()
    print("READY", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
