"""Published results shipped with the library, for side-by-side reports.

The thesis behind the central study (``studies.md`` section 1) published its results as
tables; :func:`thesis_tables` returns them as data, with their citation. They are facts to
compare a reproduction with, never inputs of a computation.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["thesis_tables"]


@lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data", "thesis_tables.json").read_text()
    return json.loads(text)


def thesis_tables() -> dict[str, Any]:
    """The thesis' Tables 3.2 and 3.3 (and where Tables B.1-B.3 are), with the citation.

    Returns
    -------
    dict
        ``citation``, ``note``, ``table_3_2``, ``table_3_3`` (``columns``: the optimizers;
        ``rows``: test codes such as ``NN3A`` -> one ``{"loss", "converged_step"}`` per
        column), ``tables_B1_B3``. A fresh copy: changing it changes nothing shipped.
    """
    return json.loads(json.dumps(_load()))
