"""The ``llm`` generator: SynLLM-style prompting with schema-constrained decoding (see generator.py)."""

from synth.generators.llm.generator import LLMGenerator

__all__ = ["LLMGenerator"]
