"""``globalfit cache info|clear``: the on-disk cache of precomputations.

``info`` prints the cache folder (``GLOBALFIT_CACHE_DIR`` or the user's cache directory), its
entries and their sizes. ``clear`` deletes the entries and left-over temporary files written
by this tool (recognised by their names) and nothing else; they are rebuilt when needed.
Exit status 0, or 2 with one line on stderr when the folder cannot be read or written.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="globalfit cache",
                                     description="Inspect or clear the on-disk cache.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="action")
    sub.add_parser("info", help="cache folder, entries and sizes")
    sub.add_parser("clear", help="delete the cache entries written by this tool")
    return parser


def _size(n_bytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.1f} GB"  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``globalfit cache``; returns the exit status."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from likelihoods._cache import entries

    from .paths import cache_root
    folder = cache_root()
    try:
        files = entries(folder)
        if args.action == "info":
            total = 0
            print(f"cache folder: {folder}{'' if folder.is_dir() else ' (not created yet)'}")
            for path in files:
                st = path.stat()
                total += st.st_size
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(st.st_mtime))
                print(f"  {path.name}  {_size(st.st_size)}  {when}")
            print(f"{len(files)} entr{'y' if len(files) == 1 else 'ies'}, {_size(total)}")
            return 0
        for path in files:
            path.unlink(missing_ok=True)
        print(f"removed {len(files)} entr{'y' if len(files) == 1 else 'ies'} from {folder}")
        return 0
    except OSError as exc:
        print(f"{exc.filename or folder}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m globalfit.cachecmd
    sys.exit(main())
