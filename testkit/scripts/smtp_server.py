#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd): listens on 127.0.0.1 at a port the
system picks and writes each message it receives, as received, to DIR/<n>.eml (written
whole, then renamed, so a reader never sees half a message). Prints "ready PORT" once
it listens: the port is bound here and never released, so no other process can take it.

Usage: smtp_server.py DIR
"""
import asyncio
import itertools
import os
import sys

from aiosmtpd.smtp import SMTP

folder = sys.argv[1]
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


async def main():
    loop = asyncio.get_running_loop()
    # What aiosmtpd's Controller does, on port 0 (it would probe the port it was given).
    server = await loop.create_server(lambda: SMTP(Save()), host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    await server.serve_forever()


asyncio.run(main())
