"""Read a YAML config into a :class:`RunConfig`, with errors a person can act on."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from synth.config.model import RunConfig
from synth.errors import ConfigError, did_you_mean

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate_env(value: Any, where: str, source: str) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of a parsed YAML tree."""
    if isinstance(value, dict):
        return {k: interpolate_env(v, f"{where}.{k}" if where else str(k), source) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_env(v, f"{where}[{i}]", source) for i, v in enumerate(value)]
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{source}: key '{where}' uses the environment variable ${{{name}}}, which is not set. "
                f"Set it (export {name}=...) or give a default with ${{{name}:-value}}."
            )

        return _ENV.sub(sub, value)
    return value


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the key at ``loc`` (for listing valid keys)."""
    model: Any = RunConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            continue  # a free-form mapping key (a column name, an audit name)
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        nxt = None
        for c in candidates:
            for inner in [c, *getattr(c, "__args__", ())]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    nxt = inner
        model = nxt
    return model


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One paragraph per problem: the file, the dotted key, what is wrong and the fix."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            owner = _model_at(loc)
            valid = list(owner.model_fields) if owner else []
            problems.append(
                f"{source}: unknown key '{key}'." + did_you_mean(str(loc[-1]), valid)
                + (f" Valid keys here: {', '.join(valid)}." if valid else "")
            )
        elif err["type"] == "missing":
            problems.append(f"{source}: required key '{key}' is missing.")
        else:
            problems.append(f"{source}: key '{key}': {err['msg']} (got {err.get('input')!r}).")
    # Unknown keys first: they are the most common mistake and explain the rest.
    problems.sort(key=lambda p: "unknown key" not in p)
    return " ".join(problems)


def parse_config(raw: Any, source: str = "<config>") -> RunConfig:
    """Validate an already-parsed YAML/dict tree into a RunConfig (env vars interpolated)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be a mapping of sections (data, generator, ...), got {type(raw).__name__}.")
    raw = interpolate_env(raw, "", source)
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate the YAML config at ``path``."""
    path = Path(path)
    if not path.is_file():
        hint = did_you_mean(path.name, [p.name for p in path.parent.glob("*.y*ml")]) if path.parent.is_dir() else ""
        raise ConfigError(f"Config file '{path}' does not exist." + hint + " Pass the path of a YAML run config with --config.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}. Fix the syntax and run again.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file; a config is a YAML text file.") from None
    return parse_config(raw, str(path))


def config_hash(config: RunConfig) -> str:
    """sha256 of the config's canonical JSON (keys sorted, defaults filled in)."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of the run config (for `synth config schema`)."""
    return RunConfig.model_json_schema()
