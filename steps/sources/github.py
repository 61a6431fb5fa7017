"""GitHub REST client for an organisation's READMEs: pagination, token, rate limits."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from steps.config import get_credentials
from steps.errors import DregError

API_VERSION = "2022-11-28"


@dataclass
class GitHubClient:
    """Minimal client for the endpoints the readmes pipeline calls."""

    api_url: str
    max_rate_limit_wait_s: float = 60.0

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION})
        token = get_credentials().github_token
        if token:
            self.session.headers["Authorization"] = f"Bearer {token.get_secret_value()}"

    def get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response | None:
        """GET with rate-limit handling; None for 404."""
        full = url if url.startswith("http") else f"{self.api_url.rstrip('/')}/{url.lstrip('/')}"
        while True:
            try:
                resp = self.session.get(full, params=params, timeout=(10, 60))
            except requests.RequestException as exc:
                raise DregError(f"cannot reach GitHub API at {self.api_url}: {type(exc).__name__}",
                                "check the network or api_url in params.yaml") from None
            if resp.status_code == 404:
                return None
            if resp.status_code in (403, 429) and self._rate_limited(resp):
                self._wait_for_reset(resp)
                continue
            if resp.status_code >= 400:
                raise DregError(f"GitHub API {full} answered HTTP {resp.status_code}",
                                "check org_name and GITHUB_TOKEN permissions")
            return resp

    @staticmethod
    def _rate_limited(resp: requests.Response) -> bool:
        return resp.headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in resp.headers

    def _wait_for_reset(self, resp: requests.Response) -> None:
        if "Retry-After" in resp.headers:
            wait = float(resp.headers["Retry-After"])
        else:
            wait = max(0.0, float(resp.headers.get("X-RateLimit-Reset", "0")) - time.time()) + 1
        if wait > self.max_rate_limit_wait_s:
            reset = time.strftime("%H:%M:%S UTC", time.gmtime(time.time() + wait))
            raise DregError(f"GitHub rate limit exhausted until {reset}",
                            "set GITHUB_TOKEN for a higher limit, or raise max_rate_limit_wait_s")
        time.sleep(wait)

    def org_repos(self, org: str, per_page: int = 100) -> Iterator[dict[str, Any]]:
        """Every public repository of `org`, following `Link: rel="next"` pagination."""
        resp = self.get(f"orgs/{org}/repos", {"type": "public", "per_page": per_page, "sort": "full_name"})
        if resp is None:
            raise DregError(f"GitHub organisation '{org}' not found", "check org_name in params.yaml")
        while resp is not None:
            yield from resp.json()
            nxt = resp.links.get("next", {}).get("url")
            resp = self.get(nxt) if nxt else None

    def readme(self, owner: str, repo: str) -> tuple[dict[str, Any], bytes] | None:
        """The repository's README (API record and decoded bytes), or None if it has none."""
        resp = self.get(f"repos/{owner}/{repo}/readme")
        if resp is None:
            return None
        record = resp.json()
        if record.get("encoding") != "base64":
            raise DregError(f"{owner}/{repo}: unexpected README encoding {record.get('encoding')!r}", "report this")
        return record, base64.b64decode(record["content"])

    def last_commit(self, owner: str, repo: str, path: str, branch: str) -> str | None:
        """Sha of the latest commit on `branch` that touched `path`."""
        resp = self.get(f"repos/{owner}/{repo}/commits", {"path": path, "sha": branch, "per_page": 1})
        commits = resp.json() if resp is not None else []
        return commits[0]["sha"] if commits else None
