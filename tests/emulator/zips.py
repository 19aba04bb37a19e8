"""Real zip files of an exact size, with their MD5, generated once into an on-disk cache.

Reuse: ``ZipContent(name, xml_member, xml, filler_member, size, cache_dir, when)`` describes a
zip (a small XML member, then a stored filler); ``.md5`` is its upper-case hex MD5, ``.path()``
the file in ``cache_dir`` (written on first use, atomically, with an ``.md5`` sidecar), and
``.chunks()`` its bytes in order. The same arguments give the same bytes in every process and
every emulator: a GEODES emulator serving a product the PEPS emulator also serves gets the same
file and the same MD5 from the shared cache. Nothing here knows HTTP.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import tempfile
import threading
import zlib
from collections.abc import Iterator
from datetime import datetime

GENERATOR_VERSION = "v1"  # part of cached zip names: bump when the zip layout changes

_FILLER_BLOCK = 1 << 20
_IN_MEMORY_MD5_LIMIT = 8 << 20  # above this, md5 comes from generating the cached file
_MD5_CACHE: dict[str, str] = {}  # cache file name -> md5, shared by every emulator of a process
_GENERATION_LOCKS: dict[str, threading.Lock] = {}
_GENERATION_GUARD = threading.Lock()
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_ZIP64_EXTRA = struct.Struct("<2H2Q")
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")


def default_cache_dir() -> str:
    """``$PEPS_EMULATOR_CACHE``, else a folder under the system temp dir."""
    return os.environ.get("PEPS_EMULATOR_CACHE") or os.path.join(tempfile.gettempdir(), "peps-emulator-cache")


def _member_records(
    name: bytes, crc: int, size: int, offset: int, dos: tuple[int, int], zip64: bool
) -> tuple[bytes, bytes]:
    """(local header, central directory entry) of one stored member that starts at ``offset``."""
    version = 45 if zip64 else 20
    field = 0xFFFFFFFF if zip64 else size
    extra = _ZIP64_EXTRA.pack(1, 16, size, size) if zip64 else b""
    sizes = (crc, field, field, len(name), len(extra))
    local = _LOCAL_HEADER.pack(b"PK\x03\x04", version, 0, 0, *dos, *sizes)
    central = _CENTRAL_HEADER.pack(b"PK\x01\x02", version, version, 0, 0, *dos, *sizes, 0, 0, 0, 0, offset)
    return local + name + extra, central + name + extra


class ZipContent:
    """A deterministic zip of exactly ``size`` bytes: a small XML member, then a stored filler.

    Everything is written with ``struct`` (stored members, no compression) so the size is
    exact and a 1 GiB file is a few thousand large writes. Zip64 records are used from 4 GiB.
    """

    def __init__(
        self,
        name: str,
        xml_member: str,
        xml: bytes,
        filler_member: str,
        size: int,
        cache_dir: str,
        when: datetime,
        zip64: bool | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self.cache_dir = cache_dir
        self._xml = xml
        self._names = (xml_member.encode(), filler_member.encode())
        self._dos_time = (
            (when.hour << 11) | (when.minute << 5) | (when.second // 2),
            (max(when.year, 1980) - 1980) << 9 | (when.month << 5) | when.day,
        )
        self._zip64 = size >= 0xFFFFFFFF if zip64 is None else zip64  # forced only by tests
        overhead = sum(_LOCAL_HEADER.size + _CENTRAL_HEADER.size + 2 * len(n) for n in self._names)
        overhead += _END_RECORD.size + len(xml)
        if self._zip64:
            overhead += 2 * _ZIP64_EXTRA.size + _ZIP64_END_RECORD.size + _ZIP64_LOCATOR.size
        self.filler_size = size - overhead
        if self.filler_size < 0:
            raise ValueError(
                f"size {size} is too small for a product zip of {name}: at least {overhead} bytes"
            )
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:150]
        tag = hashlib.md5(name.encode()).hexdigest()[:8]  # noqa: S324 - not for security
        layout = f"{GENERATOR_VERSION}z64" if self._zip64 and zip64 else GENERATOR_VERSION
        self.file_name = f"{safe}-{tag}-{size}-{layout}.zip"
        self._crc: tuple[int, int] | None = None

    @property
    def cache_path(self) -> str:
        return os.path.join(self.cache_dir, self.file_name)

    def _filler(self) -> tuple[bytes, int, int]:
        """The repeated filler block, how many whole blocks, and the tail length."""
        block = (
            hashlib.shake_256(self.name.encode()).digest(min(self.filler_size, _FILLER_BLOCK))
            if self.filler_size
            else b""
        )
        if not block:
            return b"", 0, 0
        full, tail = divmod(self.filler_size, len(block))
        return block, full, tail

    def _crcs(self) -> tuple[int, int]:
        if self._crc is None:
            block, full, tail = self._filler()
            crc = 0
            for _ in range(full):
                crc = zlib.crc32(block, crc)
            if tail:
                crc = zlib.crc32(block[:tail], crc)
            self._crc = (zlib.crc32(self._xml), crc)
        return self._crc

    def chunks(self) -> Iterator[bytes]:
        """The zip's bytes, in order."""
        (xml_name, filler_name), (crc_xml, crc_filler) = self._names, self._crcs()
        filler_len = self.filler_size
        local_xml, central_xml = _member_records(xml_name, crc_xml, len(self._xml), 0, self._dos_time, False)
        filler_offset = len(local_xml) + len(self._xml)
        local_filler, central_filler = _member_records(
            filler_name, crc_filler, filler_len, filler_offset, self._dos_time, self._zip64
        )
        yield local_xml + self._xml + local_filler
        block, full, tail = self._filler()
        for _ in range(full):
            yield block
        if tail:
            yield block[:tail]
        central = central_xml + central_filler
        central_offset = filler_offset + len(local_filler) + filler_len
        tail_records = b""
        if self._zip64:
            end64_offset = central_offset + len(central)
            tail_records = _ZIP64_END_RECORD.pack(
                b"PK\x06\x06", 44, 45, 45, 0, 0, 2, 2, len(central), central_offset
            ) + _ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, end64_offset, 1)
        offset_field = 0xFFFFFFFF if self._zip64 else central_offset
        yield (
            central
            + tail_records
            + _END_RECORD.pack(b"PK\x05\x06", 0, 0, 2, 2, len(central), offset_field, 0)
        )

    @property
    def md5(self) -> str:
        """Upper-case hex MD5 of the zip (computed once per process, or read from the cache)."""
        known = _MD5_CACHE.get(self.file_name)
        if known:
            return known
        if self.size > _IN_MEMORY_MD5_LIMIT:
            self.path()
            return _MD5_CACHE[self.file_name]
        _MD5_CACHE[self.file_name] = self._digest()
        return _MD5_CACHE[self.file_name]

    def _digest(self) -> str:
        digest = hashlib.md5()  # noqa: S324 - PEPS publishes MD5
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest().upper()

    def path(self) -> str:
        """The zip's file in the cache folder, generated on first use (atomically)."""
        target = self.cache_path
        with _GENERATION_GUARD:
            lock = _GENERATION_LOCKS.setdefault(target, threading.Lock())
        with lock:
            sidecar = target + ".md5"
            if os.path.exists(target) and os.path.getsize(target) == self.size and os.path.exists(sidecar):
                with open(sidecar) as handle:
                    _MD5_CACHE[self.file_name] = handle.read().strip()
                return target
            os.makedirs(self.cache_dir, exist_ok=True)
            self._crcs()  # computed once, before two threads walk the chunks
            digests: list[str] = []
            # Hashing and writing both release the GIL: in parallel, 1 GiB takes ~1.5 s, not 3.
            hasher = threading.Thread(target=lambda: digests.append(self._digest()), daemon=True)
            hasher.start()
            handle, temp = tempfile.mkstemp(prefix=".gen-", dir=self.cache_dir)
            try:
                with os.fdopen(handle, "wb") as out:
                    for chunk in self.chunks():
                        out.write(chunk)
                hasher.join()
                md5 = digests[0]
                with open(sidecar, "w") as side:
                    side.write(md5 + "\n")
                os.replace(temp, target)
            except BaseException:
                if os.path.exists(temp):
                    os.unlink(temp)
                raise
            _MD5_CACHE[self.file_name] = md5
            return target
