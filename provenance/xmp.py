"""Reading XMP packets: properties by prefixed name, arrays, language alternatives, edit history.

Parsed with defusedxml: XMP in a leaked file is untrusted XML (entity expansion,
external entities), and a malformed packet is reported, not fatal.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from PIL import Image

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

NAMESPACES = {
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
}

_HISTORY_FIELDS = {
    "action": "action",
    "when": "when",
    "softwareAgent": "software_agent",
    "changed": "changed",
    "instanceID": "instance_id",
    "parameters": "parameters",
}


def _qname(prefixed: str) -> str:
    prefix, local = prefixed.split(":", 1)
    return f"{{{NAMESPACES[prefix]}}}{local}"


class XmpPacket:
    """The top-level properties of one XMP packet."""

    def __init__(self, properties: dict[str, Any]) -> None:
        self.properties = properties

    @classmethod
    def parse(cls, packet: bytes | str) -> XmpPacket:
        """Parse a packet; raises ValueError (with the parser's reason) when it is not XML."""
        if isinstance(packet, str):
            packet = packet.encode("utf-8", errors="replace")
        packet = packet.strip(b"\x00 \t\r\n")
        try:
            root = SafeET.fromstring(packet)
        except Exception as exc:  # ParseError and defusedxml's forbidden-construct errors
            raise ValueError(f"malformed XMP packet: {exc}") from exc
        properties: dict[str, Any] = {}
        rdf_tag = f"{{{RDF}}}RDF"
        for rdf in [root] if root.tag == rdf_tag else root.iter(rdf_tag):
            for description in rdf:
                if description.tag == f"{{{RDF}}}Description":
                    properties.update(_struct(description))
        return cls(properties)

    def get(self, prefixed: str) -> Any:
        """A property's value as text (first item of an array, x-default of a language alternative)."""
        value = self.properties.get(_qname(prefixed))
        if isinstance(value, dict) and "_alt" in value:
            return value["_alt"].get("x-default") or next(iter(value["_alt"].values()), None)
        if isinstance(value, list):
            texts = [v for v in value if isinstance(v, str)]
            return "; ".join(texts) if texts else None
        return value if isinstance(value, str) else None

    def get_list(self, prefixed: str) -> list[str]:
        """A property's items as a list of text (a single value becomes a one-item list)."""
        value = self.properties.get(_qname(prefixed))
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str)]
        return [value] if isinstance(value, str) else []

    def history(self) -> list[dict[str, str]]:
        """The xmpMM:History events, oldest first, with snake_case keys."""
        events = self.properties.get(_qname("xmpMM:History"))
        if not isinstance(events, list):
            return []
        out = []
        for event in events:
            if not isinstance(event, dict):
                continue
            entry = {}
            for local, key in _HISTORY_FIELDS.items():
                value = event.get(f"{{{NAMESPACES['stEvt']}}}{local}")
                if isinstance(value, str) and value.strip():
                    entry[key] = value.strip()
            if entry:
                out.append(entry)
        return out


def _struct(element: Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in element.attrib.items():
        if not name.startswith(f"{{{RDF}}}") and name != XML_LANG:
            out[name] = value
    for child in element:
        out[child.tag] = _value(child)
    return out


def _value(element: Element) -> Any:
    resource = element.get(f"{{{RDF}}}resource")
    if resource is not None:
        return resource
    for container in element:
        if container.tag in (f"{{{RDF}}}Seq", f"{{{RDF}}}Bag"):
            return [_value(li) for li in container if li.tag == f"{{{RDF}}}li"]
        if container.tag == f"{{{RDF}}}Alt":
            alternatives = {}
            for li in container:
                if li.tag == f"{{{RDF}}}li":
                    alternatives[li.get(XML_LANG, "x-default")] = (li.text or "").strip()
            return {"_alt": alternatives}
        if container.tag == f"{{{RDF}}}Description":
            return _struct(container)
    if element.get(f"{{{RDF}}}parseType") == "Resource" or (len(element) and not (element.text or "").strip()):
        return _struct(element)
    attributes = {k: v for k, v in element.attrib.items() if not k.startswith(f"{{{RDF}}}") and k != XML_LANG}
    if attributes:  # a structure written as attributes of the property element
        return attributes
    return (element.text or "").strip()


def xmp_packet_bytes(im: Image.Image) -> bytes | None:
    """The raw XMP packet Pillow (or pillow-heif) found in the file, if any."""
    for key in ("xmp", "XML:com.adobe.xmp"):
        value = im.info.get(key)
        if value:
            return value if isinstance(value, bytes) else str(value).encode("utf-8", errors="replace")
    tag = getattr(im, "tag_v2", None)  # TIFF: tag 700
    if tag is not None:
        try:
            value = tag.get(700)
        except Exception:  # noqa: BLE001 - a damaged TIFF tag: no XMP from it
            value = None
        if value:
            return value if isinstance(value, bytes) else str(value).encode("utf-8", errors="replace")
    return None


def scan_xmp(data: bytes) -> bytes | None:
    """An XMP packet found by scanning the bytes, as the XMP specification allows for formats
    a reader does not know (GIF application extensions, damaged containers)."""
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start)
    return data[start : end + len(b"</x:xmpmeta>")] if end >= 0 else None
