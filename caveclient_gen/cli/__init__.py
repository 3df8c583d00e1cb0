"""The `caveclient-gen` command: a guided tour of the client, a local CAVE deployment to serve, and
tokens from the shell (setup-token, token --check) and exports of whole tables to Parquet."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="caveclient-gen",
        description="A typed, fast client for the CAVE connectomics services.",
    )
    parser.add_argument("--version", action="version", version=f"caveclient_gen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="walk through the client step by step (on a local CAVE deployment by default)",
        description="Walk through the client step by step, printing each call and its result. "
        "Without --server it starts LocalCAVE on 127.0.0.1 and uses a temporary home directory, "
        "so nothing is written to your own token files.",
    )
    demo.add_argument("--server", metavar="URL", help="a real CAVE deployment's global server")
    demo.add_argument("--datastack", metavar="NAME", help="the datastack to tour (with --server)")
    demo.add_argument("--seed", type=int, default=0, help="LocalCAVE's data seed (default 0)")

    serve = commands.add_parser(
        "serve",
        help="run LocalCAVE in the foreground until Ctrl-C",
        description="Serve every CAVE service on 127.0.0.1, with synthetic data.",
    )
    serve.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    serve.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    serve.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds added to every request, to model a real network",
    )
    serve.add_argument(
        "--idealised",
        action="append",
        default=[],
        metavar="NAME",
        help="answer a measured server fault the idealised way (repeatable; 'all' for every one), "
        "e.g. l2_attributes, contact_sites, exclusion_filters",
    )

    setup = commands.add_parser(
        "setup-token",
        help="get a token from a CAVE server's token page, check it and save it",
        description="Open the server's token page in a browser, read the token you paste (it is not "
        "shown), check that the server accepts it, and save it in the files caveclient, CloudVolume "
        "and this client read (~/.cloudvolume/secrets/, mode 0600).",
    )
    setup.add_argument(
        "server",
        nargs="?",
        metavar="SERVER",
        help="the global server's address (default: the public CAVE server)",
    )
    setup.add_argument(
        "--overwrite", action="store_true", help="replace a different token that is already saved"
    )
    setup.add_argument(
        "--no-open", action="store_true", help="print the token page's address, do not open a browser"
    )

    token = commands.add_parser(
        "token",
        help="say which token is used and what it may access (never printing it)",
        description="Say which token the client would use and where it came from, whether the server "
        "accepts it, whose it is, its groups, its permissions per dataset and the datastacks it may "
        "view. The token itself is never printed.",
    )
    token.add_argument(
        "--check", action="store_true", required=True, help="check the token against the server"
    )
    token.add_argument("--server", metavar="URL", help="the global server (default: the public one)")
    token.add_argument("--datastack", metavar="NAME", help="also say whether it may view this datastack")

    from .export import add_parser as add_export_parser

    add_export_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "demo":
        if bool(args.server) != bool(args.datastack):
            parser.error("--server and --datastack go together")
        from .demo import run_demo

        return run_demo(server=args.server, datastack=args.datastack, seed=args.seed)
    if args.command == "serve":
        from ..testing import serve as serve_local

        idealised: bool | list[str] = "all" in args.idealised or list(args.idealised)
        serve_local(port=args.port, seed=args.seed, latency=args.latency, idealised=idealised)
        return 0
    if args.command == "setup-token":
        from .token import setup_token, stdout

        return setup_token(
            args.server, overwrite=args.overwrite, open_browser=not args.no_open, out=stdout()
        )
    if args.command == "token":
        from .token import check_token, stdout

        return check_token(args.server, args.datastack, out=stdout())
    if args.command == "export":
        from .export import run_export

        return run_export(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
