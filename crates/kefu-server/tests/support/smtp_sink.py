"""A real SMTP server for the tests (aiosmtpd): accepts every message and
writes it, decoded, as one JSON file per message into the output
directory. Prints the port it listens on, then serves until killed.

    python3 smtp_sink.py OUT_DIR
"""
import email
import email.policy
import json
import os
import socket
import sys
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "body": body.get_content() if body is not None else "",
            "message_id": str(msg["Message-ID"] or ""),
            "in_reply_to": str(msg["In-Reply-To"] or ""),
            "references": str(msg["References"] or ""),
        }
        tmp = os.path.join(self.out, f".{uuid.uuid4().hex}")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.replace(tmp, os.path.join(self.out, f"{uuid.uuid4().hex}.json"))
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    port = free_port()
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    try:
        # Serves until the test closes our stdin (or kills us).
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
