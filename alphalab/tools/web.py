"""web_search: the provider's own server-side search, an HTTP search API from the config, or a clear
"not configured" answer.

HTTP mode: a URL containing `{query}` is fetched with GET (e.g. SearXNG `https://host/search?q={query}&format=json`);
any other URL receives a POST of `{"query": ..., "max_results": ...}` (e.g. Tavily). The key named by
`api_key_env` is sent as a bearer token. Results are read from the usual JSON shapes (`results`, `web.results`,
`items`, `organic`), each with a title, a URL and a snippet.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote_plus

import httpx

from alphalab.tools.base import ToolContext, ToolError, tool

NOT_CONFIGURED = (
    "web search is not configured for this campaign (set `web_search.mode` to 'provider' or 'http' in the "
    "campaign YAML); continue with what you know and the files in the workspace"
)
HTTP_TIMEOUT_S = 30.0


def _result_list(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if not isinstance(data, dict):
        return []
    for key in ("results", "items", "organic", "organic_results"):
        if isinstance(data.get(key), list):
            return _result_list(data[key])
    if isinstance(data.get("web"), dict):
        return _result_list(data["web"])
    return []


def _first(r: dict[str, Any], *keys: str) -> str:
    return next((str(r[k]) for k in keys if r.get(k)), "")


def _http_search(url: str, api_key_env: str | None, query: str, max_results: int) -> str:
    headers = {"Accept": "application/json"}
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise ToolError(f"web search needs the API key in ${api_key_env}, which is not set")
        headers["Authorization"] = f"Bearer {key}"
    try:
        if "{query}" in url:
            resp = httpx.get(url.replace("{query}", quote_plus(query)), headers=headers, timeout=HTTP_TIMEOUT_S)
        else:
            resp = httpx.post(url, json={"query": query, "max_results": max_results}, headers=headers,
                              timeout=HTTP_TIMEOUT_S)
        resp.raise_for_status()
        data = resp.json()
    except (httpx.HTTPError, ValueError) as e:
        raise ToolError(f"web search request failed: {e}") from None
    results = _result_list(data)[:max_results]
    if not results:
        return f"no results for {query!r}"
    return "\n\n".join(
        f"{i}. {_first(r, 'title', 'name')}\n   {_first(r, 'url', 'link', 'href')}\n"
        f"   {_first(r, 'content', 'snippet', 'description', 'text', 'body')}"
        for i, r in enumerate(results, 1)
    )


@tool
def web_search(ctx: ToolContext, query: str, max_results: int = 5) -> str:
    """Search the web for papers, documentation and best practices. Returns titles, URLs and snippets.

    Args:
        query: what to search for.
        max_results: how many results to return (at most 20).
    """
    cfg = ctx.web_search
    mode = getattr(cfg, "mode", "none")
    if mode == "http":
        return _http_search(cfg.url, cfg.api_key_env, query, max(1, min(max_results, 20)))
    if mode == "provider":
        native = getattr(getattr(ctx.agent, "model", None), "native_web_search", None)
        if native is None:
            raise ToolError(
                "web_search mode 'provider' is set, but this role's model offers no server-side web search; "
                "use a provider that has one, or configure `web_search.mode: http` with a search API URL"
            )
        return native(query)
    return NOT_CONFIGURED
