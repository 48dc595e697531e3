"""ModelSettings -> a Model. Provider modules are imported on demand: each pulls in its SDK."""

from __future__ import annotations

from alphalab.config import ModelSettings
from alphalab.models.base import Model
from alphalab.models.retry import RetryPolicy


def get_model(settings: ModelSettings, *, retry: RetryPolicy | None = None) -> Model:
    """The Model for one role's settings. Baseline roles run no model, so asking for one is a bug."""
    if settings.provider == "openai":
        from alphalab.models.openai_provider import OpenAIModel

        return OpenAIModel(settings, retry=retry)
    if settings.provider == "anthropic":
        from alphalab.models.anthropic_provider import AnthropicModel

        return AnthropicModel(settings, retry=retry)
    if settings.provider == "openai-compatible":
        from alphalab.models.compat import OpenAICompatibleModel

        return OpenAICompatibleModel(settings, retry=retry)
    if settings.provider == "scripted":
        from alphalab.models.scripted import ScriptedModel

        if settings.script is None:
            raise ValueError("provider 'scripted' needs a `script` file")
        return ScriptedModel.from_file(settings.script)
    raise ValueError(f"provider {settings.provider!r} runs no model (baseline roles use their deterministic policy)")
