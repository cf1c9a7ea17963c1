"""Read a YAML config into a :class:`RunConfig`, with errors a person can act on."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from synth.config.model import RunConfig
from synth.config.strict_yaml import read_yaml
from synth.errors import ConfigError, did_you_mean

# `synth audit` takes its data from --real/--synthetic/--holdout: its config may omit `data:`.
AUDIT_DATA_SOURCE = "<--real>"

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
            got = repr(err.get("input"))
            got = got if len(got) <= 80 else got[:77] + "..."
            problems.append(f"{source}: key '{key}': {err['msg']} (got {got}).")
    # Unknown keys first: they are the most common mistake and explain the rest.
    problems.sort(key=lambda p: "unknown key" not in p)
    return " ".join(problems)


def parse_config(raw: Any, source: str = "<config>", *, require_data: bool = True) -> RunConfig:
    """Validate an already-parsed YAML/dict tree into a RunConfig (env vars interpolated).

    With ``require_data=False`` (``synth audit``, whose data come from the command line)
    a config without a ``data`` section is valid.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be a mapping of sections (data, generator, ...), got {type(raw).__name__}.")
    if not require_data and raw.get("data") is None:
        raw = {**raw, "data": {"source": AUDIT_DATA_SOURCE}}
    raw = interpolate_env(raw, "", source)
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(path: str | Path, *, require_data: bool = True) -> RunConfig:
    """Read and validate the YAML config at ``path`` (see :func:`parse_config` for ``require_data``)."""
    path = Path(path)
    if not str(path).strip():
        raise ConfigError("The config path is empty. Pass the path of a YAML run config with --config.")
    if not path.exists():
        hint = did_you_mean(path.name, [p.name for p in path.parent.glob("*.y*ml")]) if path.parent.is_dir() else ""
        raise ConfigError(f"Config file '{path}' does not exist." + hint + " Pass the path of a YAML run config with --config.")
    return parse_config(read_yaml(path), str(path), require_data=require_data)


def config_hash(config: RunConfig) -> str:
    """sha256 of the config's canonical JSON (keys sorted, defaults filled in)."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of the run config (for `synth config schema`)."""
    return RunConfig.model_json_schema()
