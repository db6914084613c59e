"""Scoring survey files: any survey export in, the same rows with posteriors out.

One job per module:

- :mod:`.dialect`  how a delimited text file is written (encoding, delimiter, decimal, header rows)
- :mod:`.readers`  every input format -> header + Arrow tables in chunks (rows out = rows in)
- :mod:`.mapping`  mapping files: survey columns and answers -> variables and states
- :mod:`.plan`     what to do with each input column, decided once from the header
- :mod:`.scoring`  one chunk: cells -> evidence -> the model's score columns
- :mod:`.workers`  chunks scored here, in worker processes that die with this one, or on Dask
- :mod:`.writers`  CSV / Parquet / .xlsx output, atomic, with the run's metadata
- :mod:`.summary`  counts by reason and triage level, posterior histograms
- :mod:`.report`   the HTML report of a run
- :mod:`.draft`    drafting and checking a mapping (``hipdx mapping draft|check``)
- :mod:`.driver`   a run from start to end (:class:`Job`, :func:`score_file`)
"""

from __future__ import annotations

from .driver import DEFAULT_CHUNK_ROWS, Job, score_file, score_file_dask
from .errors import BatchError
from .plan import SCORE_TAIL, Plan, make_plan
from .readers import ReadOptions, open_input
from .summary import Summary, error_reason, message_splitter
from .writers import OutputWriter, file_format, output_kind

__all__ = ["DEFAULT_CHUNK_ROWS", "SCORE_TAIL", "BatchError", "Job", "OutputWriter", "Plan", "ReadOptions", "Summary",
           "error_reason", "file_format", "make_plan", "message_splitter", "open_input", "output_kind", "score_file", "score_file_dask"]
