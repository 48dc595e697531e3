"""The Model protocol, its message types, and `get_model` to build a provider from settings."""

from alphalab.models.base import (
    ImagePart,
    Message,
    Model,
    ModelResponse,
    ProviderError,
    ToolCall,
    ToolSpec,
    TransientProviderError,
    Usage,
)
from alphalab.models.registry import get_model
from alphalab.models.retry import RetryPolicy

__all__ = [
    "ImagePart",
    "Message",
    "Model",
    "ModelResponse",
    "ProviderError",
    "RetryPolicy",
    "ToolCall",
    "ToolSpec",
    "TransientProviderError",
    "Usage",
    "get_model",
]
