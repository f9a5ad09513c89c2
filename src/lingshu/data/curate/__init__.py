"""Data curation: typed YAML recipes of registered ops, run locally or on Ray.

    from lingshu.data.curate import load_recipe, run_recipe
    result = run_recipe(load_recipe("recipes/curation/medical-vqa.yaml"))

See docs/curation.md.
"""

from lingshu.data.curate.recipe import Recipe, load_recipe, parse_recipe
from lingshu.data.curate.record import Record
from lingshu.data.curate.runner import RunResult, run_recipe

__all__ = ["Recipe", "Record", "RunResult", "load_recipe", "parse_recipe", "run_recipe"]
