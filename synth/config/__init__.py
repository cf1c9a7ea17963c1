"""Run configuration: the strict model and its YAML loader."""

from synth.config.load import config_hash, config_json_schema, load_config, parse_config
from synth.config.model import RunConfig

__all__ = ["RunConfig", "config_hash", "config_json_schema", "load_config", "parse_config"]
