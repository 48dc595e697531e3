"""Test doubles shared by test modules: `llm_server` is a fake OpenAI/Anthropic HTTP server (see its docstring)."""
