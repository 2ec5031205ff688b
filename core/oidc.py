"""OpenID Connect, as a relying party: discovery, the authorization-code flow with PKCE, and ID tokens
checked against the provider's published keys (signature, issuer, audience, expiry, nonce)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from core.errors import Unauthenticated, WeposError

# Asymmetric algorithms only: a token signed with the client secret (HS256) could be minted by anyone
# who learns that secret, and "none" by anyone at all.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class ProviderError(WeposError):
    """The identity provider could not be reached or answered nonsense."""

    status_code = 502
    code = "identity_provider_error"


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]


@dataclass(frozen=True)
class Challenge:
    """What one sign-in attempt keeps server-side until the provider sends the browser back."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> Challenge:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48))

    @property
    def code_challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str


class OidcClient:
    """One provider, configured by issuer URL, client id and secret; discovery is fetched once and kept."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, *, timeout_s: float = 10.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self._timeout = timeout_s
        self._provider: Provider | None = None
        self._keys: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def provider(self) -> Provider:
        with self._lock:
            if self._provider is None:
                document = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
                try:
                    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
                    provider = Provider(
                        issuer=str(document["issuer"]).rstrip("/"),
                        authorization_endpoint=str(document["authorization_endpoint"]),
                        token_endpoint=str(document["token_endpoint"]),
                        jwks_uri=str(document["jwks_uri"]),
                        algorithms=tuple(a for a in offered if a in ALGORITHMS) or ("RS256",),
                    )
                except (KeyError, TypeError, AttributeError) as exc:
                    raise ProviderError("the identity provider's discovery document is incomplete") from exc
                if provider.issuer != self.issuer:
                    raise ProviderError("the identity provider names another issuer than the one configured")
                self._provider = provider
                self._keys = jwt.PyJWKClient(provider.jwks_uri, cache_keys=True, timeout=int(self._timeout))
            return self._provider

    def authorization_url(self, challenge: Challenge, redirect_uri: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid email",
            "state": challenge.state,
            "nonce": challenge.nonce,
            "code_challenge": challenge.code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.provider().authorization_endpoint}?{urlencode(query)}"

    def identity(self, code: str, challenge: Challenge, redirect_uri: str) -> Identity:
        """Trade the code for tokens and return who the verified ID token says signed in."""
        provider = self.provider()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "client_secret": self._secret,
            "code_verifier": challenge.verifier,
        }
        try:
            response = httpx.post(provider.token_endpoint, data=form, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise ProviderError("the identity provider could not be reached") from exc
        if response.status_code != 200:
            raise Unauthenticated("the identity provider refused the sign-in")
        try:
            id_token = str(response.json()["id_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError("the identity provider sent no ID token") from exc
        return self._verify(id_token, challenge.nonce, provider)

    def _verify(self, id_token: str, nonce: str, provider: Provider) -> Identity:
        assert self._keys is not None
        try:
            key = self._keys.get_signing_key_from_jwt(id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=list(provider.algorithms),
                audience=self.client_id,
                issuer=provider.issuer,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
                leeway=60,
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise ProviderError("the identity provider's keys could not be fetched") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the identity provider's token did not verify") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise Unauthenticated("the identity provider's token belongs to another sign-in")
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is False:
            raise Unauthenticated("the identity provider gave no verified e-mail address")
        return Identity(subject=str(claims["sub"]), email=email)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self._timeout)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderError("the identity provider's discovery document could not be read") from exc
        if not isinstance(document, dict):
            raise ProviderError("the identity provider's discovery document is not an object")
        return document
