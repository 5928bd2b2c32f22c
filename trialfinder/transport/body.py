"""Reading one answer's body within a size cap, as it streams in.

A registry that answers far more than any real page (a runaway export, a
misconfigured proxy, a gzip bomb) must not be able to fill the memory. So the
body is never read whole first: each chunk is counted as it arrives, both the
bytes on the wire and the bytes after inflating, and reading stops at the cap.
Inflating is done here, with ``zlib``'s ``max_length``, so that a small
compressed chunk can never expand past the cap inside a library before the
count sees it.
"""

from __future__ import annotations

import zlib

from trialfinder.transport import AnswerTooLargeError, UnreadableAnswerError

# What this reader can inflate; a transport that inflates itself asks for no less.
ACCEPT_ENCODING = "gzip, deflate"
_AUTO_HEADER = 32 + zlib.MAX_WBITS  # zlib or gzip, told apart by the header


class BodyReader:
    """Collects a body of at most ``limit`` bytes (wire and inflated alike).

    ``content_encoding`` is the answer's Content-Encoding: gzip and deflate are
    inflated here; none (or identity) is taken as it is; anything else is an
    answer we did not ask for and cannot read.
    """

    def __init__(self, limit: int, content_encoding: str | None = None) -> None:
        self.limit = limit
        self.wire_bytes = 0
        self.body = bytearray()
        encoding = (content_encoding or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._inflater = zlib.decompressobj(_AUTO_HEADER)
        elif encoding in ("identity", ""):
            self._inflater = None
        else:
            raise UnreadableAnswerError(f"answered in an encoding we did not ask for ({encoding})")

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk from the wire; raise ``AnswerTooLargeError`` past the cap."""
        self.wire_bytes += len(chunk)
        if self.wire_bytes > self.limit:
            raise AnswerTooLargeError(self.limit)
        if self._inflater is None:
            self._keep(chunk)
            return
        try:
            data = chunk
            while data:
                # Never more than one byte past the cap from any one call.
                room = self.limit - len(self.body) + 1
                self._keep(self._inflater.decompress(data, room))
                data = self._inflater.unconsumed_tail
        except zlib.error:
            raise UnreadableAnswerError("answered with a body that does not inflate") from None

    def finish(self) -> bytearray:
        """The whole body, once the wire has said it is complete."""
        if self._inflater is not None:
            try:
                self._keep(self._inflater.flush())
            except zlib.error:
                raise UnreadableAnswerError("answered with a body that does not inflate") from None
        return self.body

    def inflated(self, chunk: bytes) -> None:
        """Take a chunk a library has already inflated (curl): counted as both."""
        self.wire_bytes += len(chunk)
        self._keep(chunk)

    def _keep(self, data: bytes) -> None:
        if len(self.body) + len(data) > self.limit:
            raise AnswerTooLargeError(self.limit)
        self.body += data
