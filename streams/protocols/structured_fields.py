"""The subset of RFC 8941 structured fields HTTP message signatures need: parse a dictionary, serialize items."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Token:
    """An sf-token (kept distinct from sf-string so it serializes back unquoted)."""

    value: str


BareItem = int | str | bytes | bool | Token
Params = tuple[tuple[str, BareItem], ...]

KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*")
INTEGER = re.compile(r"-?[0-9]{1,15}")
BYTES = re.compile(r":([A-Za-z0-9+/=]*):")
MAX_FIELD_CHARS = 8192


class StructuredFieldError(ValueError):
    """A header value is not a well-formed structured field."""


@dataclass(frozen=True, slots=True)
class Item:
    """A bare item with its parameters."""

    value: BareItem
    params: Params = ()


@dataclass(frozen=True, slots=True)
class InnerList:
    """A parenthesized list of items with the list's own parameters."""

    items: tuple[Item, ...]
    params: Params = ()


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_FIELD_CHARS:
            raise StructuredFieldError("field value too long")
        self.text = text.strip(" \t")
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise StructuredFieldError(f"expected {char!r} at offset {self.pos}")
        self.pos += 1

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.pos += 1

    def match(self, pattern: re.Pattern[str]) -> re.Match[str]:
        found = pattern.match(self.text, self.pos)
        if found is None:
            raise StructuredFieldError(f"unexpected character at offset {self.pos}")
        self.pos = found.end()
        return found

    def dictionary(self) -> dict[str, Item | InnerList]:
        members: dict[str, Item | InnerList] = {}
        while self.pos < len(self.text):
            key = self.match(KEY).group()
            if self.peek() == "=":
                self.pos += 1
                members[key] = self.inner_list() if self.peek() == "(" else Item(self.bare_item(), self.params())
            else:
                members[key] = Item(True, self.params())
            self.skip(" \t")
            if self.pos >= len(self.text):
                break
            self.expect(",")
            self.skip(" \t")
            if self.pos >= len(self.text):
                raise StructuredFieldError("trailing comma")
        return members

    def inner_list(self) -> InnerList:
        self.expect("(")
        items: list[Item] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self.params())
            items.append(Item(self.bare_item(), self.params()))
            if self.peek() not in (" ", ")"):
                raise StructuredFieldError(f"bad inner list at offset {self.pos}")

    def params(self) -> Params:
        params: list[tuple[str, BareItem]] = []
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.match(KEY).group()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params = [(k, v) for k, v in params if k != key]
            params.append((key, value))
        return tuple(params)

    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == '"':
            return self.string()
        if char == ":":
            try:
                return base64.b64decode(self.match(BYTES).group(1), validate=True)
            except binascii.Error:
                raise StructuredFieldError("bad base64 in byte sequence") from None
        if char == "?":
            self.pos += 1
            flag = self.peek()
            if flag not in ("0", "1"):
                raise StructuredFieldError("bad boolean")
            self.pos += 1
            return flag == "1"
        if char == "-" or char.isdigit():
            return int(self.match(INTEGER).group())
        return Token(self.match(TOKEN).group())

    def string(self) -> str:
        self.expect('"')
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise StructuredFieldError("unterminated string")
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                char = self.peek()
                if char not in ('"', "\\"):
                    raise StructuredFieldError("bad escape in string")
                self.pos += 1
            elif not " " <= char <= "~":
                raise StructuredFieldError("non-printable character in string")
            out.append(char)


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    """Parse an sf-dictionary header value (StructuredFieldError when malformed)."""
    return _Parser(text).dictionary()


def serialize_bare_item(value: BareItem) -> str:
    """RFC 8941 §4.1.3 serialization of one bare item."""
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Token):
        return value.value
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_params(params: Params) -> str:
    """`;key=value` per parameter (`;key` for boolean true)."""
    return "".join(f";{key}" if value is True else f";{key}={serialize_bare_item(value)}" for key, value in params)


def serialize_item(item: Item) -> str:
    """An item with its parameters."""
    return serialize_bare_item(item.value) + serialize_params(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    """An inner list with its parameters."""
    return "(" + " ".join(serialize_item(item) for item in inner.items) + ")" + serialize_params(inner.params)
