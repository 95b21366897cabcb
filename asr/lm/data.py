"""Training text for the language model: no validation or test material.

Two sources, both from the training side of the corpus's partitions:

1. the ``train`` split's transcripts (read from the built corpus);
2. requests sampled from the template grammar (:mod:`asr.data.grammar`) for
   simulated users whose contacts and devices come from the TRAIN name pool
   of :mod:`asr.data.names` only (the validation and test pools hold disjoint
   name words, so the LM never sees a test or validation name).

Validation transcripts are read only to measure perplexity (never trained on).
"""

import numpy as np

from asr.data import corpus as corpus_lib
from asr.data import grammar
from asr.data import sources


def split_transcripts(spec: str, data_dir: str, limit: int | None = None) -> list[str]:
  """Normalized transcripts of a source (tfds spec or manifest)."""
  src = sources.open_source(spec, data_dir)
  n = len(src) if limit is None else min(limit, len(src))
  return [src[i]["text"] for i in range(n)]


def grammar_sentences(num: int, num_users: int, seed: int, pool: str = "train") -> list[str]:
  """``num`` requests from the template grammar for ``num_users`` users drawn from ``pool``.

  Users are drawn as the corpus draws them (4-30 contacts, 3-14 devices) but
  with this function's own generator, so they are not the corpus's users.
  """
  if pool != "train":
    raise ValueError(f"the LM trains on the train name pool only, got pool={pool!r}")
  names = corpus_lib._pools()[pool]  # pylint: disable=protected-access
  rng = np.random.default_rng((seed, 7919))
  users = []
  for _ in range(max(1, num_users)):
    nc, nd = int(rng.integers(4, 31)), int(rng.integers(3, 15))
    contacts = [corpus_lib._sample_contact(rng, names) for _ in range(nc)]  # pylint: disable=protected-access
    devices = [corpus_lib._sample_device(rng, names) for _ in range(nd)]  # pylint: disable=protected-access
    users.append((contacts, devices))
  out = []
  for _ in range(num):
    contacts, devices = users[int(rng.integers(len(users)))]
    out.append(grammar.sample_request(rng, contacts, devices).text)
  return out


def training_texts(corpus: str, data_dir: str, grammar_samples: int, grammar_users: int,
                   seed: int, train_limit: int | None = None) -> list[str]:
  """Training transcripts of ``corpus`` followed by grammar samples (train pool)."""
  texts = split_transcripts(f"tfds:voice_assistant/{corpus}:train", data_dir, train_limit)
  return texts + grammar_sentences(grammar_samples, grammar_users, seed)
