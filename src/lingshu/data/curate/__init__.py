"""Data curation: typed YAML recipes of registered ops, run by a registered executor.

    from lingshu.data.curate import load_recipe, run_recipe
    result = run_recipe(load_recipe("demo", ["output.dir=/tmp/demo"]))

Registries (each listable with ``lingshu data <name>``): ``OPS`` (ops/), ``READERS``
(readers.py), ``EXECUTORS`` (executors.py); shipped recipes in ``recipes/``. See
docs/curation.md.
"""

from lingshu.data.curate.executors import EXECUTORS, Executor, register_executor
from lingshu.data.curate.readers import READERS, register_reader
from lingshu.data.curate.recipe import (
    Recipe,
    load_recipe,
    parse_recipe,
    resolve_recipe,
    shipped_recipes,
)
from lingshu.data.curate.record import Record
from lingshu.data.curate.runner import RunResult, run_recipe

__all__ = [
    "EXECUTORS",
    "READERS",
    "Executor",
    "Recipe",
    "Record",
    "RunResult",
    "load_recipe",
    "parse_recipe",
    "register_executor",
    "register_reader",
    "resolve_recipe",
    "run_recipe",
    "shipped_recipes",
]
