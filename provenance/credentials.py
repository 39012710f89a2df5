"""Content Credentials (C2PA): what a file's embedded manifest says, read offline through c2pa-python.

The record's ``forensics.c2pa`` block gives the manifest's state (``absent``, ``valid``, ``trusted``,
``invalid``, ``unreadable``), who signed it, the claim generator, the actions and ingredients it
records, and every validation failure with c2pa-python's own explanation. Nothing is fetched: no
remote manifest, no OCSP; a manifest that lives only at a URL is ``unreadable`` with that reason.
``trusted`` is said only against trust anchors the user gives (``--c2pa-trust FILE``); without them
c2pa-python reports ``signingCredential.untrusted`` on every signed file, which here means "not
checked", not a failure.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from typing import Any

#: Pillow's format names and the MIME types c2pa-python reads
MIME_TYPES = {
    "JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff",
    "HEIF": "image/heif", "AVIF": "image/avif", "GIF": "image/gif", "JXL": "image/jxl", "DNG": "image/dng",
}  # fmt: skip
#: the code c2pa-python reports for a signer's certificate it has no trust anchor for
UNTRUSTED = "signingCredential.untrusted"
#: what every block says about how it was read
OFFLINE = "read offline: no remote manifest fetched, no certificate revocation (OCSP) checked"
#: the most actions and ingredients a block keeps (a hostile manifest can list millions)
MAX_ITEMS = 100
#: the longest text kept from any manifest field
MAX_TEXT = 500

#: a JPEG APP11 segment of JUMBF boxes (common identifier "JP"), or PNG's C2PA chunk
_JUMBF = re.compile(rb"\xff\xeb..JP|caBX", re.DOTALL)
_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_contexts = threading.local()


def trust_anchors(pem: str) -> str:
    """Check that ``pem`` holds PEM certificates and return it; raises ValueError naming what is wrong."""
    count = pem.count("-----BEGIN CERTIFICATE-----")
    if not count or count != pem.count("-----END CERTIFICATE-----"):
        raise ValueError("no PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)")
    return pem


def may_hold_manifest(data: bytes) -> bool:
    """Whether the bytes could carry a manifest: a JUMBF ``c2pa`` label or an XMP ``dcterms:provenance``
    reference. Files without either are ``absent`` without loading c2pa-python (most files)."""
    return b"c2pa" in data or b"dcterms:provenance" in data


def read_credentials(
    source: bytes | str, image_format: str | None, anchors: str = "", header_end: int | None = None
) -> dict[str, Any]:
    """The ``c2pa`` block of a file whose bytes (or, for a file too large to hold, path) are ``source``.

    ``header_end``: where a JPEG's metadata segments end (its first scan): a manifest and an XMP
    reference to one both sit before it, so only those bytes are searched for them."""
    if isinstance(source, bytes) and not may_hold_manifest(source[:header_end] if header_end else source):
        return _block("absent", anchors)
    mime = MIME_TYPES.get(image_format or "")
    if mime is None:
        if isinstance(source, bytes):
            return _block("unreadable", anchors, reason=f"c2pa-python does not read {image_format or 'this'} files")
        return _block("absent", anchors)
    try:
        import c2pa
    except ImportError:
        return _block("unreadable", anchors, reason="c2pa-python is not installed (pip install c2pa-python)")
    try:
        context = _context(c2pa, anchors)
        with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as stream:
            with c2pa.Reader(mime, stream, context=context) as reader:
                store = json.loads(reader.json())
                state = str(reader.get_validation_state() or "")
    except c2pa.C2paError.ManifestNotFound:
        if isinstance(source, bytes) and _JUMBF.search(source):
            return _block(
                "unreadable",
                anchors,
                reason="a JUMBF (C2PA) segment is present, but c2pa-python finds no manifest in it",
            )
        return _block("absent", anchors)
    except Exception as exc:  # noqa: BLE001 - c2pa-python's errors, and whatever a hostile manifest makes it raise
        return _block("unreadable", anchors, reason=_reason(exc))
    return _summary(store, state, anchors)


def _context(c2pa: Any, anchors: str) -> Any:
    """One c2pa Context per thread and trust bundle (settings are per context, not global)."""
    cache = getattr(_contexts, "by_anchors", None)
    if cache is None:
        cache = _contexts.by_anchors = {}
    if anchors not in cache:
        settings: dict[str, Any] = dict(_SETTINGS)
        if anchors:
            settings["trust"] = {"trust_anchors": anchors}
        cache[anchors] = c2pa.Context(c2pa.Settings.from_dict(settings))
    return cache[anchors]


def trust_summary(anchors: str) -> dict[str, Any]:
    """What a block says of the trust anchors it was checked against: their count, their SHA-256, in words."""
    if not anchors:
        return {
            "anchors": 0,
            "sha256": None,
            "note": "no trust anchors given (--c2pa-trust): the signer is not checked",
        }
    return {
        "anchors": anchors.count("-----BEGIN CERTIFICATE-----"),
        "sha256": hashlib.sha256(anchors.encode()).hexdigest(),
        "note": "the signer's certificate chain was checked against the trust anchors given",
    }


def _block(state: str, anchors: str, reason: str | None = None) -> dict[str, Any]:
    if state == "absent":
        return {"state": state, "reason": None}  # most files: kept short, it is in every record
    return {"state": state, "reason": reason, "offline": OFFLINE, "trust": trust_summary(anchors)}


def _summary(store: dict[str, Any], state: str, anchors: str) -> dict[str, Any]:
    manifests = _dict(store.get("manifests"))
    label = store.get("active_manifest")
    active = manifests.get(label) if isinstance(label, str) else None
    if not isinstance(active, dict):
        return _block("unreadable", anchors, reason="the manifest store names no active manifest")
    failures = _failures(store)
    if not anchors:
        failures = [f for f in failures if f["code"] != UNTRUSTED]
    state = state.lower()
    if state not in ("valid", "trusted", "invalid"):
        state = "invalid" if failures else "valid"
    if state == "trusted" and not anchors:
        state = "valid"  # c2pa-python's built-in trust list is not one the user gave
    signature = _dict(active.get("signature_info"))
    block = _block(state, anchors)
    block.update(
        {
            "manifests": len(manifests),
            "active_manifest": _text(label),
            "title": _text(active.get("title")),
            "claim_generator": _text(active.get("claim_generator") or _generator(active)),
            "signer": {
                "issuer": _text(signature.get("issuer")),
                "common_name": _text(signature.get("common_name")),
                "algorithm": _text(signature.get("alg")),
            },
            "signing_time": _text(signature.get("time")),
            "actions": _actions(active),
            "ingredients": _ingredients(active),
            "failures": failures,
        }
    )
    return block


def _generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info")
    if not isinstance(info, list):
        return None
    parts = [" ".join(str(i.get(k)) for k in ("name", "version") if i.get(k)) for i in info if isinstance(i, dict)]
    return "; ".join(p for p in parts if p) or None


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for assertion in _list(manifest.get("assertions")):
        if not isinstance(assertion, dict) or not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        data = _dict(assertion.get("data"))
        for action in _list(data.get("actions")):
            if not isinstance(action, dict) or len(out) >= MAX_ITEMS:
                continue
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = " ".join(str(agent.get(k)) for k in ("name", "version") if agent.get(k))
            parameters = _dict(action.get("parameters"))
            entry = {
                "action": _text(action.get("action")),
                "software_agent": _text(agent),
                "when": _text(action.get("when")),
                "digital_source_type": _text(action.get("digitalSourceType")),
                "description": _text(action.get("description") or parameters.get("description")),
            }
            out.append({k: v for k, v in entry.items() if v is not None})
    return out


def _ingredients(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    # the claim cites each ingredient assertion by hash in its actions' parameters
    hashes: dict[str, str] = {}
    for assertion in _list(manifest.get("assertions")):
        data = _dict(assertion.get("data")) if isinstance(assertion, dict) else {}
        for action in _list(data.get("actions")):
            parameters = action.get("parameters") if isinstance(action, dict) else None
            cited = parameters.get("ingredient") if isinstance(parameters, dict) else None
            if isinstance(cited, dict) and isinstance(cited.get("url"), str):
                hashes[cited["url"].rsplit("/", 1)[-1]] = str(cited.get("hash"))
    out = []
    for ingredient in _list(manifest.get("ingredients"))[:MAX_ITEMS]:
        if not isinstance(ingredient, dict):
            continue
        entry = {
            "title": _text(ingredient.get("title")),
            "format": _text(ingredient.get("format")),
            "relationship": _text(ingredient.get("relationship")),
            "instance_id": _text(ingredient.get("instance_id")),
            "document_id": _text(ingredient.get("document_id")),
            "manifest": _text(ingredient.get("active_manifest")),
            "hash": _text(hashes.get(str(ingredient.get("label")))),
        }
        out.append({k: v for k, v in entry.items() if v is not None})
    return out


def _failures(store: dict[str, Any]) -> list[dict[str, Any]]:
    """Every failure c2pa-python reports, the active manifest's and its ingredients', with its explanation."""
    results = store.get("validation_results") if isinstance(store.get("validation_results"), dict) else None
    out = []
    if results is not None:
        active = _dict(results.get("activeManifest"))
        out += [_status(s, None) for s in _list(active.get("failure"))]
        for delta in _list(results.get("ingredientDeltas")):
            if isinstance(delta, dict) and isinstance(delta.get("validationDeltas"), dict):
                where = _text(delta.get("ingredientAssertionURI"))
                out += [_status(s, where) for s in _list(delta["validationDeltas"].get("failure"))]
    else:
        out = [_status(s, None) for s in _list(store.get("validation_status"))]
    return [f for f in out if f["code"]][:MAX_ITEMS]


def _status(status: object, ingredient: str | None) -> dict[str, Any]:
    if not isinstance(status, dict):
        return {"code": None}
    entry = {"code": _text(status.get("code")), "explanation": _text(status.get("explanation"))}
    if ingredient:
        entry["ingredient"] = ingredient
    return entry


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(value: object) -> str | None:
    """A manifest value as bounded text (manifests are untrusted input)."""
    if value is None:
        return None
    text = _CONTROL.sub(" ", str(value))
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _reason(exc: BaseException) -> str:
    text = _text(exc) or type(exc).__name__
    url = re.search(r"remote manifests? from url (\S+)", text)
    if url or type(exc).__name__.endswith("RemoteManifest"):
        where = url.group(1) if url else "a URL"
        return f"the manifest is remote, at {where}, and provenance does not fetch it (offline)"
    if "prerelease" in text.lower():
        return "the manifest uses a pre-release C2PA format that c2pa-python does not validate"
    return f"c2pa-python could not read the manifest: {text}"
