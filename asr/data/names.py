"""Name pools: person names from Faker's locales and household device names.

Names are the rare words the biasing work is about, so the pools are large
(about 20,000 first and 20,000 last names from Faker's Latin-script locales,
diacritics included) and partitioned *by word* into disjoint pools for the
train, validation and test splits: every name word of a test contact or device
is a word the training split never contains. The partition is a stable hash of
the normalized word, so it does not depend on the corpus seed.

Words that the request grammar uses elsewhere ("may", "rose", "light") are
removed from the name pools so that a name word is never also a common word.
"""

import functools
import hashlib
import importlib
import pkgutil
import re

from asr.data import text as text_lib

# Fraction of name words in each pool, by stable hash bucket (out of 100).
POOL_BUCKETS = {"train": (0, 80), "validation": (80, 90), "test": (90, 100)}

_NAME_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _bucket(word: str) -> int:
  return int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % 100


def pool_of(word: str) -> str:
  """The name pool ("train"/"validation"/"test") a normalized word belongs to."""
  b = _bucket(word)
  for pool, (lo, hi) in POOL_BUCKETS.items():
    if lo <= b < hi:
      return pool
  raise AssertionError(b)


@functools.cache
def _faker_names() -> tuple[dict[str, str], dict[str, str]]:
  """All single-word Latin-script first and last names in Faker.

  Returns two dicts normalized -> display spelling (the display spelling keeps
  diacritics: "zoe" -> "Zoë" when a locale spells it so).
  """
  import faker.providers.person as person  # pylint: disable=g-import-not-at-top
  first: dict[str, str] = {}
  last: dict[str, str] = {}
  locales = sorted(m.name for m in pkgutil.iter_modules(person.__path__))
  for loc in locales:
    provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
    for attrs, out in ((("first_names", "first_names_female",
                         "first_names_male"), first), (("last_names",), last)):
      for attr in attrs:
        values = provider.__dict__.get(attr)
        if values is None or isinstance(values, property):
          continue
        for display in values:
          if not isinstance(display, str):
            continue
          display = display.strip()
          norm = text_lib.normalize_transcript(display)
          if not _NAME_RE.fullmatch(norm) or len(norm) < 3:
            continue
          # Prefer a spelling with diacritics when one exists: it exercises
          # normalization and the TTS engines' letter-to-sound rules.
          if norm not in out or (text_lib.fold_accents(display) != display
                                 and text_lib.fold_accents(out[norm]) == out[norm]):
            out[norm] = display
  return first, last


# Device names: a modifier and a device noun. Nouns are common words shared by
# all splits; modifiers are partitioned by the same hash as person names, and
# owners ("Zoë's fan") come from the split's first-name pool.
DEVICE_NOUNS = (
    "lamp", "light", "lights", "fan", "heater", "plug", "switch", "speaker",
    "tv", "air conditioner", "humidifier", "purifier", "kettle", "coffee maker",
    "thermostat", "blinds", "curtains", "strip", "bulb", "fireplace",
    "sprinkler", "dehumidifier", "radiator", "outlet", "chandelier",
    "string lights", "night light", "lantern", "floor lamp", "vacuum")
DEVICE_MODIFIERS = (
    "reading", "aquarium", "porch", "desk", "ceiling", "bedside", "patio",
    "garage", "hallway", "attic", "basement", "nursery", "balcony", "pantry",
    "terrace", "veranda", "studio", "workshop", "greenhouse", "sunroom",
    "library", "cellar", "loft", "foyer", "gazebo", "shed", "conservatory",
    "mudroom", "den", "parlor", "boathouse", "cabin", "chalet", "orchard",
    "vestibule", "alcove", "closet", "cupola", "piazza", "courtyard",
    "aviary", "terrarium", "easel", "piano", "treehouse", "pergola",
    "driveway", "carport", "lanai", "arbor", "dormer", "galley", "rotunda",
    "solarium", "scullery", "atrium", "stairwell", "landing", "bunkbed",
    "vanity", "dresser", "credenza", "sideboard", "armoire", "ottoman",
    "hammock", "trellis", "fountain", "koi", "birdbath", "skylight",
    "mezzanine", "annex", "pavilion", "cottage", "bungalow", "grotto",
    "laundry", "sauna", "jacuzzi", "gym", "yoga", "crafting", "sewing",
    "gaming", "vinyl", "cactus", "bonsai", "orchid", "fern", "tulip",
    "lavender", "saffron", "amber", "cobalt", "emerald", "indigo", "crimson",
    "ivory", "mahogany", "walnut", "cedar", "birch", "willow", "maple",
    "juniper", "magnolia", "jasmine", "hibiscus", "sapphire", "topaz",
    "opal", "onyx", "quartz", "granite", "marble", "copper", "brass",
    "pewter", "zinc", "velvet", "linen", "tweed", "denim", "corduroy",
    "flannel", "satin", "wicker", "rattan", "bamboo", "teak", "oak",
    "pinewood", "driftwood", "cork", "slate", "terracotta", "porcelain")


def modifier_pool(modifier: str) -> str:
  return pool_of(modifier.split()[0])


@functools.cache
def name_pools(exclude_words: frozenset[str] = frozenset()) -> dict[str, dict]:
  """Partitioned name material.

  Args:
    exclude_words: common words (the grammar's vocabulary) that may not be names.

  Returns:
    {pool: {"first": [(norm, display)], "last": [...], "modifiers": [...]}}
    sorted for determinism.
  """
  first, last = _faker_names()
  pools = {p: {"first": [], "last": [], "modifiers": []} for p in POOL_BUCKETS}
  for source, key in ((first, "first"), (last, "last")):
    for norm in sorted(source):
      if norm in exclude_words:
        continue
      pools[pool_of(norm)][key].append((norm, source[norm]))
  for m in DEVICE_MODIFIERS:
    pools[modifier_pool(m)]["modifiers"].append(m)
  return pools
