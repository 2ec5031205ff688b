"""A loopback OpenID Connect provider for tests: discovery, an authorize endpoint that signs in whoever
`user_email` names (no login page), a token endpoint that checks the client secret and the PKCE verifier,
and RS256 ID tokens published through a JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "wepos-console"
CLIENT_SECRET = "loopback-client-secret-0123456789"


class OidcStandIn:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.user_email = "agent@crumb.example"
        self.email_verified = True
        self.audience = CLIENT_ID  # set to something else to mint tokens for another client
        self.signing_key: Any = self.key  # set to another key to mint forged tokens
        self._codes: dict[str, dict[str, str]] = {}
        self.token_requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif parts.path == "/jwks":
                    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider.key.public_key()))
                    self._json(200, {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})
                elif parts.path == "/authorize":
                    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
                    assert query["code_challenge_method"] == "S256"
                    code = secrets.token_urlsafe(16)
                    provider._codes[code] = query
                    back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                    self.send_response(302)
                    self.send_header("Location", back)
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.token_requests += 1
                asked = provider._codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
                if (
                    asked is None
                    or form.get("client_secret") != CLIENT_SECRET
                    or form.get("redirect_uri") != asked["redirect_uri"]
                    or challenge.decode() != asked["code_challenge"]
                ):
                    self._json(400, {"error": "invalid_grant"})
                    return
                self._json(200, {"id_token": provider.id_token(asked["nonce"]), "token_type": "Bearer"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "user-42",
            "aud": self.audience,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": self.user_email,
            "email_verified": self.email_verified,
        }
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": "k1"})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
