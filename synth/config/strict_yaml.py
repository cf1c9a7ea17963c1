"""Read a YAML config strictly and within bounds.

A config is small text written by a person, so anything else is refused before it costs
memory or time: files that are not regular files (a FIFO would block forever, a device
such as /dev/zero never ends), files over :data:`MAX_CONFIG_BYTES`, documents whose
aliases expand to more than :data:`MAX_EXPANDED_NODES` nodes (the "billion laughs"
alias bomb: a few lines that expand to billions), nesting deeper than :data:`MAX_DEPTH`,
recursive aliases, and a key given twice in one mapping (PyYAML silently keeps the last).
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from synth.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: a run config is a page or two
MAX_EXPANDED_NODES = 100_000  # nodes after every alias is expanded
MAX_DEPTH = 64


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with duplicate keys as errors."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[tuple[str, str], Any] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                first = seen[key]
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"the key '{key_node.value}' appears twice in one mapping (first at line {first.line + 1}); "
                    "keep one of them",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def check_regular_file(path: Path, what: str, max_bytes: int | None = None) -> int:
    """Raise :class:`ConfigError` unless ``path`` is a regular file (of at most ``max_bytes``); return its size."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"{what} '{path}' cannot be read: {exc.strerror or exc}.") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe, device or socket)"
        raise ConfigError(f"{what} '{path}' is {kind}: give the path of a YAML file.")
    if max_bytes is not None and st.st_size > max_bytes:
        raise ConfigError(
            f"{what} '{path}' is {st.st_size:,} bytes; a config is at most {max_bytes:,} bytes. "
            "Check that this is the config file and not a data file."
        )
    return st.st_size


def read_yaml(path: Path) -> Any:
    """Parse the YAML file at ``path`` within the module's bounds.

    Raises :class:`ConfigError` naming the file (and the line, for syntax errors and
    duplicate keys) for anything refused.
    """
    check_regular_file(path, "Config file", MAX_CONFIG_BYTES)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)  # the file may have grown since stat()
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"Config file '{path}' is over {MAX_CONFIG_BYTES:,} bytes; a config is a page or two.")
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file; a config is a YAML text file.") from None
    except OSError as exc:
        raise ConfigError(f"Config file '{path}' cannot be read: {exc.strerror or exc}.") from None
    loader = None
    try:
        loader = _Loader(text)  # its reader already refuses control characters
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, path)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}. "
                          "Fix it and run again.") from None
    except RecursionError:
        raise ConfigError(
            f"{path}: the YAML is nested too deeply (over {MAX_DEPTH} levels); a config is flat."
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_expansion(root: Node, path: Path) -> None:
    """Refuse recursive aliases, nesting deeper than MAX_DEPTH and more than MAX_EXPANDED_NODES nodes."""
    sizes: dict[int, int] = {}  # expanded size of each node already measured (aliases share nodes)
    open_nodes: set[int] = set()

    def size(node: Node, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if depth > MAX_DEPTH:
            raise ConfigError(f"{path}: the YAML is nested more than {MAX_DEPTH} levels deep; a config is flat.")
        if id(node) in open_nodes:
            raise ConfigError(f"{path}: an alias refers to a node that contains it (line {node.start_mark.line + 1}); "
                              "a config cannot be recursive.")
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, SequenceNode):
            children: list[Node] = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_EXPANDED_NODES:
                raise ConfigError(
                    f"{path}: the YAML expands to more than {MAX_EXPANDED_NODES:,} values once its aliases (*name) "
                    "are expanded; a config is a page or two. Remove the repeated aliases."
                )
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root, 0)
