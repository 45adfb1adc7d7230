"""The one safe YAML reader of the package (configs and YAML data files).

Every YAML file the tool reads goes through :func:`load_yaml`, which refuses, with one line
naming the file (and the line or byte offset where it helps):

* anything that is not a regular file (a directory, ``/dev/zero``, a FIFO, a socket), checked
  with ``os.stat`` *before* opening, and opened with ``O_NONBLOCK`` so that a FIFO swapped in
  afterwards cannot block the open;
* files larger than :data:`MAX_BYTES` (read with a bounded read, so a file that grows while
  being read cannot exhaust memory either);
* bytes that are not UTF-8 (a leading UTF-8 byte-order mark is allowed and dropped), and NUL
  bytes;
* anchors and aliases (``&a`` / ``*a``): the only way a small YAML file expands into a huge
  document (the "billion laughs" alias bomb), and never needed in a config;
* duplicate keys in a mapping (PyYAML silently keeps the last one): the line of the second
  occurrence is named;
* YAML syntax errors (with their line).

Only the ``SafeLoader`` constructors are used: no tag can build a Python object.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Type

import yaml

from .errors import ConfigError, GlobalFitError
from .options import short_repr

#: largest YAML file accepted (bytes); configs and data-set files are a few kB
MAX_BYTES: int = 1 << 20


def read_bounded(path: Path, display: str, error: Type[GlobalFitError] = ConfigError,
                 max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``); ``error`` naming
    ``display`` if it is missing, not a regular file, unreadable or too large."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{display}: file not found") from None
    except OSError as exc:
        raise error(f"{display}: cannot read ({exc.strerror or type(exc).__name__})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a special file"
        raise error(f"{display}: not a regular file ({kind})")
    if info.st_size > max_bytes:
        raise error(f"{display}: file too large ({info.st_size} bytes; at most {max_bytes})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise error(f"{display}: cannot read ({exc.strerror or type(exc).__name__})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):       # replaced between stat and open
            raise error(f"{display}: not a regular file")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(65536, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise error(f"{display}: file too large (more than {max_bytes} bytes)")
    except OSError as exc:
        raise error(f"{display}: cannot read ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode_utf8(data: bytes, display: str, error: Type[GlobalFitError] = ConfigError) -> str:
    """Strict UTF-8 text of ``data`` (BOM dropped); ``error`` naming the byte offset of the
    first bad byte or NUL."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise error(f"{display}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                    f"{exc.start})") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise error(f"{display}: NUL byte at offset {nul}")
    return text


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases and without duplicate mapping keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
            raise yaml.MarkedYAMLError(
                problem=f"YAML {kind}s (&name / *name) are not allowed",
                problem_mark=event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise yaml.MarkedYAMLError(problem="merge keys (<<) are not allowed",
                                               problem_mark=key_node.start_mark)
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:        # unhashable key: SafeConstructor reports it
                    continue
                if first is not None:
                    raise yaml.MarkedYAMLError(
                        problem=f"duplicate key {short_repr(key)} (first on line {first})",
                        problem_mark=key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, display: str, error: Type[GlobalFitError] = ConfigError) -> Any:
    """``text`` parsed with the strict safe loader; ``error`` naming ``display`` and the
    line on a syntax error, an alias/anchor or a duplicate key."""
    try:
        return yaml.load(text, Loader=_StrictLoader)   # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise error(f"{display}: {where}{' '.join(str(problem).split())}") from None
    except RecursionError:
        raise error(f"{display}: nested too deeply") from None


def load_yaml(path: str | os.PathLike, display: str | None = None,
              error: Type[GlobalFitError] = ConfigError, max_bytes: int = MAX_BYTES) -> Any:
    """Read and parse the YAML file ``path`` safely (see the module docstring); raises
    ``error`` (ConfigError for configs, DataFileError for data files) with one line."""
    display = display or str(path)
    data = read_bounded(Path(path), display, error, max_bytes)
    return parse_yaml(decode_utf8(data, display, error), display, error)
