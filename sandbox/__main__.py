"""`python -m sandbox serve|stores|truth|export-catalog`: the sandbox from the command line."""

import argparse
import json
import sys
from datetime import date
from typing import NoReturn

from sandbox import export
from sandbox.server import SandboxServer, build_world, handed_over

FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Demo Shopify stores and Meta ad accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in [("serve", "serve the APIs over HTTP"), ("stores", "print what an admin is handed, as JSON"),
                       ("truth", "print a shop's expected daily figures as JSON"),
                       ("export-catalog", "write a shop's catalog as a Shopify product CSV")]:
        command = commands.add_parser(name, help=text)
        command.add_argument("--stores", type=int, default=3)
        command.add_argument("--seed", type=int, default=1)
        if name == "serve":
            command.add_argument("--port", type=int, default=8081)
            command.add_argument("--host", default="127.0.0.1")
        if name in ("truth", "export-catalog"):
            command.add_argument("--shop", required=True)
        if name == "truth":
            command.add_argument("--start", required=True)
            command.add_argument("--end", required=True)
    args = parser.parse_args(argv)
    if args.command == "truth":
        args.start, args.end = _day(args.start, "--start"), _day(args.end, "--end")
        if args.start > args.end:
            _fail(f"--start {args.start} is after --end {args.end}")
    world = build_world(stores=args.stores, seed=args.seed)
    if args.command == "stores":
        json.dump(handed_over(world), sys.stdout, indent=2)
        print()
    elif args.command == "serve":
        server = SandboxServer(world, host=args.host, port=args.port)
        print(f"sandbox on {server.base_url} (Ctrl-C stops it)", flush=True)
        server.start()
        try:
            while not server.stopping.wait(1):
                pass
        except KeyboardInterrupt:
            server.stop()
    else:
        store = world.store(args.shop)
        if store is None:
            parser.error(f"no shop {args.shop}; see `python -m sandbox stores`")
        if args.command == "truth":
            json.dump(world.truth(args.shop, args.start, args.end), sys.stdout, indent=2)
            print()
        else:
            export.catalog_csv(store, sys.stdout)


def _day(value: str, option: str) -> date:
    """A date the truth can walk over (its day arithmetic overflows near years 1 and 9999), or exit 2."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date (YYYY-MM-DD)")
    if not FIRST_DAY <= day <= LAST_DAY:
        _fail(f"{option} {day} is outside {FIRST_DAY} to {LAST_DAY}")
    return day


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
