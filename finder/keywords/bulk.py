"""A faster Whoosh writer for a new index (`sync.rebuild`): the same segment, written sooner.

Whoosh's `SegmentWriter` keeps every posting as a tuple, sorts them all at the end (spilling
sorted runs to disk past `limitmb`, then merging them), and while writing each posting
reads the document's field length back from the segment's files. Measured on the
benchmark's 92,068 groups, that sorting, spilling and reading was most of a rebuild.
Here postings are grouped by term as documents come (a rebuild adds them in order, so each
term's postings are already in document order): only the terms are sorted, nothing is
spilled, and the field lengths are read once per field. The files written are Whoosh's
own (same codec, same segment layout); `tests/test_keywords.py` checks that searches over
an index written this way score and rank as over one written by Whoosh's writer.

With `procs` > 1 (`new_index_writer`), Whoosh's multiprocess writer hands batches of
documents to that many processes, each writing a segment of its own this way; the segments
are not merged (a search reads each segment's postings anyway). On the benchmark's two
CPUs: about 3,000 groups/s in one process, 4,000-5,000 in two.

Only for a new, empty index: documents are added, never updated or deleted (`sync.sync`
uses Whoosh's writer for that).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.index import Index
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

_LENGTH_OF_BYTE = [byte_to_length(b) for b in range(256)]
BATCH = 500  # documents handed to a writing process at a time


class _TermPool:
    """Postings per (field, term), in the order added; the same interface as Whoosh's
    `PostingPool` for what `SegmentWriter` asks of it."""

    def __init__(self) -> None:
        self.terms: dict[tuple[str, bytes], tuple[array, array, list]] = {}
        self.fieldnames: set[str] = set()
        self._values: dict[bytes, bytes] = {}  # one copy of each encoded value (frequency)

    def add(self, item: tuple) -> None:
        fieldname, btext, docnum, weight, value = item
        postings = self.terms.get((fieldname, btext))
        if postings is None:
            postings = self.terms[(fieldname, btext)] = (array("I"), array("d"), [])
            self.fieldnames.add(fieldname)
        postings[0].append(docnum)
        postings[1].append(weight)
        postings[2].append(value if value is None else self._values.setdefault(value, value))

    def iter_postings(self) -> Iterator[tuple]:
        for key in sorted(self.terms):
            fieldname, btext = key
            docnums, weights, values = self.terms[key]
            for i, docnum in enumerate(docnums):
                yield fieldname, btext, docnum, weights[i], values[i]

    def cleanup(self) -> None:
        self.terms = {}


class _Lengths:
    """The new segment's field lengths, each field's read in one piece on first use."""

    def __init__(self, perdoc) -> None:
        self.perdoc = perdoc
        self.fields: dict[str, list[int]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        lengths = self.fields.get(fieldname)
        if lengths is None:
            lengths = self.fields[fieldname] = self._read(fieldname)
        return lengths[docnum] if lengths else default

    def _read(self, fieldname: str) -> list[int]:
        perdoc = self.perdoc
        name = _lenfield(fieldname)
        if not perdoc.has_column(name):
            return []
        column = perdoc.column_reader(name, LENGTHS_COLUMN)
        return [_LENGTH_OF_BYTE[b] for b in (column[d] for d in range(perdoc.doc_count_all()))]

    def close(self) -> None:
        self.perdoc.close()


class BulkWriter(SegmentWriter):
    """`SegmentWriter` for adding documents, in order, to a new index."""

    def __init__(self, ix, **kwargs) -> None:
        super().__init__(ix, **kwargs)
        if self.segments:
            raise ValueError("BulkWriter writes a new index only")
        self.pool = _TermPool()

    def _flush_segment(self) -> None:  # SegmentWriter's, with `_Lengths` for the reader
        self.perdocwriter.close()
        lengths = _Lengths(self.per_document_reader()) if self.codec.length_stats else None
        self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if lengths:
            lengths.close()


class _BulkTask(SubWriterTask):
    """A process of `_ParallelBulkWriter`: Whoosh's sub-writer, writing with BulkWriter."""

    def run(self) -> None:
        ix = self.storage.open_index(self.indexname)
        writer = self.writer = BulkWriter(ix, _lk=False)
        while (job := self.jobqueue.get()) is not None:
            self._process_file(*job)
        fieldnames = writer.pool.fieldnames
        segment = writer._finalize_segment()  # the parent's commit lists it, and cleans up
        self.resultqueue.put((None, fieldnames, segment), timeout=5)


class _ParallelBulkWriter(MpWriter):
    """Whoosh's multiprocess writer (one segment per process, not merged) whose processes
    write with BulkWriter."""

    def _new_task(self) -> _BulkTask:
        task = _BulkTask(self.storage, self.indexname, self.jobqueue, self.resultqueue,
                         self.subargs, True)
        self.tasks.append(task)
        task.start()
        return task

    def cancel(self) -> None:
        # MpWriter's cancel only flags its own copies of the tasks: stop the processes
        for task in self.tasks:
            task.terminate()
            task.join()
        SegmentWriter.cancel(self)


def new_index_writer(ix: Index, procs: int = 1) -> SegmentWriter:
    """A writer for a new, empty index, in `procs` processes. Check the index's document
    count after committing: a process that failed leaves its segment out."""
    if procs > 1:
        return _ParallelBulkWriter(ix, procs=procs, multisegment=True, batchsize=BATCH)
    return BulkWriter(ix)
