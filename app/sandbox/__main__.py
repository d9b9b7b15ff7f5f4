"""``python -m app.sandbox``: run the platform sandbox (same options as ``postmeter sandbox``)."""

from __future__ import annotations

import argparse
import socket
import sys

from app.sandbox.ports import PortUnavailable
from app.sandbox.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--seed", choices=["demo"], default=None)
    parser.add_argument("--state-file", default=None)
    parser.add_argument("--clock-speed", type=float, default=1.0)
    parser.add_argument("--quiet", action="store_true")
    # A listening socket inherited from the parent (`postmeter demo` binds before it spawns).
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        serve(
            args.host,
            args.port,
            seed=args.seed,
            state_file=args.state_file,
            clock_speed=args.clock_speed,
            quiet=args.quiet,
            sock=socket.socket(fileno=args.fd) if args.fd is not None else None,
        )
    except PortUnavailable as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        # Ctrl-C (the whole foreground group gets it, under `postmeter demo` too): uvicorn
        # has shut down by now and re-raises the signal; end as Ctrl-C does, without a
        # traceback.
        sys.exit(130)


if __name__ == "__main__":
    main()
