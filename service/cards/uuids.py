"""Random (version 4) uuids for cards, suggestions and request ids, read from the OS's random source a block at
a time.

``uuid.uuid4()`` asks the kernel for 16 bytes each time; a call needs four or five, and on the service's
virtual machines that system call cost more than building the card it named. The bytes are the same
``os.urandom`` bytes, taken 16 at a time from a block; a forked worker drops the block it inherited, so no
two processes hand out the same uuid.
"""

from __future__ import annotations

import os
import threading

BLOCK = 16 * 64  # 64 uuids per read
VERSION_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # the version nibble and the variant's two bits
VERSION_4 = (4 << 76) | (0x8000 << 48)  # version 4, variant RFC 4122


class UuidSource:
    """Thread-safe: gunicorn's threads share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._next = 0

    def __call__(self) -> str:
        """``str(uuid.uuid4())``: 8-4-4-4-12 hex digits."""
        digits = self.hex()
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def hex(self) -> str:
        """``uuid.uuid4().hex``: 32 hex digits. The version and variant bits are set as ``uuid.UUID(bytes=...,
        version=4)`` sets them, without building the UUID object (half the cost of a uuid)."""
        return f"{int.from_bytes(self.draw()) & VERSION_CLEAR | VERSION_4:032x}"

    def draw(self) -> bytes:
        """The next 16 random bytes."""
        with self._lock:
            if self._next >= len(self._block):
                self._block, self._next = os.urandom(BLOCK), 0
            start, self._next = self._next, self._next + 16
            return self._block[start : start + 16]

    def forget(self) -> None:
        """After a fork: the parent's unused bytes must not be the child's too."""
        self._lock = threading.Lock()  # a thread of the parent may have held it at the fork
        self._block, self._next = b"", 0


new_uuid = UuidSource()
os.register_at_fork(after_in_child=new_uuid.forget)
