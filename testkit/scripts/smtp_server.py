#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd): listens on 127.0.0.1:PORT and writes
each message it receives, as received, to DIR/<n>.eml (written whole, then renamed, so
a reader never sees half a message). Prints "ready" once it listens.

Usage: smtp_server.py PORT DIR
"""
import asyncio
import itertools
import os
import sys

from aiosmtpd.controller import Controller

port, folder = int(sys.argv[1]), sys.argv[2]
os.makedirs(folder, exist_ok=True)
numbers = itertools.count(1)


class Save:
    async def handle_DATA(self, server, session, envelope):
        n = next(numbers)
        tmp = os.path.join(folder, f".{n}.tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.content)
        os.rename(tmp, os.path.join(folder, f"{n:06d}.eml"))
        return "250 OK"


controller = Controller(Save(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
try:
    asyncio.new_event_loop().run_forever()
finally:
    controller.stop()
