"""A local stand-in for the GitHub REST API (the endpoints the readmes pipeline calls), in GitHub's format."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class FakeGitHub:
    """Serves `/orgs/{org}/repos` (Link pagination), `/repos/{org}/{repo}/readme` and `/commits`."""

    org: str = "OpenCloudHub"
    repos: dict[str, dict] = field(default_factory=dict)
    readmes: dict[str, bytes] = field(default_factory=dict)
    rate_limited_requests: int = 0
    rate_limit_reset_in: float = 1.0
    requests: list[str] = field(default_factory=list)
    auth_headers: list[str | None] = field(default_factory=list)

    def add_repo(self, name: str, readme: str | None, archived: bool = False, fork: bool = False) -> None:
        self.repos[name] = {"name": name, "full_name": f"{self.org}/{name}", "archived": archived, "fork": fork,
                            "default_branch": "main", "html_url": f"https://github.com/{self.org}/{name}",
                            "private": False}
        if readme is not None:
            self.readmes[name] = readme.encode()

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                fake.auth_headers.append(self.headers.get("Authorization"))
                if fake.rate_limited_requests > 0:
                    fake.rate_limited_requests -= 1
                    reset = int(time.time() + fake.rate_limit_reset_in)
                    self.reply(403, {"message": "API rate limit exceeded"},
                               {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
                    return
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                parts = url.path.strip("/").split("/")
                if parts[:1] == ["orgs"] and parts[2:] == ["repos"] and parts[1] == fake.org:
                    self.repo_page(int(query.get("page", 1)), int(query.get("per_page", 30)))
                elif parts[:1] == ["repos"] and len(parts) == 4 and parts[3] == "readme":
                    self.readme(parts[2])
                elif parts[:1] == ["repos"] and len(parts) == 4 and parts[3] == "commits":
                    content = fake.readmes.get(parts[2], b"")
                    self.reply(200, [{"sha": hashlib.sha1(b"commit" + content).hexdigest()}])
                else:
                    self.reply(404, {"message": "Not Found"})

            def repo_page(self, page: int, per_page: int) -> None:
                names = sorted(fake.repos)
                last = max(1, -(-len(names) // per_page))
                items = [fake.repos[n] for n in names[(page - 1) * per_page: page * per_page]]
                base = f"http://{self.headers['Host']}/orgs/{fake.org}/repos?per_page={per_page}"
                links = [f'<{base}&page={page + 1}>; rel="next"'] if page < last else []
                links.append(f'<{base}&page={last}>; rel="last"')
                self.reply(200, items, {"Link": ", ".join(links)})

            def readme(self, name: str) -> None:
                if name not in fake.readmes:
                    self.reply(404, {"message": "Not Found"})
                    return
                data = fake.readmes[name]
                sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                self.reply(200, {"name": "README.md", "path": "README.md", "sha": sha, "size": len(data),
                                 "encoding": "base64", "content": base64.encodebytes(data).decode(),
                                 "html_url": f"https://github.com/{fake.org}/{name}/blob/main/README.md"})

            def reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in {"X-RateLimit-Remaining": "4999", **(headers or {})}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
